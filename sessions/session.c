/*
 * session.c — see session.h.
 */
#include "sessions/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"
#include "memory/log.h"
#include "memory/text.h"
#include "sessions/tools.h"

struct session {
	daimon_store *store;
	char *key;
	char id[DAIMON_ID_MAX + 1];
	daimon_log *log;
	cJSON *history; /* messages in daimon's shape (see llm.h) */
	char *system;
	daimon_aid http;
	const daimon_llm_config *cfg;
	cJSON *tools; /* what the model is offered */
	/* the turn in progress */
	int rounds;   /* model calls in this turn (tool loops) */
	int attempts; /* retries of the current model call */
	uint64_t retry_timer;
	long idle_ms;
	uint64_t idle_timer; /* hibernate when it fires */
	uint64_t transfer;   /* the model call in flight */
	uint64_t ttft_timer; /* no first chunk by then: the call is abandoned and retried */
	int ttft_expired;
	daimon_aid asker;
	daimon_llm_stream *stream;
	daimon_llm_request req;
	long status;
	daimon_buf errbody;
};

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

/* SOUL.md, then the frozen snapshots of USER.md and MEMORY.md. */
static char *system_prompt(const char *home)
{
	daimon_buf b = DAIMON_BUF_INIT;
	static const char *const files[][2] = {
		{"SOUL.md", NULL}, {"USER.md", "About the user"}, {"MEMORY.md", "Your notes"}};
	for (size_t i = 0; i < 3; i++) {
		char *path = daimon_home_path(home, files[i][0]);
		daimon_buf f = DAIMON_BUF_INIT;
		if (daimon_read_file(&f, path) == 0 && f.len) {
			if (b.len)
				daimon_buf_adds(&b, "\n\n");
			if (files[i][1])
				daimon_buf_addf(&b, "## %s\n", files[i][1]);
			daimon_buf_add(&b, f.ptr, f.len);
		}
		daimon_buf_release(&f);
		free(path);
	}
	return daimon_buf_detach(&b);
}

/* The conversation so far, from the log: what the model is sent. */
static int load_history(struct session *s, const char *path)
{
	daimon_log_reader *r;
	int rc = daimon_log_reader_open(&r, path, 0, 0, 0);
	if (rc < 0)
		return rc;
	daimon_record rec;
	while ((rc = daimon_log_reader_next(r, &rec)) == 1) {
		const cJSON *j = rec.json;
		cJSON *m = NULL;
		if (!strcmp(rec.type, "message")) {
			m = cJSON_CreateObject();
			cJSON_AddStringToObject(m, "role", daimon_json_str(j, "role"));
			daimon_buf text = DAIMON_BUF_INIT;
			daimon_content_text(cJSON_GetObjectItemCaseSensitive(j, "content"), &text);
			cJSON_AddStringToObject(m, "content", daimon_buf_cstr(&text));
			daimon_buf_release(&text);
			const cJSON *calls = cJSON_GetObjectItemCaseSensitive(j, "tool_calls");
			if (calls)
				cJSON_AddItemToObject(m, "tool_calls", cJSON_Duplicate(calls, 1));
		} else if (!strcmp(rec.type, "tool_result")) {
			m = cJSON_CreateObject();
			cJSON_AddStringToObject(m, "role", "tool");
			cJSON_AddStringToObject(m, "call_id", daimon_json_str(j, "call_id"));
			daimon_buf text = DAIMON_BUF_INIT;
			daimon_content_text(cJSON_GetObjectItemCaseSensitive(j, "content"), &text);
			cJSON_AddStringToObject(m, "content", daimon_buf_cstr(&text));
			daimon_buf_release(&text);
		}
		if (m)
			cJSON_AddItemToArray(s->history, m);
		daimon_record_clear(&rec);
	}
	daimon_log_reader_free(r);
	return rc;
}

/* Opens (or creates) the log and loads the history from it: at start,
 * and when the session wakes from hibernation. */
static int open_log(struct session *s)
{
	char *path = daimon_store_log_path(s->store, s->id);
	daimon_log_report rep;
	cJSON_Delete(s->history);
	s->history = cJSON_CreateArray();
	int rc = daimon_log_open(&s->log, path, 0, &rep);
	if (rc == DAIMON_ENOTFOUND) {
		daimon_session_meta meta = {.id = s->id, .key = s->key};
		rc = daimon_store_create(s->store, &meta, 0, &s->log, NULL);
	} else if (rc == 0) {
		rc = load_history(s, path);
	}
	free(path);
	return rc;
}

static void *session_hibernate(daimon_ctx *ctx, void *state)
{
	struct session *s = state;
	daimon_set_state_label(ctx, "hibernated");
	daimon_log_close(s->log); /* nothing is staged between turns */
	s->log = NULL;
	cJSON_Delete(s->history);
	s->history = NULL;
	daimon_set_mem(ctx, sizeof(*s));
	return s;
}

static void *session_wake(daimon_ctx *ctx, void *state)
{
	struct session *s = state;
	daimon_set_state_label(ctx, NULL);
	if (open_log(s) < 0) /* the next turn says why */
		s->log = NULL;
	return s;
}

static void reply_done(daimon_ctx *ctx, struct session *s, int status, const char *error)
{
	daimon_session_done d = {0};
	d.status = status;
	snprintf(d.error, sizeof(d.error), "%s", error ? error : "");
	snprintf(d.session, sizeof(d.session), "%s", s->id);
	if (s->stream)
		daimon_llm_stream_usage(s->stream, &d.tokens_in, &d.tokens_out, &(int64_t){0});
	daimon_send(daimon_ctx_rt(ctx), s->asker, DAIMON_SESSION_DONE, &d, sizeof(d));
	daimon_llm_stream_free(s->stream);
	s->stream = NULL;
	daimon_llm_request_release(&s->req);
	daimon_buf_clear(&s->errbody);
	s->asker = 0;
	daimon_set_op(ctx, NULL);
	if (s->idle_ms >= 0) {
		if (s->idle_timer)
			daimon_timer_cancel(ctx, s->idle_timer);
		s->idle_timer = daimon_timer_start(ctx, s->idle_ms ? s->idle_ms : 600000, 0);
	}
}

/* Stages a message; with `commit`, makes everything staged durable. The
 * history (what the model is sent) gets it only once it is in the log. */
static int append_message(struct session *s, const char *role, const char *text, const cJSON *calls, int commit)
{
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "role", role);
	cJSON_AddStringToObject(f, "content", text);
	if (calls && cJSON_GetArraySize(calls))
		cJSON_AddItemToObject(f, "tool_calls", cJSON_Duplicate(calls, 1));
	int rc = daimon_log_append(s->log, "message", NULL, f, NULL, NULL, NULL);
	if (rc == 0 && commit)
		rc = daimon_log_commit(s->log);
	if (rc == 0)
		cJSON_AddItemToArray(s->history, cJSON_Duplicate(f, 1));
	cJSON_Delete(f);
	return rc;
}

static int append_tool_result(struct session *s, const cJSON *call, const char *text, int is_error)
{
	const char *id = daimon_json_str(call, "id"), *name = daimon_json_str(call, "name");
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "call_id", id ? id : "");
	cJSON_AddStringToObject(f, "name", name ? name : "");
	cJSON_AddStringToObject(f, "content", text);
	cJSON_AddBoolToObject(f, "is_error", is_error);
	int rc = daimon_log_append(s->log, "tool_result", NULL, f, NULL, NULL, NULL);
	if (rc == 0) {
		cJSON *h = cJSON_CreateObject();
		cJSON_AddStringToObject(h, "role", "tool");
		cJSON_AddStringToObject(h, "call_id", id ? id : "");
		cJSON_AddStringToObject(h, "content", text);
		cJSON_AddBoolToObject(h, "is_error", is_error);
		cJSON_AddItemToArray(s->history, h);
	}
	cJSON_Delete(f);
	return rc;
}

#define MAX_ROUNDS 10

/* Asks the model with the history as it stands (`retry`: the same call
 * again, after a failure that is worth retrying). */
static int call_model(daimon_ctx *ctx, struct session *s, int retry)
{
	daimon_llm_request_release(&s->req);
	daimon_llm_stream_free(s->stream);
	s->stream = NULL;
	daimon_buf_clear(&s->errbody);
	if (!retry)
		s->attempts = 0;
	if (!retry && ++s->rounds > MAX_ROUNDS)
		return daimon_error("the model asked for tools %d times in one turn; stopped", MAX_ROUNDS);
	if (daimon_llm_build(&s->req, s->cfg, s->system, s->history, s->tools) < 0)
		return -1;
	s->stream = daimon_llm_stream_new(s->cfg->provider);
	if (!(s->transfer = daimon_http_request(ctx, s->http, &s->req.http)))
		return -1;
	s->ttft_expired = 0;
	s->ttft_timer = daimon_timer_start(ctx, s->cfg->first_token_ms > 0 ? s->cfg->first_token_ms : 60000, 0);
	daimon_set_op(ctx, "waiting for the model");
	return 0;
}

static int on_ask(daimon_ctx *ctx, struct session *s, const daimon_msg *m)
{
	if (s->asker) {
		const char *busy = "a turn is already running in this session";
		daimon_session_done d = {.status = DAIMON_EBUSY};
		snprintf(d.error, sizeof(d.error), "%s", busy);
		daimon_send(daimon_ctx_rt(ctx), m->from, DAIMON_SESSION_DONE, &d, sizeof(d));
		return DAIMON_CONTINUE;
	}
	s->asker = m->from;
	s->rounds = 0;
	if (!s->log && open_log(s) < 0) {
		reply_done(ctx, s, -1, daimon_error_last());
		return DAIMON_CONTINUE;
	}
	char *text = daimon_xstrndup(m->data, m->len);
	/* The question is written, the model asked, and only then the disk
	 * waited for: the sync overlaps the request instead of delaying it.
	 * Nothing is acknowledged before both the question and the answer
	 * are durable. */
	int rc = append_message(s, "user", text, NULL, 0);
	free(text);
	if (rc == 0)
		rc = daimon_log_flush(s->log);
	if (rc == 0)
		rc = call_model(ctx, s, 0);
	if (rc == 0 && (rc = daimon_log_commit(s->log)) < 0 && s->transfer)
		daimon_http_cancel(ctx, s->http, s->transfer);
	if (rc < 0)
		reply_done(ctx, s, rc, daimon_error_last());
	return DAIMON_CONTINUE;
}

static void on_chunk(daimon_ctx *ctx, struct session *s, const daimon_msg *m)
{
	const daimon_http_chunk *c = m->data;
	if (!s->stream || c->id != s->transfer)
		return;      /* from a call that was stopped or replaced */
	if (s->ttft_timer) { /* the answer has started */
		daimon_timer_cancel(ctx, s->ttft_timer);
		s->ttft_timer = 0;
	}
	if (daimon_buf_cstr(&s->errbody)[0] || (c->len && c->data[0] == '{')) {
		/* Not a stream: an error document (kept for the message). */
		daimon_buf_add(&s->errbody, c->data, c->len);
		return;
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

static void on_done(daimon_ctx *ctx, struct session *s, const daimon_msg *m)
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
	char err[512];
	if (r->curl_code) {
		snprintf(err, sizeof(err), "cannot reach the model at '%s': %s", s->cfg->base_url, r->error);
		reply_done(ctx, s, -1, err);
		return;
	}
	if (r->status < 200 || r->status > 299) {
		cJSON *j = cJSON_Parse(daimon_buf_cstr(&s->errbody));
		const char *msg = daimon_json_str(cJSON_GetObjectItemCaseSensitive(j, "error"), "message");
		snprintf(err, sizeof(err), "the model answered HTTP %ld%s%s", r->status, msg ? ": " : "",
			 msg ? msg : "");
		cJSON_Delete(j);
		reply_done(ctx, s, -1, err);
		return;
	}
	if (daimon_llm_stream_finish(s->stream) < 0) {
		reply_done(ctx, s, -1, daimon_error_last()); /* a cut answer is not logged as an answer */
		return;
	}
	const cJSON *calls = daimon_llm_stream_tool_calls(s->stream);
	int ncalls = cJSON_GetArraySize(calls);
	int rc = append_message(s, "assistant", daimon_llm_stream_text(s->stream), calls, !ncalls);
	if (rc < 0 || !ncalls) {
		reply_done(ctx, s, rc, rc < 0 ? daimon_error_last() : NULL);
		return;
	}
	/* The model asked for tools: run each (a failure is that call's result,
	 * not the turn's), log the results with the calls in one commit, and
	 * ask again. */
	daimon_set_op(ctx, "running tools");
	for (const cJSON *c = calls->child; c && rc == 0; c = c->next) {
		daimon_buf out = DAIMON_BUF_INIT;
		int is_error = daimon_tool_call(daimon_builtin_tools, c, &out, s->store);
		rc = append_tool_result(s, c, daimon_buf_cstr(&out), is_error);
		daimon_buf_release(&out);
	}
	if (rc == 0)
		rc = daimon_log_commit(s->log);
	if (rc == 0)
		rc = call_model(ctx, s, 0);
	if (rc < 0)
		reply_done(ctx, s, rc, daimon_error_last());
}

/* Stops the turn: the transfer is aborted, the log says so, the asker hears. */
static void on_stop(daimon_ctx *ctx, struct session *s)
{
	if (!s->asker)
		return;
	if (s->transfer)
		daimon_http_cancel(ctx, s->http, s->transfer);
	if (s->retry_timer)
		daimon_timer_cancel(ctx, s->retry_timer);
	if (s->ttft_timer)
		daimon_timer_cancel(ctx, s->ttft_timer);
	s->transfer = s->retry_timer = s->ttft_timer = 0;
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "reason", "stopped by the user");
	if (s->stream && daimon_llm_stream_text(s->stream)[0]) /* what the user saw before stopping */
		cJSON_AddStringToObject(f, "partial", daimon_llm_stream_text(s->stream));
	int rc = daimon_log_append(s->log, "cancel", NULL, f, NULL, NULL, NULL);
	if (rc == 0)
		rc = daimon_log_commit(s->log);
	cJSON_Delete(f);
	reply_done(ctx, s, rc < 0 ? rc : DAIMON_SESSION_CANCELLED, rc < 0 ? daimon_error_last() : "stopped");
}

static int session_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct session *s = state;
	switch (m->type) {
	case DAIMON_SESSION_ASK:
		return on_ask(ctx, s, m);
	case DAIMON_SESSION_STOP:
		on_stop(ctx, s);
		break;
	case DAIMON_MSG_HTTP_CHUNK:
		on_chunk(ctx, s, m);
		break;
	case DAIMON_MSG_HTTP_DONE:
		on_done(ctx, s, m);
		break;
	case DAIMON_MSG_TIMER:
		if (m->ref == s->idle_timer) {
			s->idle_timer = 0;
			if (!s->asker)
				daimon_hibernate(ctx);
		} else if (m->ref == s->ttft_timer && s->transfer) { /* no answer started in time */
			s->ttft_timer = 0;
			s->ttft_expired = 1;
			daimon_http_cancel(ctx, s->http, s->transfer); /* its DONE takes the retry path */
		} else if (m->ref == s->retry_timer && s->asker) {
			s->retry_timer = 0;
			if (call_model(ctx, s, 1) < 0)
				reply_done(ctx, s, -1, daimon_error_last());
		}
		break;
	}
	return DAIMON_CONTINUE;
}

static void session_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)ctx, (void)reason;
	struct session *s = state;
	daimon_log_close(s->log);
	cJSON_Delete(s->history);
	cJSON_Delete(s->tools);
	daimon_llm_stream_free(s->stream);
	daimon_llm_request_release(&s->req);
	daimon_buf_release(&s->errbody);
	free(s->system);
	free(s->key);
	free(s);
}

static const daimon_behaviour session_behaviour = {
	.name = "session",
	.handle = session_handle,
	.terminate = session_terminate,
	.hibernate = session_hibernate,
	.wake = session_wake,
};

daimon_aid daimon_session_start(daimon_rt *rt, daimon_store *store, const char *key, daimon_aid http,
				const daimon_llm_config *cfg, const daimon_session_opts *opts)
{
	struct session *s = daimon_xcalloc(1, sizeof(*s));
	s->store = store;
	s->key = daimon_xstrdup(key);
	s->http = http;
	s->cfg = cfg;
	s->idle_ms = opts ? opts->idle_ms : 0;
	s->tools = daimon_tools_json(daimon_builtin_tools);
	daimon_session_id_for_key(s->id, key);
	if (open_log(s) < 0) {
		session_terminate(NULL, s, 0);
		return 0;
	}
	s->system = system_prompt(store->home);
	daimon_spawn_opts o = {.behaviour = &session_behaviour, .state = s};
	daimon_aid id = daimon_spawn(rt, &o);
	if (id)
		daimon_register(rt, key, id);
	else
		session_terminate(NULL, s, 0);
	return id;
}
