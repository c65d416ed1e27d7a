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
#include "memory/usage.h"

#define MAX_ROUNDS 10
/* Stream bytes the session may be behind before the transfer waits: a
 * server faster than the decoding (tiny deltas) costs this, not its
 * whole stream queued in the mailbox. */
#define STREAM_WINDOW (256 * 1024)

/* The model this call asks: the session's, or the fallback it moved to. */
static const daimon_llm_config *model_cfg(const struct session *s)
{
	return s->model.cfg ? s->model.cfg : s->set.cfg;
}

/* Sends the request built in s->model.req. */
int session_send_request(daimon_ctx *ctx, struct session *s)
{
	daimon_llm_limits lim = daimon_llm_limits_of(model_cfg(s));
	s->model.stream = daimon_llm_stream_new(model_cfg(s)->provider);
	daimon_llm_stream_limit(s->model.stream, lim.max_answer_bytes);
	s->model.req.http.window = STREAM_WINDOW;
	if (!(s->model.transfer = daimon_http_request(ctx, s->set.http, &s->model.req.http)))
		return -1;
	s->model.ttft_expired = s->model.idle_expired = s->model.bounded = 0;
	s->model.started_ms = daimon_mono_ms();
	s->model.ttft_timer = daimon_timer_start(ctx, lim.first_token_ms, 0);
	daimon_set_op(ctx, "waiting for the model");
	return 0;
}

/* Asks the model with the history as it stands (`retry`: the same call
 * again, after a failure that is worth retrying). */
int session_call_model(daimon_ctx *ctx, struct session *s, int retry)
{
	if (s->model.stream) { /* the usage of the round before */
		int64_t in = 0, out = 0, cached = 0;
		daimon_llm_stream_usage(s->model.stream, &in, &out, &cached);
		s->turn.tokens_in += in, s->turn.tokens_out += out;
	}
	daimon_llm_request_release(&s->model.req);
	daimon_llm_stream_free(s->model.stream);
	s->model.stream = NULL;
	if (!retry)
		s->model.attempts = 0;
	if (!retry && ++s->turn.rounds > MAX_ROUNDS)
		return daimon_error("the model asked for tools %d times in one turn; stopped", MAX_ROUNDS);
	cJSON *inlined = session_history_with_images(s, model_cfg(s));
	int rc = daimon_llm_build(&s->model.req, model_cfg(s), s->system, inlined ? inlined : s->history, s->tools);
	cJSON_Delete(inlined);
	if (rc < 0)
		return -1;
	if (!retry && s->set.compress_at && s->model.req.body.len / 4 > s->set.compress_at &&
	    s->model.req.body.len / 4 > s->keep.compress_floor)
		return session_start_compaction(ctx, s);
	return session_send_request(ctx, s);
}

void session_on_chunk(daimon_ctx *ctx, struct session *s, const daimon_msg *m)
{
	const daimon_http_chunk *c = m->data;
	if (!s->model.stream || c->id != s->model.transfer)
		return; /* from a call that was stopped or replaced */
	daimon_http_ack(ctx, s->set.http, c->id, c->len);
	if (s->model.ttft_timer) { /* the answer has started: from now on it must keep growing */
		daimon_timer_cancel(ctx, s->model.ttft_timer);
		s->model.ttft_timer = 0;
		long idle = daimon_llm_limits_of(model_cfg(s)).idle_ms;
		s->model.idle_mark = 0;
		s->model.idle_timer = daimon_timer_start(ctx, idle, idle);
	}
	if (daimon_llm_stream_feed(s->model.stream, c->data, c->len) < 0 &&
	    daimon_llm_stream_bounded(s->model.stream) && !s->model.bounded) {
		s->model.bounded = 1; /* past a bound: it ends here, not retried */
		daimon_http_cancel(ctx, s->set.http, s->model.transfer);
	}
	daimon_buf delta = DAIMON_BUF_INIT;
	if (daimon_llm_stream_take_thinking(s->model.stream, &delta))
		daimon_send(daimon_ctx_rt(ctx), s->turn.asker, DAIMON_SESSION_THINKING, delta.ptr, delta.len);
	daimon_buf_clear(&delta);
	if (daimon_llm_stream_take_delta(s->model.stream, &delta))
		daimon_send(daimon_ctx_rt(ctx), s->turn.asker, DAIMON_SESSION_DELTA, delta.ptr, delta.len);
	daimon_buf_release(&delta);
}

/* A tick of the idle timer: an answer that brought nothing new since the
 * last one (a server sending only keep-alives) is stopped. */
void session_on_idle_tick(daimon_ctx *ctx, struct session *s)
{
	size_t now = s->model.stream ? daimon_llm_stream_size(s->model.stream) : 0;
	if (now > s->model.idle_mark || !s->model.transfer) {
		s->model.idle_mark = now;
		return;
	}
	s->model.idle_expired = 1;
	daimon_timer_cancel(ctx, s->model.idle_timer);
	s->model.idle_timer = 0;
	daimon_http_cancel(ctx, s->set.http, s->model.transfer); /* its DONE says why */
}

/* Whether the call may be made again, or of another model: not when the
 * user already saw some of its answer (it is not asked for twice), nor
 * when a bound stopped it. */
static int repeatable(const struct session *s)
{
	return !s->model.idle_expired && !s->model.bounded &&
	       !(s->model.stream && daimon_llm_stream_text(s->model.stream)[0]);
}

/* Rate limits, server errors and connections that failed before any of
 * the answer arrived are retried with jittered exponential backoff, or
 * after Retry-After when the server says. Returns 1 if a retry is set. */
static int maybe_retry(daimon_ctx *ctx, struct session *s, const daimon_http_result *r)
{
	int transient = s->model.ttft_expired || daimon_http_transient(r);
	daimon_llm_limits lim = daimon_llm_limits_of(model_cfg(s));
	if (!transient || s->model.attempts >= lim.retries || !repeatable(s) ||
	    r->retry_after_ms > lim.max_retry_after_ms)
		return 0;
	int64_t delay = 500LL << s->model.attempts; /* 0.5, 1, 2, 4 s */
	delay += (int64_t)(daimon_mono_ns() % (uint64_t)(delay / 2 + 1)) - delay / 4;
	if (r->retry_after_ms >= 0)
		delay = r->retry_after_ms;
	s->model.attempts++;
	s->model.retry_timer = daimon_timer_start(ctx, delay, 0);
	daimon_set_op(ctx, "waiting to retry the model");
	/* whoever asked hears that it waits, and why */
	char why[160], line[256];
	if (s->model.ttft_expired)
		snprintf(why, sizeof(why), "no answer began in time");
	else if (r->curl_code)
		snprintf(why, sizeof(why), "%.150s", r->error);
	else
		snprintf(why, sizeof(why), "HTTP %ld%s", r->status, r->status == 429 ? ", rate limited" : "");
	snprintf(line, sizeof(line), "retrying in %.1f s: %s", (double)delay / 1000, why);
	daimon_send(daimon_ctx_rt(ctx), s->turn.asker, DAIMON_SESSION_WAITING, line, strlen(line));
	return 1;
}

/* A call that failed for good — unreachable, a server error or a rate
 * limit after the retries, no first token — before anything streamed goes
 * to the next model of model.fallbacks, said to whoever asked. Returns 1
 * if it did. */
static int fall_back(daimon_ctx *ctx, struct session *s, const daimon_http_result *r)
{
	const daimon_llm_config *next = model_cfg(s)->fallback;
	int worth = s->model.ttft_expired || daimon_http_transient(r) || r->status >= 500 || r->status == 429;
	if (!next || !worth || !repeatable(s))
		return 0;
	char line[300];
	if (r->curl_code)
		snprintf(line, sizeof(line), "falling back to %s/%s: %.150s", next->provider_name, next->model,
			 r->error);
	else
		snprintf(line, sizeof(line), "falling back to %s/%s: %s answered HTTP %ld", next->provider_name,
			 next->model, model_cfg(s)->provider_name ? model_cfg(s)->provider_name : "the model",
			 r->status);
	daimon_send(daimon_ctx_rt(ctx), s->turn.asker, DAIMON_SESSION_WAITING, line, strlen(line));
	s->model.cfg = next;
	s->model.attempts = 0;
	if (session_call_model(ctx, s, 1) < 0) /* (the same round, asked of the next model) */
		session_finish(ctx, s, -1, daimon_error_last());
	return 1;
}

void session_on_done(daimon_ctx *ctx, struct session *s, const daimon_msg *m)
{
	const daimon_http_result *r = m->data;
	if (!s->model.stream || r->id != s->model.transfer)
		return; /* from a call that was stopped or replaced */
	s->model.transfer = 0;
	if (s->model.ttft_timer) {
		daimon_timer_cancel(ctx, s->model.ttft_timer);
		s->model.ttft_timer = 0;
	}
	if (s->model.idle_timer) {
		daimon_timer_cancel(ctx, s->model.idle_timer);
		s->model.idle_timer = 0;
	}
	if ((r->curl_code || r->status < 200 || r->status > 299) && (maybe_retry(ctx, s, r) || fall_back(ctx, s, r)))
		return;
	const daimon_llm_config *cfg = model_cfg(s);
	daimon_llm_limits lim = daimon_llm_limits_of(cfg);
	long max_wait = lim.max_retry_after_ms, max_stream = lim.max_stream_ms;
	if (s->model.idle_expired) { /* the bounds say what happened, not the transfer's abort */
		session_finish(ctx, s, -1,
			       "the model's answer brought nothing new for too long (model.idle_s); stopped");
		return;
	}
	if (r->retry_after_ms > max_wait) {
		char why[256];
		snprintf(why, sizeof(why),
			 "the model's server asked to wait %ld s (Retry-After), more than model.max_retry_after_s (%ld "
			 "s)",
			 r->retry_after_ms / 1000, max_wait / 1000);
		session_finish(ctx, s, -1, why);
		return;
	}
	if (r->curl_code == 28 && daimon_mono_ms() - s->model.started_ms >= max_stream - 1000) {
		char why[160];
		snprintf(why, sizeof(why), "the model's answer took longer than model.max_stream_s (%ld s); stopped",
			 max_stream / 1000);
		session_finish(ctx, s, -1, why);
		return;
	}
	if (daimon_llm_stream_end(s->model.stream, cfg, r) < 0) {
		session_finish(ctx, s, -1, daimon_error_last()); /* a cut answer is not logged as an answer */
		return;
	}
	int64_t in = 0, out = 0, cached = 0;
	daimon_llm_stream_usage(s->model.stream, &in, &out, &cached);
	const cJSON *calls = daimon_llm_stream_tool_calls(s->model.stream);
	int ncalls = cJSON_GetArraySize(calls);
	/* which model answered, and what it cost in tokens */
	cJSON *usage = cJSON_CreateObject();
	cJSON_AddStringToObject(usage, "model", cfg->model ? cfg->model : "");
	cJSON_AddStringToObject(usage, "provider",
				cfg->provider_name                      ? cfg->provider_name
				: cfg->provider == DAIMON_LLM_ANTHROPIC ? "anthropic"
									: "openai");
	cJSON_AddNumberToObject(usage, "in", (double)in);
	cJSON_AddNumberToObject(usage, "out", (double)out);
	cJSON_AddNumberToObject(usage, "cached", (double)cached);
	daimon_budget_add(s->set.budget, usage);
	cJSON *reasoning = daimon_llm_stream_reasoning(s->model.stream);
	int rc = session_append_answer(s, daimon_llm_stream_text(s->model.stream), calls, reasoning, usage);
	cJSON_Delete(reasoning);
	cJSON_Delete(usage);
	if (rc < 0 || !ncalls) {
		s->turn.tokens_in += in, s->turn.tokens_out += out;
		daimon_llm_stream_free(s->model.stream); /* counted */
		s->model.stream = NULL;
		session_finish(ctx, s, rc, rc < 0 ? daimon_error_last() : NULL);
		return;
	}
	/* The model asked for tools: they run side by side; the results are
	 * logged with the calls in one commit (pump), and the model is asked
	 * again. */
	session_start_calls(ctx, s, calls);
}
