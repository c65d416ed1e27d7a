/*
 * llm_call.c — see llm_call.h.
 */
#include "core/llm_call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/http.h"
#include "core/jsonutil.h"
#include "core/work.h"

struct call {
	daimon_aid http;
	const daimon_llm_config *cfg;
	daimon_llm_request req;
	daimon_llm_stream *stream;
	uint64_t ref, transfer, timer;
	long timeout_ms;
};

static int reply(daimon_ctx *ctx, struct call *c, int status, const char *text)
{
	daimon_job_reply(daimon_ctx_rt(ctx), 0, daimon_parent(ctx), c->ref, status, text, strlen(text));
	return DAIMON_EXIT_NORMAL;
}

static int call_init(daimon_ctx *ctx, void *state)
{
	struct call *c = state;
	if (!(c->transfer = daimon_http_request(ctx, c->http, &c->req.http)))
		return reply(ctx, c, -1, daimon_error_last());
	if (c->timeout_ms > 0)
		c->timer = daimon_timer_start(ctx, c->timeout_ms, 0);
	daimon_set_op(ctx, "waiting for the model");
	return DAIMON_CONTINUE;
}

static int call_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct call *c = state;
	if (m->type == DAIMON_MSG_HTTP_CHUNK) {
		const daimon_http_chunk *k = m->data;
		daimon_llm_stream_feed(c->stream, k->data, k->len);
		return DAIMON_CONTINUE;
	}
	if (m->type == DAIMON_MSG_TIMER && m->ref == c->timer) {
		char why[64];
		snprintf(why, sizeof(why), "the model did not answer within %.1f s", (double)c->timeout_ms / 1000);
		daimon_http_cancel(ctx, c->http, c->transfer);
		return reply(ctx, c, -1, why);
	}
	if (m->type != DAIMON_MSG_HTTP_DONE)
		return DAIMON_CONTINUE;
	if (daimon_llm_stream_end(c->stream, c->cfg, m->data) < 0)
		return reply(ctx, c, -1, daimon_error_last());
	return reply(ctx, c, 0, daimon_llm_stream_text(c->stream));
}

static int call_cancel(daimon_ctx *ctx, void *state)
{
	struct call *c = state;
	if (c->transfer)
		daimon_http_cancel(ctx, c->http, c->transfer);
	return DAIMON_EXIT_CANCELLED;
}

static void call_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)ctx, (void)reason;
	struct call *c = state;
	daimon_llm_request_release(&c->req);
	daimon_llm_stream_free(c->stream);
	free(c);
}

static const daimon_behaviour call_behaviour = {
	.name = "llm-call",
	.init = call_init,
	.handle = call_handle,
	.on_cancel = call_cancel,
	.terminate = call_terminate,
};

daimon_aid daimon_llm_call_spawn(daimon_ctx *ctx, daimon_aid http, const daimon_llm_config *cfg, const char *system,
				 const cJSON *messages, uint64_t ref, long timeout_ms)
{
	struct call *c = daimon_xcalloc(1, sizeof(*c));
	c->http = http;
	c->cfg = cfg;
	c->ref = ref;
	c->timeout_ms = timeout_ms;
	if (daimon_llm_build(&c->req, cfg, system, messages, NULL) < 0) {
		call_terminate(NULL, c, 0);
		return 0;
	}
	c->stream = daimon_llm_stream_new(cfg->provider);
	daimon_spawn_opts o = {.behaviour = &call_behaviour, .state = c, .flags = DAIMON_SPAWN_CHILD};
	daimon_aid id = daimon_spawn(daimon_ctx_rt(ctx), &o);
	if (!id)
		call_terminate(NULL, c, 0);
	return id;
}
