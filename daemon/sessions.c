/*
 * sessions.c — the daemon's table of conversations (see sessions.h).
 *
 * One entry per key whose session is live or being started, found by key
 * (requests) and by actor (its state reports, its exit): two chained hash
 * tables over the same entries. An entry holds the requests that wait
 * for it — while its session is being started, or while a stale one is
 * being stopped — and forwards them in the order they came, each after
 * an OPENED to its sender, so the sender knows the session before it
 * hears from it.
 */
#include "daemon/sessions.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/channels.h"
#include "core/cold.h"
#include "core/error.h"
#include "core/work.h"
#include "daemon/gateway-int.h"
#include "sessions/session.h"

/* A request waiting for its session. */
struct held {
	struct held *next;
	daimon_aid from;
	uint64_t ref;
	int type;
	size_t len;
	char data[];
};

struct entry {
	struct entry *by_key, *by_aid; /* the hash chains */
	daimon_aid aid;                /* 0 while it is being started */
	uint64_t posted, heard;        /* requests forwarded to it, and taken by it */
	unsigned busy : 1, asleep : 1;
	unsigned stale : 1;    /* started before a reload: stopped once idle */
	unsigned stopping : 1; /* cancelled: requests wait for it to go */
	struct held *held;
	char key[];
};

/* A session being started on the work pool. */
struct opening {
	struct daimon_gateway *g;
	daimon_aid owner;
	const daimon_llm_config *cfg;
	char *key;
	daimon_session_seed *seed; /* the job's result, or NULL and error */
	char error[256];
	daimon_job *job;
	uint64_t ref;
	struct entry *entry;
	struct opening *next;
};

struct table {
	struct daimon_gateway *g;
	struct entry **keys, **aids;
	size_t nb, n;
	struct opening *openings;
	uint64_t next_ref;
	int stopping;
};

/* ---- the hash tables ---- */

static size_t hash_key(const char *key, size_t nb)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ULL;
	return (size_t)(h & (nb - 1));
}

static size_t hash_aid(daimon_aid aid, size_t nb)
{
	return (size_t)((aid * 0x9E3779B97F4A7C15ULL) >> 32) & (nb - 1);
}

static struct entry *find_key(const struct table *t, const char *key)
{
	struct entry *e = t->keys[hash_key(key, t->nb)];
	while (e && strcmp(e->key, key))
		e = e->by_key;
	return e;
}

static struct entry *find_aid(const struct table *t, daimon_aid aid)
{
	struct entry *e = t->aids[hash_aid(aid, t->nb)];
	while (e && e->aid != aid)
		e = e->by_aid;
	return e;
}

static void link_aid(struct table *t, struct entry *e)
{
	size_t b = hash_aid(e->aid, t->nb);
	e->by_aid = t->aids[b];
	t->aids[b] = e;
}

static void unlink_aid(struct table *t, struct entry *e)
{
	struct entry **p = &t->aids[hash_aid(e->aid, t->nb)];
	while (*p && *p != e)
		p = &(*p)->by_aid;
	if (*p)
		*p = e->by_aid;
}

static void grow(struct table *t)
{
	size_t nb = t->nb * 2;
	struct entry **keys = daimon_xcalloc(nb, sizeof(*keys)), **aids = daimon_xcalloc(nb, sizeof(*aids));
	for (size_t i = 0; i < t->nb; i++)
		for (struct entry *e = t->keys[i], *next; e; e = next) {
			next = e->by_key;
			size_t b = hash_key(e->key, nb);
			e->by_key = keys[b];
			keys[b] = e;
			if (e->aid) {
				b = hash_aid(e->aid, nb);
				e->by_aid = aids[b];
				aids[b] = e;
			}
		}
	free(t->keys);
	free(t->aids);
	t->keys = keys;
	t->aids = aids;
	t->nb = nb;
}

/* Entries live as long as their sessions, hibernated ones too: they come
 * from cold memory, not from among the turns' churn (core/cold.h). */
static size_t entry_size(const char *key)
{
	return sizeof(struct entry) + strlen(key) + 1;
}

static struct entry *add_entry(struct table *t, const char *key)
{
	if (t->n >= t->nb)
		grow(t);
	size_t len = strlen(key) + 1;
	struct entry *e = daimon_cold_alloc(daimon_rt_cold(t->g->rt), entry_size(key));
	memcpy(e->key, key, len);
	size_t b = hash_key(key, t->nb);
	e->by_key = t->keys[b];
	t->keys[b] = e;
	t->n++;
	return e;
}

static void drop_entry(struct table *t, struct entry *e)
{
	struct entry **p = &t->keys[hash_key(e->key, t->nb)];
	while (*p && *p != e)
		p = &(*p)->by_key;
	if (*p)
		*p = e->by_key;
	t->n--;
	daimon_cold_free(daimon_rt_cold(t->g->rt), e, entry_size(e->key));
}

static void for_each(struct table *t, void (*fn)(daimon_ctx *, struct table *, struct entry *), daimon_ctx *ctx)
{
	for (size_t i = 0; i < t->nb; i++)
		for (struct entry *e = t->keys[i], *next; e; e = next) {
			next = e->by_key; /* (fn may drop it) */
			fn(ctx, t, e);
		}
}

/* ---- the counters `status` and the drain read ---- */

static void count(struct table *t, struct entry *e, int sign)
{
	struct daimon_gateway *g = t->g;
	atomic_fetch_add(&g->sessions_live, sign);
	if (e->busy)
		atomic_fetch_add(&g->sessions_busy, sign);
	if (e->asleep)
		atomic_fetch_add(&g->sessions_asleep, sign);
}

/* ---- requests ---- */

static void tell_opened(daimon_ctx *ctx, daimon_aid to, uint64_t ref, daimon_aid session, const char *error)
{
	daimon_channel_opened o = {.ref = ref, .session = session};
	snprintf(o.error, sizeof(o.error), "%s", error ? error : "");
	if (to)
		daimon_send(daimon_ctx_rt(ctx), to, DAIMON_CHANNEL_OPENED, &o, sizeof(o));
}

static void deliver(daimon_ctx *ctx, struct table *t, struct entry *e, daimon_aid from, uint64_t ref, int type,
		    const void *data, size_t len)
{
	tell_opened(ctx, from, ref, e->aid, NULL);
	daimon_send_from(daimon_ctx_rt(ctx), from, e->aid, type, data, len);
	if (type != DAIMON_SESSION_STOP && type != DAIMON_SESSION_APPROVAL) /* (not requests the session counts) */
		e->posted++;
	if (e->asleep) { /* the request wakes it */
		count(t, e, -1);
		e->asleep = 0;
		count(t, e, 1);
	}
}

static void hold(struct entry *e, daimon_aid from, uint64_t ref, int type, const void *data, size_t len)
{
	struct held *h = daimon_xmalloc(sizeof(*h) + len), **p = &e->held;
	h->next = NULL;
	h->from = from;
	h->ref = ref;
	h->type = type;
	h->len = len;
	if (len)
		memcpy(h->data, data, len);
	while (*p)
		p = &(*p)->next;
	*p = h;
}

/* The requests that waited: to the session now up, or told why none is. */
static void release_held(daimon_ctx *ctx, struct table *t, struct entry *e, const char *error)
{
	struct held *h = e->held, *next;
	e->held = NULL;
	for (; h; h = next) {
		next = h->next;
		if (error)
			tell_opened(ctx, h->from, h->ref, 0, error);
		else
			deliver(ctx, t, e, h->from, h->ref, h->type, h->data, h->len);
		free(h);
	}
}

static int open_job(void *arg, daimon_buf *out, const _Atomic int *cancelled)
{
	(void)out, (void)cancelled;
	struct opening *o = arg;
	daimon_session_opts so;
	if (daimon_session_opts_load(&so, o->g->store.home, o->key) == 0) {
		so.tools = atomic_load(&o->g->tools);
		so.tools_live = &o->g->tools;
		so.owner = o->owner;
		so.budget = o->g->budget;
		o->seed = daimon_session_prepare(&o->g->store, o->key, o->g->http, o->cfg, &so);
	}
	if (!o->seed)
		snprintf(o->error, sizeof(o->error), "%s", daimon_error_last());
	return o->seed ? 0 : -1;
}

static void free_opening(void *arg)
{
	struct opening *o = arg;
	daimon_session_seed_free(o->seed);
	free(o->key);
	free(o);
}

/* Starts the session of `e` on the work pool; the requests wait. */
static void start_opening(daimon_ctx *ctx, struct table *t, struct entry *e)
{
	struct daimon_gateway *g = t->g;
	char why[256] = "";
	const daimon_llm_config *cfg = daimon_gateway_llm(g, why, sizeof(why));
	if (!cfg || t->stopping) {
		release_held(ctx, t, e, t->stopping ? "the daemon is stopping" : why);
		drop_entry(t, e);
		return;
	}
	struct opening *o = daimon_xcalloc(1, sizeof(*o));
	o->g = g;
	o->owner = daimon_self(ctx);
	o->cfg = cfg;
	o->key = daimon_xstrdup(e->key);
	o->entry = e;
	o->next = t->openings;
	t->openings = o;
	o->ref = ++t->next_ref;
	o->job = daimon_job_submit(daimon_ctx_rt(ctx), daimon_self(ctx), o->ref, open_job, o, free_opening);
	daimon_set_op(ctx, "starting a session");
}

static int session_request(int type)
{
	return type == DAIMON_SESSION_ASK || type == DAIMON_SESSION_ASK_ONCE || type == DAIMON_SESSION_SUMMARIZE ||
	       type == DAIMON_SESSION_RESUME;
}

static void tell_nothing_runs(daimon_ctx *ctx, daimon_aid to, uint64_t ref, const char *key)
{
	char why[256];
	snprintf(why, sizeof(why), "no turn is running in %.200s", key);
	tell_opened(ctx, to, ref, 0, why);
}

/* A stop for the session of `key`: it reaches a running session, or
 * waits behind the requests of one being started; it starts none. A stop
 * of everything (no asker named) is refused where nothing runs. */
static void on_stop(daimon_ctx *ctx, struct table *t, const daimon_msg *m, uint64_t ref, const char *key,
		    const void *data, size_t len)
{
	struct entry *e = find_key(t, key);
	if (e && e->aid && !e->stopping && (len || e->busy || e->posted > e->heard)) {
		deliver(ctx, t, e, m->from, ref, DAIMON_SESSION_STOP, data, len);
	} else if (e && (!e->aid || e->stopping)) {
		hold(e, m->from, ref, DAIMON_SESSION_STOP, data, len);
	} else {
		tell_nothing_runs(ctx, m->from, ref, key);
	}
}

static void on_post(daimon_ctx *ctx, struct table *t, const daimon_msg *m)
{
	uint64_t ref;
	int type;
	const char *key;
	const void *data;
	size_t len;
	int read = daimon_channel_post_read(m, &ref, &type, &key, &data, &len);
	if (read == 0 && type == DAIMON_SESSION_STOP) {
		on_stop(ctx, t, m, ref, key, data, len);
		return;
	}
	if (read == 0 &&
	    type == DAIMON_SESSION_APPROVAL) { /* the user's answer, from a channel: only to a live session */
		struct entry *e = find_key(t, key);
		if (e && e->aid && !e->stopping)
			deliver(ctx, t, e, m->from, ref, type, data, len);
		else
			tell_nothing_runs(ctx, m->from, ref, key);
		return;
	}
	if (read < 0 || !session_request(type)) {
		tell_opened(ctx, m->from, 0, 0, "not a request for a session");
		return;
	}
	struct entry *e = find_key(t, key);
	if (e && e->aid && !e->stopping) {
		deliver(ctx, t, e, m->from, ref, type, data, len);
		return;
	}
	if (t->stopping) {
		tell_opened(ctx, m->from, ref, 0, "the daemon is stopping");
		return;
	}
	int fresh = !e;
	if (fresh)
		e = add_entry(t, key);
	hold(e, m->from, ref, type, data, len);
	if (fresh)
		start_opening(ctx, t, e);
}

/* ---- the sessions' lives ---- */

/* Cancels the session of `e` (a running turn is logged as cancelled);
 * requests for it wait until it is gone. */
static void stop_entry(daimon_ctx *ctx, struct table *t, struct entry *e)
{
	(void)t;
	if (e->aid && !e->stopping) {
		e->stopping = 1;
		daimon_cancel(daimon_ctx_rt(ctx), e->aid, 2000);
	}
}

/* A stale session goes once it is idle and nothing is on its way to it:
 * the next request starts it with what is new. */
static void retire_if_idle(daimon_ctx *ctx, struct table *t, struct entry *e)
{
	if (e->stale && !e->busy && e->posted == e->heard)
		stop_entry(ctx, t, e);
}

static void on_state(daimon_ctx *ctx, struct table *t, const daimon_msg *m)
{
	struct entry *e = find_aid(t, m->from);
	if (!e || m->len < sizeof(daimon_session_status))
		return;
	const daimon_session_status *st = m->data;
	count(t, e, -1);
	e->heard = st->heard;
	e->busy = st->state == DAIMON_SESSION_BUSY;
	e->asleep = st->state == DAIMON_SESSION_ASLEEP;
	count(t, e, 1);
	retire_if_idle(ctx, t, e);
}

/* Stops that waited with nothing before them to stop start no session. */
static void drop_lone_stops(daimon_ctx *ctx, struct entry *e)
{
	for (struct held *h; (h = e->held) && h->type == DAIMON_SESSION_STOP;) {
		e->held = h->next;
		tell_nothing_runs(ctx, h->from, h->ref, e->key);
		free(h);
	}
}

static void on_down(daimon_ctx *ctx, struct table *t, const daimon_msg *m)
{
	struct entry *e = find_aid(t, m->from);
	if (!e)
		return;
	count(t, e, -1);
	unlink_aid(t, e);
	e->aid = 0;
	e->busy = e->asleep = e->stale = e->stopping = 0;
	e->posted = e->heard = 0;
	drop_lone_stops(ctx, e);
	if (e->held) /* requests came while it went: a new one takes them */
		start_opening(ctx, t, e);
	else
		drop_entry(t, e);
}

static void on_opened(daimon_ctx *ctx, struct table *t, const daimon_job_done *d)
{
	struct opening **p = &t->openings, *o;
	while ((o = *p) && o->ref != d->ref)
		p = &o->next;
	if (!o)
		return;
	*p = o->next;
	struct entry *e = o->entry;
	daimon_aid aid = 0;
	if (o->seed && !t->stopping) {
		aid = daimon_session_spawn(daimon_ctx_rt(ctx), o->seed); /* (takes it) */
		o->seed = NULL;
		if (!aid)
			snprintf(o->error, sizeof(o->error), "%s", daimon_error_last());
	}
	if (aid) {
		e->aid = aid;
		link_aid(t, e);
		daimon_monitor(ctx, aid);
		count(t, e, 1);
		release_held(ctx, t, e, NULL);
	} else {
		release_held(ctx, t, e, t->stopping ? "the daemon is stopping" : o->error);
		drop_entry(t, e);
	}
	daimon_job_release(o->job); /* (frees o, and a seed not spawned) */
	if (!t->openings)
		daimon_set_op(ctx, NULL);
}

static void make_stale(daimon_ctx *ctx, struct table *t, struct entry *e)
{
	e->stale = 1;
	retire_if_idle(ctx, t, e);
}

/* ---- the actor ---- */

static int sessions_init(daimon_ctx *ctx, void *state)
{
	(void)state;
	daimon_set_state_label(ctx, "supervising");
	return DAIMON_CONTINUE;
}

static int sessions_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct table *t = state;
	switch (m->type) {
	case DAIMON_CHANNEL_POST:
		on_post(ctx, t, m);
		break;
	case DAIMON_SESSION_STATE:
		on_state(ctx, t, m);
		break;
	case DAIMON_MSG_DOWN:
		on_down(ctx, t, m);
		break;
	case DAIMON_MSG_JOB_DONE:
		on_opened(ctx, t, m->data);
		break;
	case DAIMON_SESSIONS_RELOAD:
		for_each(t, make_stale, ctx);
		break;
	case DAIMON_SESSIONS_CANCEL:
		t->stopping = 1;
		for_each(t, stop_entry, ctx);
		break;
	}
	return DAIMON_CONTINUE;
}

static void sessions_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)ctx, (void)reason;
	struct table *t = state;
	for (struct opening *o = t->openings, *next; o; o = next) {
		next = o->next;
		daimon_job_cancel(o->job);
		daimon_job_release(o->job);
	}
	for (size_t i = 0; i < t->nb; i++)
		for (struct entry *e = t->keys[i], *next; e; e = next) {
			next = e->by_key;
			for (struct held *h = e->held, *hn; h; h = hn) {
				hn = h->next;
				free(h);
			}
			daimon_cold_free(daimon_rt_cold(t->g->rt), e, entry_size(e->key));
		}
	free(t->keys);
	free(t->aids);
	free(t);
}

static const daimon_behaviour sessions_behaviour = {
	.name = "sessions", .init = sessions_init, .handle = sessions_handle, .terminate = sessions_terminate};

daimon_aid daimon_sessions_start(struct daimon_gateway *g)
{
	struct table *t = daimon_xcalloc(1, sizeof(*t));
	t->g = g;
	t->nb = 64;
	t->keys = daimon_xcalloc(t->nb, sizeof(*t->keys));
	t->aids = daimon_xcalloc(t->nb, sizeof(*t->aids));
	daimon_spawn_opts o = {.behaviour = &sessions_behaviour, .state = t};
	daimon_aid id = daimon_spawn(g->rt, &o);
	if (id)
		daimon_register(g->rt, "sessions", id);
	return id;
}
