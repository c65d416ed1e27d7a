/*
 * session-calls.c — the tool calls of one answer: checked against their
 * schemas, run side by side (a bounded number at a time, each with a
 * deadline) on the work pool, as actors, or through a port; a tool that
 * needs approval asks first; a failure is that call's result. Once every
 * call is done their results are logged in one commit and the model is
 * asked again.
 */
#include "sessions/session-int.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fault.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"

/* The one place a call changes state. A call goes from WAITING towards
 * DONE, never back; `running` counts those in between (asking,
 * journaling, running), which the parallel bound is checked against. */
void session_call_set(struct session *s, struct call *c, enum call_state to)
{
	static const unsigned char next[] = {
		[CALL_WAITING] = 1u << CALL_ASKING | 1u << CALL_JOURNALING | 1u << CALL_RUNNING | 1u << CALL_DONE,
		[CALL_ASKING] = 1u << CALL_JOURNALING | 1u << CALL_RUNNING | 1u << CALL_DONE,
		[CALL_JOURNALING] = 1u << CALL_RUNNING | 1u << CALL_DONE,
		[CALL_RUNNING] = 1u << CALL_DONE,
		[CALL_DONE] = 0,
	};
	assert(c->state <= CALL_DONE && (next[c->state] & 1u << to));
	int was = c->state != CALL_WAITING && c->state != CALL_DONE;
	int is = to != CALL_WAITING && to != CALL_DONE;
	s->calls.running += is - was;
	c->state = to;
	assert(s->calls.running >= 0 && s->calls.running <= s->calls.n);
}

void session_free_calls(struct session *s)
{
	for (int i = 0; i < s->calls.n; i++) {
		struct call *c = &s->calls.list[i];
		cJSON_Delete(c->call);
		cJSON_Delete(c->args);
		free(c->key);
		daimon_buf_release(&c->result);
		daimon_job_release(c->job);
	}
	free(s->calls.list);
	s->calls.list = NULL;
	s->calls.n = s->calls.running = 0;
}

struct tool_job {
	const daimon_tool *tool;
	cJSON *args;
	daimon_store *store;
	char *key;
	daimon_rt *rt;
	daimon_aid asker;
	const char *idempotency_key; /* the call's (it outlives the job) */
};

/* "NAME: 40% message" (or the count, without a total). */
void session_progress_line(char *line, size_t size, const char *name, double done, double total, const char *message)
{
	if (total > 0)
		snprintf(line, size, "%s: %.0f%%%s%s", name, 100 * done / total, message ? " " : "",
			 message ? message : "");
	else
		snprintf(line, size, "%s: %g%s%s", name, done, message ? " " : "", message ? message : "");
}

/* A tool's progress, as a line to whoever asked (from the work pool). */
static void tool_progress(void *payload, double done, double total, const char *message)
{
	struct tool_job *j = payload;
	char line[256];
	session_progress_line(line, sizeof(line), j->tool->name, done, total, message);
	daimon_send_from(j->rt, 0, j->asker, DAIMON_SESSION_PROGRESS, line, strlen(line));
}

static int tool_job_run(void *arg, daimon_buf *out, const _Atomic int *cancelled)
{
	struct tool_job *j = arg;
	daimon_tool_env env = {.store = j->store,
			       .key = j->key,
			       .cancelled = cancelled,
			       .payload = j->tool->payload,
			       .progress = tool_progress,
			       .progress_payload = j,
			       .idempotency_key = j->idempotency_key ? j->idempotency_key : ""};
	return j->tool->run(j->args, out, &env);
}

static void tool_job_free(void *arg)
{
	struct tool_job *j = arg;
	cJSON_Delete(j->args);
	free(j->key);
	free(j);
}

void session_call_finished(daimon_ctx *ctx, struct session *s, struct call *c, int is_error)
{
	if (c->state == CALL_RUNNING && c->journaled)
		session_journal_outcome(ctx, s, c, is_error);
	session_call_set(s, c, CALL_DONE);
	c->is_error = is_error;
	if (c->timer)
		daimon_timer_cancel(ctx, c->timer);
	c->timer = 0;
	daimon_job_release(c->job);
	c->job = NULL;
	/* One line for the asker: name, outcome, time. */
	const char *text = daimon_buf_cstr(&c->result);
	char line[160];
	snprintf(line, sizeof(line), "%s %s %.0f ms%s%.*s", daimon_json_str(c->call, "name"),
		 is_error ? "failed after" : "done in",
		 c->started ? (double)(daimon_mono_ns() - c->started) / 1e6 : 0.0, is_error ? ": " : "",
		 is_error ? (int)strcspn(text, "\n") : 0, text);
	daimon_send(daimon_ctx_rt(ctx), s->turn.asker, DAIMON_SESSION_TOOL, line, strlen(line));
}

#define APPROVAL_MS (5 * 60 * 1000)

/* A tool that needs the user's approval: the asker is asked first. */
static void ask_approval(daimon_ctx *ctx, struct session *s, struct call *c)
{
	session_call_set(s, c, CALL_ASKING);
	char *args = c->args ? cJSON_PrintUnformatted(c->args) : daimon_xstrdup("{}");
	char *what = daimon_xasprintf("%s %s", c->tool->name, args);
	size_t n = sizeof(daimon_session_approval) + strlen(what) + 1;
	daimon_session_approval *a = daimon_xcalloc(1, n);
	a->ref = c->ref;
	memcpy(a->what, what, strlen(what) + 1);
	daimon_send(daimon_ctx_rt(ctx), s->turn.asker, DAIMON_SESSION_APPROVE, a, n);
	free(a);
	free(what);
	free(args);
	c->timer = daimon_timer_start(ctx, APPROVAL_MS, 0);
	daimon_set_op(ctx, "waiting for the user's approval");
}

void session_launch(daimon_ctx *ctx, struct session *s, struct call *c)
{
	if (c->tool->needs_approval && !c->approved) {
		ask_approval(ctx, s, c);
		return;
	}
	if (c->tool->side_effecting && !c->journaled && s->log) {
		session_call_set(s, c, CALL_JOURNALING);
		if (session_journal_intent(ctx, s, c) < 0)
			session_not_journaled(ctx, s, c);
		daimon_set_op(ctx, "journaling a tool call");
		return;
	}
	session_call_set(s, c, CALL_RUNNING);
	c->started = daimon_mono_ns();
	if (c->tool->send) {
		if (c->tool->send(ctx, c->args, c->ref, c->key ? c->key : "", c->tool->payload) < 0) {
			daimon_buf_addf(&c->result, "%s could not be asked: %s", c->tool->name, daimon_error_last());
			session_call_finished(ctx, s, c, 1);
			return;
		}
	} else if (c->tool->run) {
		struct tool_job *j = daimon_xcalloc(1, sizeof(*j));
		j->tool = c->tool;
		j->args = c->args;
		j->store = s->set.store;
		j->key = daimon_xstrdup(s->key);
		j->rt = daimon_ctx_rt(ctx);
		j->asker = s->turn.asker;
		j->idempotency_key = c->key;
		c->args = NULL;
		c->job =
			daimon_job_submit(daimon_ctx_rt(ctx), daimon_self(ctx), c->ref, tool_job_run, j, tool_job_free);
	} else {
		daimon_tool_host host = {.store = s->set.store,
					 .http = s->set.http,
					 .cfg = s->set.cfg,
					 .key = s->key,
					 .depth = s->set.depth,
					 .grants = s->set.grants,
					 .budget = s->set.budget};
		if (!(c->actor = c->tool->spawn(ctx, c->args, c->ref, &host))) {
			daimon_buf_addf(&c->result, "%s could not start: %s", c->tool->name, daimon_error_last());
			session_call_finished(ctx, s, c, 1);
			return;
		}
		c->monitor = daimon_monitor(ctx, c->actor);
	}
	long ms = c->tool->timeout_ms > 0 ? c->tool->timeout_ms : s->set.tool_timeout_ms;
	c->timer = daimon_timer_start(ctx, ms, 0);
}

/* Starts calls while there is room; once every call is done, logs the
 * results with the calls in one commit, takes in steering messages, and
 * asks the model again. */
void session_pump(daimon_ctx *ctx, struct session *s)
{
	int done = 0;
	for (int i = 0; i < s->calls.n; i++) {
		if (s->calls.list[i].state == CALL_WAITING && s->calls.running < s->set.tool_parallel)
			session_launch(ctx, s, &s->calls.list[i]);
		done += s->calls.list[i].state == CALL_DONE;
	}
	if (done < s->calls.n)
		return;
	int rc = 0;
	for (int i = 0; i < s->calls.n && rc == 0; i++)
		rc = session_append_tool_result(s, s->calls.list[i].call, daimon_buf_cstr(&s->calls.list[i].result),
						s->calls.list[i].is_error);
	if (rc == 0 && daimon_log_flush(s->log) == 0)
		daimon_fault_point("results");
	session_free_calls(s);
	struct pending *p;
	while (rc == 0 && (p = session_pending_pop(&s->steer))) {
		rc = session_append_user(s, p->text, p->mid, p->images);
		if (s->turn.nalso < MAX_ALSO)
			s->turn.also[s->turn.nalso++] = p->asker;
		session_pending_free(p);
	}
	if (rc == 0)
		rc = daimon_log_flush(s->log);
	if (rc == 0)
		rc = session_call_model(ctx, s, 0);
	if (rc == 0)
		rc = session_commit_async(ctx, s); /* the results' sync overlaps the request */
	if (rc < 0)
		session_abort_turn(ctx, s, rc);
}

void session_start_calls(daimon_ctx *ctx, struct session *s, const cJSON *calls)
{
	daimon_set_op(ctx, "running tools");
	s->calls.n = cJSON_GetArraySize(calls);
	s->calls.list = daimon_xcalloc((size_t)s->calls.n, sizeof(*s->calls.list));
	int i = 0;
	for (const cJSON *j = calls->child; j; j = j->next, i++) {
		struct call *c = &s->calls.list[i];
		c->call = cJSON_Duplicate(j, 1);
		c->ref = ++s->next_ref;
		if (daimon_tool_prepare(s->keep.toolset, s->set.depth, s->set.grants, j, &c->tool, &c->args,
					&c->result))
			session_call_finished(ctx, s, c, 1); /* the validation error is its result */
	}
	session_pump(ctx, s);
}

static struct call *call_by(struct session *s, int (*match)(const struct call *c, uint64_t v), uint64_t v)
{
	for (int i = 0; i < s->calls.n; i++)
		if ((s->calls.list[i].state == CALL_RUNNING || s->calls.list[i].state == CALL_ASKING) &&
		    match(&s->calls.list[i], v))
			return &s->calls.list[i];
	return NULL;
}

static int by_ref(const struct call *c, uint64_t v)
{
	return c->ref == v;
}
static int by_timer(const struct call *c, uint64_t v)
{
	return c->timer == v;
}
static int by_monitor(const struct call *c, uint64_t v)
{
	return c->monitor && c->monitor == v;
}

struct call *session_call_by_ref(struct session *s, uint64_t ref)
{
	return call_by(s, by_ref, ref);
}
struct call *session_call_by_timer(struct session *s, uint64_t timer)
{
	return call_by(s, by_timer, timer);
}
struct call *session_call_by_monitor(struct session *s, uint64_t monitor)
{
	return call_by(s, by_monitor, monitor);
}

void session_on_job_done(daimon_ctx *ctx, struct session *s, const daimon_msg *m)
{
	const daimon_job_done *d = m->data;
	struct call *c = call_by(s, by_ref, d->ref);
	if (!c || c->state != CALL_RUNNING)
		return; /* timed out or stopped: too late */
	int is_error = d->status < 0;
	if (d->status == 0 && c->tool->result)
		is_error = c->tool->result(d->text, &c->result, c->tool->payload);
	else
		daimon_buf_add(&c->result, d->text, d->len);
	session_call_finished(ctx, s, c, is_error);
	session_pump(ctx, s);
}

void session_on_approval(daimon_ctx *ctx, struct session *s, const daimon_msg *m)
{
	const daimon_session_approval *a = m->data;
	struct call *c = m->len >= sizeof(*a) ? call_by(s, by_ref, a->ref) : NULL;
	if (!c || c->state != CALL_ASKING)
		return; /* too late, or never asked */
	daimon_timer_cancel(ctx, c->timer);
	c->timer = 0;
	if (a->allow) {
		c->approved = 1;
		session_launch(ctx, s, c);
		return;
	}
	daimon_buf_addf(&c->result, "the user did not allow this call of %s", c->tool->name);
	session_call_finished(ctx, s, c, 1);
	session_pump(ctx, s);
}

void session_on_call_timeout(daimon_ctx *ctx, struct session *s, struct call *c)
{
	c->timer = 0;
	if (c->state == CALL_RUNNING && c->tool->cancel)
		c->tool->cancel(ctx, c->ref, c->tool->payload);
	if (c->state == CALL_ASKING) {
		daimon_buf_addf(&c->result, "no answer from the user about this call of %s", c->tool->name);
		session_call_finished(ctx, s, c, 1);
		session_pump(ctx, s);
		return;
	}
	daimon_job_cancel(c->job);
	if (c->actor)
		daimon_cancel(daimon_ctx_rt(ctx), c->actor, 2000);
	long ms = c->tool->timeout_ms > 0 ? c->tool->timeout_ms : s->set.tool_timeout_ms;
	daimon_buf_clear(&c->result);
	daimon_buf_addf(&c->result, "%s timed out after %.1f s", c->tool->name, (double)ms / 1000);
	session_call_finished(ctx, s, c, 1);
	session_pump(ctx, s);
}

void session_on_call_down(daimon_ctx *ctx, struct session *s, struct call *c, int64_t reason)
{
	daimon_buf_clear(&c->result);
	daimon_buf_addf(&c->result, "%s stopped without a result (exit %lld)", c->tool->name, (long long)reason);
	session_call_finished(ctx, s, c, 1);
	session_pump(ctx, s);
}
