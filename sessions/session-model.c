/*
 * session-model.c — the model call of a turn: the request built from the
 * history (compacted first when it is over the threshold), streamed
 * through the http actor with a first-token deadline, its text passed on
 * as it arrives, retried with backoff on transient failures, and its
 * answer logged — or its tool calls started.
 */
#include "sessions/session-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"

#define MAX_ROUNDS 10

/* Sends the request built in s->req. */
int session_send_request(daimon_ctx *ctx, struct session *s)
{
	s->stream = daimon_llm_stream_new(s->cfg->provider);
	if (!(s->transfer = daimon_http_request(ctx, s->http, &s->req.http)))
		return -1;
	s->ttft_expired = 0;
	s->ttft_timer = daimon_timer_start(ctx, s->cfg->first_token_ms > 0 ? s->cfg->first_token_ms : 60000, 0);
	daimon_set_op(ctx, "waiting for the model");
	return 0;
}

/* Asks the model with the history as it stands (`retry`: the same call
 * again, after a failure that is worth retrying). */
int session_call_model(daimon_ctx *ctx, struct session *s, int retry)
{
	if (s->stream) { /* the usage of the round before */
		int64_t in = 0, out = 0, cached = 0;
		daimon_llm_stream_usage(s->stream, &in, &out, &cached);
		s->tokens_in += in, s->tokens_out += out;
	}
	daimon_llm_request_release(&s->req);
	daimon_llm_stream_free(s->stream);
	s->stream = NULL;
	if (!retry)
		s->attempts = 0;
	if (!retry && ++s->rounds > MAX_ROUNDS)
		return daimon_error("the model asked for tools %d times in one turn; stopped", MAX_ROUNDS);
	if (daimon_llm_build(&s->req, s->cfg, s->system, s->history, s->tools) < 0)
		return -1;
	if (!retry && s->compress_at && s->req.body.len / 4 > s->compress_at && s->req.body.len / 4 > s->compress_floor)
		return session_start_compaction(ctx, s);
	return session_send_request(ctx, s);
}

void session_on_chunk(daimon_ctx *ctx, struct session *s, const daimon_msg *m)
{
	const daimon_http_chunk *c = m->data;
	if (!s->stream || c->id != s->transfer)
		return;      /* from a call that was stopped or replaced */
	if (s->ttft_timer) { /* the answer has started */
		daimon_timer_cancel(ctx, s->ttft_timer);
		s->ttft_timer = 0;
	}
	daimon_llm_stream_feed(s->stream, c->data, c->len);
	daimon_buf delta = DAIMON_BUF_INIT;
	if (daimon_llm_stream_take_delta(s->stream, &delta))
		daimon_send(daimon_ctx_rt(ctx), s->asker, DAIMON_SESSION_DELTA, delta.ptr, delta.len);
	daimon_buf_release(&delta);
}

#define MAX_ATTEMPTS 4

/* Rate limits, server errors and connections that failed before any of
 * the answer arrived are retried with jittered exponential backoff, or
 * after Retry-After when the server says. Returns 1 if a retry is set. */
static int maybe_retry(daimon_ctx *ctx, struct session *s, const daimon_http_result *r)
{
	int transient = s->ttft_expired ? 1
			: r->curl_code  ? r->curl_code == 7 || r->curl_code == 28 || r->curl_code == 18 ||
						 r->curl_code == 52 || r->curl_code == 56
				       : r->status == 429 || r->status == 500 || r->status == 502 || r->status == 503 ||
						 r->status == 504 || r->status == 529;
	if (!transient || s->attempts >= MAX_ATTEMPTS || (s->stream && daimon_llm_stream_text(s->stream)[0]))
		return 0;                     /* text already streamed to the user is not asked for twice */
	int64_t delay = 500LL << s->attempts; /* 0.5, 1, 2, 4 s */
	delay += (int64_t)(daimon_mono_ns() % (uint64_t)(delay / 2 + 1)) - delay / 4;
	if (r->retry_after_ms >= 0)
		delay = r->retry_after_ms < 60000 ? r->retry_after_ms : 60000;
	s->attempts++;
	s->retry_timer = daimon_timer_start(ctx, delay, 0);
	daimon_set_op(ctx, "waiting to retry the model");
	return 1;
}

void session_on_done(daimon_ctx *ctx, struct session *s, const daimon_msg *m)
{
	const daimon_http_result *r = m->data;
	if (!s->stream || r->id != s->transfer)
		return; /* from a call that was stopped or replaced */
	s->transfer = 0;
	if (s->ttft_timer) {
		daimon_timer_cancel(ctx, s->ttft_timer);
		s->ttft_timer = 0;
	}
	if ((r->curl_code || r->status < 200 || r->status > 299) && maybe_retry(ctx, s, r))
		return;
	if (daimon_llm_stream_end(s->stream, s->cfg, r) < 0) {
		session_finish(ctx, s, -1, daimon_error_last()); /* a cut answer is not logged as an answer */
		return;
	}
	int64_t in = 0, out = 0, cached = 0;
	daimon_llm_stream_usage(s->stream, &in, &out, &cached);
	const cJSON *calls = daimon_llm_stream_tool_calls(s->stream);
	int ncalls = cJSON_GetArraySize(calls);
	int rc = session_append_message(s, "assistant", daimon_llm_stream_text(s->stream), calls, NULL);
	if (rc < 0 || !ncalls) {
		s->tokens_in += in, s->tokens_out += out;
		daimon_llm_stream_free(s->stream); /* counted */
		s->stream = NULL;
		session_finish(ctx, s, rc, rc < 0 ? daimon_error_last() : NULL);
		return;
	}
	/* The model asked for tools: they run side by side; the results are
	 * logged with the calls in one commit (pump), and the model is asked
	 * again. */
	session_start_calls(ctx, s, calls);
}
