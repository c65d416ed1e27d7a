/*
 * session-turn.c — a turn's life: it begins for an asker (with the newest
 * tool set), the question is logged and the model asked; messages that
 * arrive meanwhile are queued, steer or interrupt; a stop halts the model
 * call and the tool calls and logs what each came to; at the end the
 * askers hear once what was logged is durable, and the next queued
 * message starts its own turn.
 */
#include "sessions/session-int.h"

#include "memory/usage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"

static void push(struct pending **list, daimon_aid asker, const void *text, size_t len, const char *mid,
		 const char *images)
{
	struct pending *p = daimon_xcalloc(1, sizeof(*p));
	p->mid = mid ? daimon_xstrdup(mid) : NULL;
	p->images = images ? daimon_xstrdup(images) : NULL;
	p->asker = asker;
	p->text = daimon_xstrndup(text, len);
	while (*list)
		list = &(*list)->next;
	*list = p;
}

struct pending *session_pending_pop(struct pending **list)
{
	struct pending *p = *list;
	if (p)
		*list = p->next;
	return p;
}

void session_pending_free(struct pending *p)
{
	if (p) {
		free(p->text);
		free(p->mid);
		free(p->images);
	}
	free(p);
}

void session_tell_done(daimon_ctx *ctx, daimon_aid to, const daimon_session_done *d)
{
	if (to)
		daimon_send(daimon_ctx_rt(ctx), to, DAIMON_SESSION_DONE, d, sizeof(*d));
}

/* A mid-turn message that will not be answered (the turn it waited for
 * was stopped): its sender hears so. */
void session_drop_pending(daimon_ctx *ctx, struct session *s, struct pending **list, daimon_aid only)
{
	for (struct pending *p; (p = *list);) {
		if (only && p->asker != only) {
			list = &p->next;
			continue;
		}
		*list = p->next;
		daimon_session_done d = {.status = DAIMON_SESSION_CANCELLED};
		snprintf(d.error, sizeof(d.error), "dropped: the turn it was waiting for was stopped");
		snprintf(d.session, sizeof(d.session), "%s", s->id);
		session_tell_done(ctx, p->asker, &d);
		session_pending_free(p);
	}
}

void session_reply_done(daimon_ctx *ctx, struct session *s, int status, const char *error)
{
	session_unmark(s);
	daimon_session_done d = {0};
	d.status = status;
	snprintf(d.error, sizeof(d.error), "%s", error ? error : "");
	snprintf(d.session, sizeof(d.session), "%s", s->id);
	d.tokens_in = s->turn.tokens_in;
	d.tokens_out = s->turn.tokens_out;
	session_tell_done(ctx, s->turn.asker, &d);
	for (int i = 0; i < s->turn.nalso; i++)
		if (s->turn.also[i] != s->turn.asker)
			session_tell_done(ctx, s->turn.also[i], &d);
	daimon_llm_stream_free(s->model.stream);
	s->model.stream = NULL;
	daimon_llm_request_release(&s->model.req);
	session_free_calls(s);
	s->turn.asker = 0;
	s->turn.nalso = 0;
	daimon_set_op(ctx, NULL);
	/* Steering messages the turn ended before taking are turns of their own. */
	while (s->steer) {
		struct pending *p = session_pending_pop(&s->steer);
		p->next = s->queue;
		s->queue = p;
	}
	if (s->queue)
		daimon_send(daimon_ctx_rt(ctx), daimon_self(ctx), DAIMON_SESSION_NEXT, NULL, 0);
	if (s->set.idle_ms >= 0) {
		if (s->idle_timer)
			daimon_timer_cancel(ctx, s->idle_timer);
		s->idle_timer = daimon_timer_start(ctx, s->set.idle_ms, 0);
	}
}

/* A turn begins: for `asker`, on a message with this channel id (or
 * none), with the newest set of tools where there is one. */
void session_begin_turn(daimon_ctx *ctx, struct session *s, daimon_aid asker, const char *mid)
{
	s->turn.asker = asker;
	s->turn.mid = mid && *mid;
	s->turn.rounds = 0;
	s->turn.tokens_in = s->turn.tokens_out = 0;
	s->model.cfg = NULL; /* (each turn begins with the session's model) */
	const daimon_tool *t = s->set.tools_live ? atomic_load(s->set.tools_live) : NULL;
	if (!t || t == s->keep.toolset)
		return;
	s->keep.toolset = t;
	cJSON_Delete(s->tools);
	s->tools = daimon_tools_json(t, s->set.depth, s->set.grants);
}

void session_start_turn(daimon_ctx *ctx, struct session *s, daimon_aid asker, const char *text, const char *mid,
			const char *images)
{
	session_begin_turn(ctx, s, asker, mid);
	if (!s->log && session_open_log(s) < 0) {
		session_reply_done(ctx, s, -1, daimon_error_last());
		return;
	}
	/* The question is written, the model asked, and only then the disk
	 * waited for: the sync overlaps the request instead of delaying it.
	 * Nothing is acknowledged before both the question and the answer
	 * are durable. */
	if (mid && *mid && session_seen_before(ctx, s, asker, mid))
		return;
	int rc = session_close_dangling(s);
	if (rc == 0)
		rc = session_append_user(s, text, mid, images);
	if (rc == 0)
		rc = daimon_log_flush(s->log);
	if (rc == 0 && daimon_budget_check(s->set.budget) < 0) { /* (the message is kept, its answer refused) */
		char why[256];
		snprintf(why, sizeof(why), "%s", daimon_error_last());
		session_finish(ctx, s, DAIMON_EBUSY, why);
		return;
	}
	if (rc == 0)
		rc = session_call_model(ctx, s, 0);
	if (rc == 0)
		rc = session_commit_async(ctx, s);
	if (rc < 0)
		session_abort_turn(ctx, s, rc);
}

/* Aborts the model call in flight and the tool calls still running. */
static void halt(daimon_ctx *ctx, struct session *s, const char *reason)
{
	if (s->model.transfer)
		daimon_http_cancel(ctx, s->set.http, s->model.transfer);
	if (s->model.retry_timer)
		daimon_timer_cancel(ctx, s->model.retry_timer);
	if (s->model.ttft_timer)
		daimon_timer_cancel(ctx, s->model.ttft_timer);
	if (s->model.idle_timer)
		daimon_timer_cancel(ctx, s->model.idle_timer);
	s->model.transfer = s->model.retry_timer = s->model.ttft_timer = s->model.idle_timer = 0;
	session_aside_clear(ctx, s);
	for (int i = 0; i < s->calls.n; i++) {
		struct call *c = &s->calls.list[i];
		if (c->state == CALL_DONE)
			continue;
		daimon_job_cancel(c->job);
		if (c->actor)
			daimon_cancel(daimon_ctx_rt(ctx), c->actor, 2000);
		if (c->state == CALL_RUNNING && c->tool->cancel)
			c->tool->cancel(ctx, c->ref, c->tool->payload);
		if (c->timer)
			daimon_timer_cancel(ctx, c->timer);
		c->timer = 0;
		daimon_buf_clear(&c->result);
		daimon_buf_addf(&c->result, "cancelled: %s", reason);
		c->is_error = 1;
		session_call_set(s, c, CALL_DONE);
	}
}

/* The turn failed where nothing more can be logged (the log is broken). */
void session_abort_turn(daimon_ctx *ctx, struct session *s, int rc)
{
	char err[256];
	snprintf(err, sizeof(err), "%s", daimon_error_last());
	halt(ctx, s, err);
	s->turn.done_pending = 0;
	session_reply_done(ctx, s, rc, err);
}

/* Stops the turn: the transfer is aborted, running tool calls cancelled
 * (each logged with what it came to), the log says why, the askers hear
 * (with `now`, after a sync here: the session is about to exit). */
void session_stop_turn(daimon_ctx *ctx, struct session *s, const char *reason, int now)
{
	if (!s->turn.asker)
		return;
	if (s->turn.done_pending) { /* the turn is over, its log on the way to the disk */
		if (now) {
			int rc = daimon_log_commit(s->log);
			s->turn.done_pending = 0;
			session_reply_done(ctx, s, rc < 0 ? rc : s->turn.done_status,
					   rc < 0 ? daimon_error_last() : s->turn.done_error);
		}
		return;
	}
	halt(ctx, s, reason);
	int rc = 0;
	for (int i = 0; i < s->calls.n && rc == 0; i++)
		rc = session_append_tool_result(s, s->calls.list[i].call, daimon_buf_cstr(&s->calls.list[i].result),
						s->calls.list[i].is_error);
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "reason", reason);
	if (!s->calls.n && s->model.stream && daimon_llm_stream_text(s->model.stream)[0]) /* what the user saw */
		cJSON_AddStringToObject(f, "partial", daimon_llm_stream_text(s->model.stream));
	if (rc == 0)
		rc = daimon_log_append(s->log, DAIMON_REC_CANCEL, NULL, f, NULL, NULL, NULL);
	if (rc == 0 && now)
		rc = daimon_log_commit(s->log);
	if (rc == 0)
		cJSON_AddItemToArray(s->history, session_stopped_message(f));
	cJSON_Delete(f);
	s->turn.done_pending = 0;
	if (rc < 0 || now)
		session_reply_done(ctx, s, rc < 0 ? rc : DAIMON_SESSION_CANCELLED,
				   rc < 0 ? daimon_error_last() : reason);
	else
		session_finish(ctx, s, DAIMON_SESSION_CANCELLED, reason);
}

void session_on_ask(daimon_ctx *ctx, struct session *s, const daimon_msg *m)
{
	const char *text = m->data, *mid = NULL, *images = NULL, *nul;
	size_t len = m->len;
	if (m->type == DAIMON_SESSION_ASK_ONCE) { /* "mid\0text" */
		if (!(nul = memchr(m->data, 0, m->len)))
			return;
		mid = m->data;
		text = nul + 1;
		len = m->len - (size_t)(text - mid);
	}
	if (len && text[len - 1] == 0 && (nul = memchr(text, 0, len)) && nul < text + len - 1) { /* "…\0images\0" */
		images = nul + 1;
		len = (size_t)(nul - text);
	}
	if (!s->turn.asker) {
		if (s->aside.for_session) { /* not idle after all */
			session_aside_clear(ctx, s);
			session_summary_told(ctx, s, DAIMON_SESSION_CANCELLED, "a new message came");
		}
		char *t = daimon_xstrndup(text, len);
		session_start_turn(ctx, s, m->from, t, mid, images);
		free(t);
		return;
	}
	switch (s->turn.done_pending ? DAIMON_MID_TURN_QUEUE : s->set.mid_turn) {
	case DAIMON_MID_TURN_STEER:
		push(&s->steer, m->from, text, len, mid, images);
		break;
	case DAIMON_MID_TURN_INTERRUPT:
		push(&s->queue, m->from, text, len, mid, images);
		while (s->queue->next) /* only the newest message interrupts; the others are dropped */
			session_pending_free(session_pending_pop(&s->queue));
		session_stop_turn(ctx, s, "interrupted by a new message", 0);
		break;
	default:
		push(&s->queue, m->from, text, len, mid, images);
		break;
	}
}
