/*
 * session.c — the session actor itself: its behaviour table, the
 * dispatch of its messages to the pieces (session-int.h lists them),
 * start, cancel and terminate, and hibernation: an idle session keeps
 * only its settings and name in cold memory, and its history, prompt and
 * log come back from the disk at the next message.
 */
#include "sessions/session-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cold.h"
#include "core/error.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/port.h"
#include "core/timefmt.h"

void daimon_session_id_for_key(char out[DAIMON_ID_MAX + 1], const char *key)
{
	char prefix[32];
	size_t n = strcspn(key, ":");
	snprintf(prefix, sizeof(prefix), "%.*s", (int)(n < 20 ? n : 20), key);
	for (char *p = prefix; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			*p = '-';
	daimon_session_id_derived(out, prefix[0] ? prefix : "session", key);
}

static void session_terminate(daimon_ctx *ctx, void *state, int reason);

/* What a hibernated session keeps: its settings and its name; the rest
 * (history, prompt, tool list, the log) comes back from disk at wake. */
struct sleeping { /* in the runtime's cold memory (core/cold.h) */
	int asleep;
	daimon_mid_turn mid_turn;
	daimon_store *store;
	daimon_aid http;
	const daimon_llm_config *cfg;
	const daimon_tool *toolset;
	daimon_tools_live *tools_live;
	int tool_parallel, depth, head_messages, summarize;
	long tool_timeout_ms, idle_ms;
	size_t compress_at, compress_floor, tail_tokens;
	uint64_t summarized_seq;
	char key[];
};

static size_t sleeping_size(const char *key)
{
	return sizeof(struct sleeping) + strlen(key) + 1;
}

#define KEEP(f) z->f = s->f
#define BRING(f) s->f = z->f

static void *session_hibernate(daimon_ctx *ctx, void *state)
{
	struct session *s = state;
	size_t size = sleeping_size(s->key);
	struct sleeping *z = daimon_cold_alloc(daimon_rt_cold(daimon_ctx_rt(ctx)), size);
	z->asleep = 1;
	strcpy(z->key, s->key);
	KEEP(store), KEEP(http), KEEP(cfg), KEEP(toolset), KEEP(tools_live), KEEP(mid_turn), KEEP(tool_parallel);
	KEEP(depth), KEEP(head_messages), KEEP(summarize), KEEP(tool_timeout_ms), KEEP(idle_ms), KEEP(compress_at);
	KEEP(compress_floor), KEEP(tail_tokens), KEEP(summarized_seq);
	session_terminate(ctx, s, 0); /* the log is closed: it commits what a sync in flight had not */
	daimon_set_mem(ctx, size);
	daimon_set_state_label(ctx, "hibernated");
	return z;
}

static void *session_wake(daimon_ctx *ctx, void *state)
{
	struct sleeping *z = state;
	struct session *s = daimon_xcalloc(1, sizeof(*s));
	s->key = daimon_xstrdup(z->key);
	BRING(store), BRING(http), BRING(cfg), BRING(toolset), BRING(tools_live), BRING(mid_turn), BRING(tool_parallel);
	BRING(depth), BRING(head_messages), BRING(summarize), BRING(tool_timeout_ms), BRING(idle_ms), BRING(compress_at);
	BRING(compress_floor), BRING(tail_tokens), BRING(summarized_seq);
	daimon_cold_free(daimon_rt_cold(daimon_ctx_rt(ctx)), z, sleeping_size(z->key));
	daimon_session_id_for_key(s->id, s->key);
	daimon_set_state_label(ctx, NULL);
	if (session_open_log(s) < 0) /* the next turn says why */
		s->log = NULL;
	s->tools = daimon_tools_json(s->toolset, s->depth);
	s->system = session_system_prompt(s->store->home, s->key); /* a fresh snapshot of the curated files */
	daimon_set_mem(ctx, sizeof(*s));
	return s;
}

static void on_timer(daimon_ctx *ctx, struct session *s, const daimon_msg *m)
{
	struct call *c;
	if (m->ref == s->idle_timer) {
		s->idle_timer = 0;
		if (s->asker)
			return;
		if (s->cactor) { /* a summary still being written: later */
			s->idle_timer = daimon_timer_start(ctx, s->idle_ms > 0 ? s->idle_ms : 600000, 0);
			return;
		}
		if (s->summarize && session_start_summary(ctx, s) == 0) /* hibernates at the next idle timer */
			s->idle_timer = daimon_timer_start(ctx, s->idle_ms > 0 ? s->idle_ms : 600000, 0);
		else
			daimon_hibernate(ctx);
	} else if (m->ref == s->ttft_timer && s->transfer) { /* no answer started in time */
		s->ttft_timer = 0;
		s->ttft_expired = 1;
		daimon_http_cancel(ctx, s->http, s->transfer); /* its DONE takes the retry path */
	} else if (m->ref == s->retry_timer && s->asker) {
		s->retry_timer = 0;
		if (session_call_model(ctx, s, 1) < 0)
			session_finish(ctx, s, -1, daimon_error_last());
	} else if ((c = session_call_by_timer(s, m->ref))) {
		session_on_call_timeout(ctx, s, c);
	}
}

static int session_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct session *s = state;
	struct call *c;
	switch (m->type) {
	case DAIMON_SESSION_ASK:
	case DAIMON_SESSION_ASK_ONCE:
		session_on_ask(ctx, s, m);
		break;
	case DAIMON_SESSION_NEXT:
		if (!s->asker && s->queue) {
			struct pending *p = session_pending_pop(&s->queue);
			session_start_turn(ctx, s, p->asker, p->text, p->mid);
			session_pending_free(p);
		}
		break;
	case DAIMON_SESSION_SUMMARIZE:
		if (s->summary_asker || s->asker || s->cactor) {
			daimon_session_done d = {.status = DAIMON_EBUSY};
			snprintf(d.error, sizeof(d.error), "the session is busy");
			session_tell_done(ctx, m->from, &d);
		} else {
			s->summary_asker = m->from;
			int rc = (!s->log && session_open_log(s) < 0) ? -1 : session_start_summary(ctx, s);
			if (rc != 0)
				session_summary_told(ctx, s, rc < 0 ? -1 : 0, rc < 0 ? daimon_error_last() : "nothing new to summarize");
		}
		break;
	case DAIMON_SESSION_APPROVAL:
		session_on_approval(ctx, s, m);
		break;
	case DAIMON_SESSION_RESUME:
		session_on_resume(ctx, s);
		break;
	case DAIMON_SESSION_STOP:
		session_stop_turn(ctx, s, "stopped by the user", 0);
		session_drop_pending(ctx, s, &s->steer);
		session_drop_pending(ctx, s, &s->queue);
		break;
	case DAIMON_MSG_HTTP_CHUNK:
		session_on_chunk(ctx, s, m);
		break;
	case DAIMON_MSG_HTTP_DONE:
		session_on_done(ctx, s, m);
		break;
	case DAIMON_PORT_PROGRESS: { /* a port's progress, told to the asker as a line */
		const daimon_job_done *d = m->data;
		struct call *pc = session_call_by_ref(s, d->ref);
		cJSON *p = pc ? cJSON_Parse(d->text) : NULL;
		if (p) {
			const cJSON *total = cJSON_GetObjectItemCaseSensitive(p, "total");
			char line[256];
			session_progress_line(line, sizeof(line), pc->tool->name,
				      cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "progress")),
				      cJSON_IsNumber(total) ? total->valuedouble : 0, daimon_json_str(p, "message"));
			daimon_send(daimon_ctx_rt(ctx), s->asker, DAIMON_SESSION_PROGRESS, line, strlen(line));
		}
		cJSON_Delete(p);
		break;
	}
	case DAIMON_MSG_JOB_DONE:
		if (s->sync_ref && ((const daimon_job_done *)m->data)->ref == s->sync_ref)
			session_on_synced(ctx, s, m->data);
		else if (s->cref && ((const daimon_job_done *)m->data)->ref == s->cref)
			session_on_aside_done(ctx, s, m->data);
		else
			session_on_job_done(ctx, s, m);
		break;
	case DAIMON_MSG_DOWN:
		if ((c = session_call_by_monitor(s, m->ref)))
			session_on_call_down(ctx, s, c, m->arg);
		break;
	case DAIMON_MSG_TIMER:
		on_timer(ctx, s, m);
		break;
	}
	return DAIMON_CONTINUE;
}

/* Cancelled (its parent's subtree collapsing, a sub-agent's deadline): the
 * turn is stopped and logged as such, and the session exits. */
static int session_cancel(daimon_ctx *ctx, void *state)
{
	struct session *s = state;
	if (s->asleep) /* hibernated: nothing running, nothing to log */
		return DAIMON_EXIT_CANCELLED;
	session_stop_turn(ctx, s, "cancelled", 1);
	session_drop_pending(ctx, s, &s->steer);
	session_drop_pending(ctx, s, &s->queue);
	return DAIMON_EXIT_CANCELLED;
}

static void session_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)ctx, (void)reason;
	struct session *s = state;
	if (s->asleep) {
		struct sleeping *z = state;
		daimon_cold_free(daimon_rt_cold(daimon_ctx_rt(ctx)), z, sleeping_size(z->key));
		return;
	}
	for (int i = 0; i < s->ncalls; i++)
		daimon_job_cancel(s->calls[i].job);
	session_free_calls(s);
	daimon_job_release(s->sync_job);
	struct pending *p;
	while ((p = session_pending_pop(&s->queue)) || (p = session_pending_pop(&s->steer)))
		session_pending_free(p);
	daimon_log_close(s->log);
	cJSON_Delete(s->history);
	cJSON_Delete(s->tools);
	daimon_llm_stream_free(s->stream);
	daimon_llm_request_release(&s->req);
	free(s->system);
	free(s->key);
	free(s);
}

static const daimon_behaviour session_behaviour = {
	.name = "session",
	.handle = session_handle,
	.terminate = session_terminate,
	.on_cancel = session_cancel,
	.hibernate = session_hibernate,
	.wake = session_wake,
};

daimon_aid daimon_session_start(daimon_rt *rt, daimon_store *store, const char *key, daimon_aid http,
				const daimon_llm_config *cfg, const daimon_session_opts *opts)
{
	static const daimon_session_opts defaults = {0};
	if (!opts)
		opts = &defaults;
	struct session *s = daimon_xcalloc(1, sizeof(*s));
	s->store = store;
	s->key = daimon_xstrdup(key);
	s->http = http;
	s->cfg = cfg;
	s->idle_ms = opts->idle_ms;
	s->mid_turn = opts->mid_turn;
	s->toolset = opts->tools ? opts->tools : daimon_builtin_tools;
	s->tools_live = opts->tools_live;
	s->tool_parallel = opts->tool_parallel > 0 ? opts->tool_parallel : 4;
	s->tool_timeout_ms = opts->tool_timeout_ms > 0 ? opts->tool_timeout_ms : 120000;
	s->depth = opts->depth;
	s->compress_at = opts->context_window > 0 ? (size_t)((double)opts->context_window *
							     (opts->compress_threshold > 0 ? opts->compress_threshold : 0.5))
						  : 0;
	s->tail_tokens = opts->tail_tokens > 0 ? opts->tail_tokens : s->compress_at / 2;
	s->head_messages = opts->head_messages > 0 ? opts->head_messages : 2;
	s->summarize = opts->summarize;
	s->tools = daimon_tools_json(s->toolset, s->depth);
	daimon_session_id_for_key(s->id, key);
	if (session_open_log(s) < 0) {
		session_terminate(NULL, s, 0);
		return 0;
	}
	s->system = session_system_prompt(store->home, key);
	daimon_spawn_opts o = {
		.behaviour = &session_behaviour, .state = s, .flags = opts->child ? DAIMON_SPAWN_CHILD : 0};
	daimon_aid id = daimon_spawn(rt, &o);
	if (id)
		daimon_register(rt, key, id);
	else
		session_terminate(NULL, s, 0);
	return id;
}
