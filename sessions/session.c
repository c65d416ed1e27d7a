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
struct sleeping {   /* in the runtime's cold memory (core/cold.h) */
	int asleep; /* first, as in struct session: terminate reads it */
	struct session_settings set;
	struct session_keep keep;
	char key[];
};

static size_t sleeping_size(const char *key)
{
	return sizeof(struct sleeping) + strlen(key) + 1;
}

/* The owner hears each change of the session's state (daimon_session_status). */
static void tell_owner(daimon_ctx *ctx, const struct session_settings *set, int state, uint64_t heard)
{
	daimon_session_status st = {.state = state, .heard = heard};
	if (set->owner)
		daimon_send(daimon_ctx_rt(ctx), set->owner, DAIMON_SESSION_STATE, &st, sizeof(st));
}

static void *session_hibernate(daimon_ctx *ctx, void *state)
{
	struct session *s = state;
	size_t size = sleeping_size(s->key);
	struct sleeping *z = daimon_cold_alloc(daimon_rt_cold(daimon_ctx_rt(ctx)), size);
	z->asleep = 1;
	strcpy(z->key, s->key);
	z->set = s->set;
	z->keep = s->keep;
	session_terminate(ctx, s, 0); /* the log is closed: it commits what a sync in flight had not */
	daimon_set_mem(ctx, size);
	daimon_set_state_label(ctx, "hibernated");
	tell_owner(ctx, &z->set, DAIMON_SESSION_ASLEEP, z->keep.heard);
	return z;
}

static void *session_wake(daimon_ctx *ctx, void *state)
{
	struct sleeping *z = state;
	struct session *s = daimon_xcalloc(1, sizeof(*s));
	s->key = daimon_xstrdup(z->key);
	s->set = z->set;
	s->keep = z->keep;
	daimon_cold_free(daimon_rt_cold(daimon_ctx_rt(ctx)), z, sleeping_size(z->key));
	daimon_session_id_for_key(s->id, s->key);
	daimon_set_state_label(ctx, NULL);
	if (session_open_log(s) < 0) /* the next turn says why */
		s->log = NULL;
	s->tools = daimon_tools_json(s->keep.toolset, s->set.depth, s->set.grants);
	s->system = session_system_prompt(s->set.store->home, s->key,
					  !s->set.grants); /* a fresh snapshot of the curated files */
	daimon_set_mem(ctx, sizeof(*s));
	return s;
}

static void on_timer(daimon_ctx *ctx, struct session *s, const daimon_msg *m)
{
	struct call *c;
	if (m->ref == s->idle_timer) {
		s->idle_timer = 0;
		if (s->turn.asker)
			return;
		if (s->aside.actor) { /* a summary still being written: later */
			s->idle_timer = daimon_timer_start(ctx, s->set.idle_ms, 0);
			return;
		}
		if (s->set.summarize && session_start_summary(ctx, s) == 0) /* hibernates at the next idle timer */
			s->idle_timer = daimon_timer_start(ctx, s->set.idle_ms, 0);
		else
			daimon_hibernate(ctx);
	} else if (m->ref == s->model.ttft_timer && s->model.transfer) { /* no answer started in time */
		s->model.ttft_timer = 0;
		s->model.ttft_expired = 1;
		daimon_http_cancel(ctx, s->set.http, s->model.transfer); /* its DONE takes the retry path */
	} else if (m->ref == s->model.idle_timer && s->model.idle_timer) {
		session_on_idle_tick(ctx, s);
	} else if (m->ref == s->model.retry_timer && s->turn.asker) {
		s->model.retry_timer = 0;
		if (session_call_model(ctx, s, 1) < 0)
			session_finish(ctx, s, -1, daimon_error_last());
	} else if ((c = session_call_by_timer(s, m->ref))) {
		session_on_call_timeout(ctx, s, c);
	}
}

static int session_busy(const struct session *s)
{
	return s->turn.asker || s->aside.summary_asker;
}

static void handle_message(daimon_ctx *ctx, struct session *s, const daimon_msg *m);

static int session_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct session *s = state;
	int busy = session_busy(s);
	uint64_t heard = s->keep.heard;
	if (m->type == DAIMON_SESSION_ASK || m->type == DAIMON_SESSION_ASK_ONCE ||
	    m->type == DAIMON_SESSION_SUMMARIZE || m->type == DAIMON_SESSION_RESUME)
		s->keep.heard++;
	handle_message(ctx, s, m);
	if (session_busy(s) != busy || s->keep.heard != heard)
		tell_owner(ctx, &s->set, session_busy(s) ? DAIMON_SESSION_BUSY : DAIMON_SESSION_IDLE, s->keep.heard);
	return DAIMON_CONTINUE;
}

static void handle_message(daimon_ctx *ctx, struct session *s, const daimon_msg *m)
{
	struct call *c;
	switch (m->type) {
	case DAIMON_SESSION_ASK:
	case DAIMON_SESSION_ASK_ONCE:
		session_on_ask(ctx, s, m);
		break;
	case DAIMON_SESSION_NEXT:
		if (!s->turn.asker && s->queue) {
			struct pending *p = session_pending_pop(&s->queue);
			session_start_turn(ctx, s, p->asker, p->text, p->mid, p->images);
			session_pending_free(p);
		}
		break;
	case DAIMON_SESSION_SUMMARIZE:
		if (s->aside.summary_asker || s->turn.asker || s->aside.actor) {
			daimon_session_done d = {.status = DAIMON_EBUSY};
			snprintf(d.error, sizeof(d.error), "the session is busy");
			session_tell_done(ctx, m->from, &d);
		} else {
			s->aside.summary_asker = m->from;
			int rc = (!s->log && session_open_log(s) < 0) ? -1 : session_start_summary(ctx, s);
			if (rc != 0)
				session_summary_told(ctx, s, rc < 0 ? -1 : 0,
						     rc < 0 ? daimon_error_last() : "nothing new to summarize");
		}
		break;
	case DAIMON_SESSION_APPROVAL:
		session_on_approval(ctx, s, m);
		break;
	case DAIMON_SESSION_RESUME:
		session_on_resume(ctx, s);
		break;

	case DAIMON_SESSION_STOP: { /* everyone's turns, or (data: an asker) that asker's */
		daimon_aid only = 0;
		if (m->len == sizeof(only))
			memcpy(&only, m->data, sizeof(only));
		if (!only || s->turn.asker == only)
			session_stop_turn(ctx, s, only ? "the client that asked went away" : "stopped by the user", 0);
		session_drop_pending(ctx, s, &s->steer, only);
		session_drop_pending(ctx, s, &s->queue, only);
		break;
	}
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
					      cJSON_IsNumber(total) ? total->valuedouble : 0,
					      daimon_json_str(p, "message"));
			daimon_send(daimon_ctx_rt(ctx), s->turn.asker, DAIMON_SESSION_PROGRESS, line, strlen(line));
		}
		cJSON_Delete(p);
		break;
	}
	case DAIMON_MSG_JOB_DONE:
		if (s->sync.ref && ((const daimon_job_done *)m->data)->ref == s->sync.ref)
			session_on_synced(ctx, s, m->data);
		else if (s->aside.ref && ((const daimon_job_done *)m->data)->ref == s->aside.ref)
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
}

/* Cancelled (its parent's subtree collapsing, a sub-agent's deadline): the
 * turn is stopped and logged as such, and the session exits. */
static int session_cancel(daimon_ctx *ctx, void *state)
{
	struct session *s = state;
	if (s->asleep) /* hibernated: nothing running, nothing to log */
		return DAIMON_EXIT_CANCELLED;
	session_stop_turn(ctx, s, "cancelled", 1);
	session_drop_pending(ctx, s, &s->steer, 0);
	session_drop_pending(ctx, s, &s->queue, 0);
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
	for (int i = 0; i < s->calls.n; i++)
		daimon_job_cancel(s->calls.list[i].job);
	session_free_calls(s);
	daimon_job_release(s->sync.job);
	struct pending *p;
	while ((p = session_pending_pop(&s->queue)) || (p = session_pending_pop(&s->steer)))
		session_pending_free(p);
	daimon_log_close(s->log);
	cJSON_Delete(s->history);
	cJSON_Delete(s->tools);
	daimon_llm_stream_free(s->model.stream);
	daimon_llm_request_release(&s->model.req);
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

daimon_session_seed *daimon_session_prepare(daimon_store *store, const char *key, daimon_aid http,
					    const daimon_llm_config *cfg, const daimon_session_opts *opts)
{
	static const daimon_session_opts defaults = {0};
	if (!opts)
		opts = &defaults;
	struct session *s = daimon_xcalloc(1, sizeof(*s));
	session_settings_init(&s->set, store, http, cfg, opts);
	s->key = daimon_xstrdup(key);
	s->keep.toolset = opts->tools ? opts->tools : daimon_builtin_tools;
	s->tools = daimon_tools_json(s->keep.toolset, s->set.depth, s->set.grants);
	daimon_session_id_for_key(s->id, key);
	if (session_open_log(s) < 0) {
		session_terminate(NULL, s, 0);
		return 0;
	}
	s->system = session_system_prompt(store->home, key, !s->set.grants);
	s->child = opts->child;
	return s;
}

void daimon_session_seed_free(daimon_session_seed *s)
{
	if (s)
		session_terminate(NULL, s, 0);
}

daimon_aid daimon_session_spawn(daimon_rt *rt, daimon_session_seed *s)
{
	daimon_spawn_opts o = {.behaviour = &session_behaviour, .state = s, .flags = s->child ? DAIMON_SPAWN_CHILD : 0};
	daimon_aid id = daimon_spawn(rt, &o);
	if (id)
		daimon_register(rt, s->key, id);
	else
		session_terminate(NULL, s, 0);
	return id;
}

daimon_aid daimon_session_start(daimon_rt *rt, daimon_store *store, const char *key, daimon_aid http,
				const daimon_llm_config *cfg, const daimon_session_opts *opts)
{
	daimon_session_seed *s = daimon_session_prepare(store, key, http, cfg, opts);
	return s ? daimon_session_spawn(rt, s) : 0;
}
