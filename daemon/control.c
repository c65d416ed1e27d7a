/*
 * control.c — the control socket (the protocol is in control.h).
 *
 * Two behaviours. The listener owns the listening socket and a signalfd:
 * it accepts (checking the peer's uid with SO_PEERCRED) and spawns one
 * connection actor per client, and turns SIGTERM/SIGINT into a stop and
 * SIGHUP into a reload. A connection actor owns its socket: it reads
 * lines as the runtime reports the socket readable, answers requests,
 * and for an ask is the session's listener, turning the session's
 * messages into event lines. Writes never block: what the socket does
 * not take waits in the actor's buffer until it is writable again, and a
 * client that reads nothing past a bound is dropped.
 */
#include "daemon/control.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "channels/access.h"
#include "core/buf.h"
#include "core/cron.h"
#include "core/error.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"
#include "core/work.h"
#include "daemon/gateway-int.h"
#include "daemon/schedule.h"
#include "sessions/listen.h"
#include "sessions/session.h"

#define OUT_BOUND (16u << 20) /* bytes a client may leave unread before it is dropped */
#define LINE_BOUND (8u << 20) /* the longest request line */

struct daimon_control {
	daimon_gateway *g;
	char *path, *lock_path;
	int lock_fd, listen_fd, sig_fd;
	daimon_aid listener;
	_Atomic int clients; /* connections open now */
};

char *daimon_control_path(const char *home)
{
	return daimon_home_path(home, "run/daimon.sock");
}

char *daimon_control_lock_path(const char *home)
{
	return daimon_home_path(home, "run/daimon.lock");
}

/* ---- a connection ---- */

struct conn {
	daimon_gateway *g;
	daimon_control *ctl;
	int fd;
	uint64_t watch;
	uint32_t events;
	daimon_buf in, out;
	int hello, closing;
	enum { WAIT_NONE, WAIT_ASK, WAIT_SUMMARY, WAIT_SKILLS, WAIT_CANCEL, WAIT_CRON } waiting;
	char *key;          /* the conversation asked */
	daimon_aid session; /* the one asked (0: not known yet) */
	int cancel;         /* the client cancelled the ask */
	daimon_job *job;
};

static void conn_flush(daimon_ctx *ctx, struct conn *c)
{
	size_t off = 0;
	while (off < c->out.len) {
		ssize_t n = send(c->fd, c->out.ptr + off, c->out.len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
				c->closing = 2; /* the client is gone */
			break;
		}
		off += (size_t)n;
	}
	memmove(c->out.ptr, c->out.ptr + off, c->out.len - off);
	c->out.len -= off;
	if (c->out.len > OUT_BOUND)
		c->closing = 2;
	uint32_t want = EPOLLIN | (c->out.len ? EPOLLOUT : 0);
	if (want != c->events && c->closing != 2) {
		daimon_watch_fd_modify(ctx, c->watch, want);
		c->events = want;
	}
}

/* Sends one line (takes `msg`). */
static void conn_send(daimon_ctx *ctx, struct conn *c, cJSON *msg)
{
	char *s = cJSON_PrintUnformatted(msg);
	cJSON_Delete(msg);
	daimon_buf_adds(&c->out, s);
	daimon_buf_addc(&c->out, '\n');
	cJSON_free(s);
	conn_flush(ctx, c);
}

static void conn_ok(daimon_ctx *ctx, struct conn *c, cJSON *msg)
{
	if (!msg)
		msg = cJSON_CreateObject();
	cJSON_AddBoolToObject(msg, "ok", 1);
	conn_send(ctx, c, msg);
}

static void conn_err(daimon_ctx *ctx, struct conn *c, const char *error)
{
	cJSON *m = cJSON_CreateObject();
	cJSON_AddBoolToObject(m, "ok", 0);
	cJSON_AddStringToObject(m, "error", error);
	conn_send(ctx, c, m);
}

static cJSON *status_json(daimon_gateway *g)
{
	cJSON *m = cJSON_CreateObject();
	int64_t now = daimon_mono_ms();
	cJSON_AddNumberToObject(m, "pid", getpid());
	cJSON_AddStringToObject(m, "version", DAIMON_VERSION);
	cJSON_AddNumberToObject(m, "uptime_ms", (double)(now - g->started_ms));
	cJSON_AddNumberToObject(m, "ready_ms", (double)g->ready_ms);
	cJSON_AddNumberToObject(m, "rss_kb", (double)daimon_gateway_rss_kb());
	cJSON_AddStringToObject(m, "home", g->store.home);
	cJSON_AddBoolToObject(m, "local", g->local);
	size_t live, hib, busy;
	daimon_gateway_session_counts(g, &live, &hib, &busy);
	cJSON_AddNumberToObject(m, "actors", (double)daimon_rt_count(g->rt));
	cJSON *s = cJSON_AddObjectToObject(m, "sessions");
	cJSON_AddNumberToObject(s, "live", (double)live);
	cJSON_AddNumberToObject(s, "hibernated", (double)hib);
	cJSON_AddNumberToObject(s, "busy", (double)busy);
	cJSON *ch = cJSON_AddArrayToObject(m, "channels");
	daimon_gateway_model_json(g, m);
	pthread_mutex_lock(&g->mu);
	for (int i = 0; i < g->nchannels; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", g->channels[i].name);
		cJSON_AddStringToObject(o, "state", g->channels[i].state);
		cJSON_AddStringToObject(o, "error", g->channels[i].error);
		cJSON_AddNumberToObject(o, "restarts", g->channels[i].restarts);
		cJSON_AddItemToArray(ch, o);
	}
	/* the MCP servers: name, state, error, how many tools (under the lock:
	 * a reload replaces them) */
	cJSON *servers = daimon_mcp_snapshot(g->mcp);
	pthread_mutex_unlock(&g->mu);
	for (cJSON *sv = servers->child; sv; sv = sv->next) {
		int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sv, "tools"));
		cJSON_DeleteItemFromObjectCaseSensitive(sv, "tools");
		cJSON_DeleteItemFromObjectCaseSensitive(sv, "timeout_ms");
		cJSON_AddNumberToObject(sv, "tools", n);
	}
	cJSON_AddItemToObject(m, "mcp", servers);
	cJSON *sc = cJSON_AddObjectToObject(m, "schedule");
	pthread_mutex_lock(&g->mu);
	cJSON_AddNumberToObject(sc, "jobs", g->schedule.jobs);
	cJSON_AddNumberToObject(sc, "delivering", g->schedule.delivering);
	cJSON_AddNumberToObject(sc, "failing", g->schedule.failing);
	cJSON *next = cJSON_AddArrayToObject(sc, "next");
	for (int i = 0; i < g->schedule.nnext; i++) {
		cJSON *o = cJSON_CreateObject();
		char when[64];
		daimon_time_local(when, sizeof(when), g->schedule.next[i].at);
		cJSON_AddStringToObject(o, "id", g->schedule.next[i].id);
		cJSON_AddStringToObject(o, "at", when);
		cJSON_AddStringToObject(o, "what", g->schedule.next[i].text);
		cJSON_AddItemToArray(next, o);
	}
	pthread_mutex_unlock(&g->mu);
	return m;
}

static cJSON *ps_json(daimon_gateway *g)
{
	cJSON *m = cJSON_CreateObject();
	cJSON *a = cJSON_AddArrayToObject(m, "actors");
	daimon_actor_info *rows = NULL;
	size_t n = daimon_rt_snapshot(g->rt, &rows);
	for (size_t i = 0; i < n; i++) {
		const daimon_actor_info *r = &rows[i];
		cJSON *o = cJSON_CreateObject();
		char id[24];
		snprintf(id, sizeof(id), "%llx", (unsigned long long)r->id);
		cJSON_AddStringToObject(o, "id", id);
		snprintf(id, sizeof(id), "%llx", (unsigned long long)r->parent);
		cJSON_AddStringToObject(o, "parent", r->parent ? id : "");
		cJSON_AddStringToObject(o, "name", r->name);
		cJSON_AddStringToObject(o, "behaviour", r->behaviour);
		cJSON_AddStringToObject(o, "state", r->state);
		cJSON_AddStringToObject(o, "op", r->op);
		cJSON_AddNumberToObject(o, "op_age_ms", (double)r->op_age_ms);
		cJSON_AddNumberToObject(o, "mailbox", (double)r->mailbox);
		cJSON_AddNumberToObject(o, "handled", (double)r->handled);
		cJSON_AddNumberToObject(o, "mem", (double)r->mem);
		cJSON_AddNumberToObject(o, "children", (double)r->children);
		cJSON_AddNumberToObject(o, "timers", (double)r->timers);
		cJSON_AddNumberToObject(o, "fds", (double)r->fds);
		cJSON_AddNumberToObject(o, "procs", (double)r->procs);
		cJSON_AddItemToArray(a, o);
	}
	free(rows);
	cJSON_AddNumberToObject(m, "rss_kb", (double)daimon_gateway_rss_kb());
	return m;
}

static int skills_job(void *arg, daimon_buf *out, const _Atomic int *cancelled)
{
	(void)cancelled;
	daimon_gateway *g = arg;
	int n = daimon_gateway_skills_changed(g);
	if (n < 0)
		daimon_buf_adds(out, daimon_error_last());
	else
		daimon_buf_addf(out, "%d", n);
	return n < 0 ? -1 : 0;
}

static void opened(daimon_ctx *ctx, struct conn *c, const daimon_channel_opened *o);

/* A request to the session of `key`, through the sessions actor: its
 * OPENED comes first (opened below), then the session's events. */
static void post(daimon_ctx *ctx, struct conn *c, const char *key, int type, const char *text)
{
	c->session = 0;
	c->cancel = 0;
	free(c->key);
	c->key = daimon_xstrdup(key);
	if (daimon_channel_post(&c->g->channel_host, daimon_self(ctx), 0, key, type, text, text ? strlen(text) : 0) < 0)
		opened(ctx, c, &(daimon_channel_opened){.error = "the daemon is stopping"});
}

static void on_ask(daimon_ctx *ctx, struct conn *c, const cJSON *req)
{
	const char *key = daimon_json_str(req, "session"), *text = daimon_json_str(req, "text");
	if (!key || !*key)
		key = "cli:default";
	if (!text || !*text) {
		conn_err(ctx, c, "an ask needs \"text\"");
		return;
	}
	c->waiting = WAIT_ASK;
	daimon_set_op(ctx, "asking a session");
	post(ctx, c, key, DAIMON_SESSION_ASK, text);
}

/* ---- the ops ---- */

/* {"op":"cancel"}: this connection's ask; with "session", the turn that
 * runs in that conversation, whoever asked it. */
static void op_cancel(daimon_ctx *ctx, struct conn *c, const cJSON *req)
{
	const char *key = daimon_json_str(req, "session");
	if (c->waiting != WAIT_ASK) {
		if (!key || !*key) {
			conn_err(ctx, c, "a cancel outside an ask names the conversation: \"session\"");
			return;
		}
		c->waiting = WAIT_CANCEL;
		post(ctx, c, key, DAIMON_SESSION_STOP, NULL);
		return;
	}
	c->cancel = 1;
	if (c->session)
		daimon_send(daimon_ctx_rt(ctx), c->session, DAIMON_SESSION_STOP, NULL, 0);
}

static void op_approval(daimon_ctx *ctx, struct conn *c, const cJSON *req)
{
	int64_t ref = 0;
	daimon_json_int(req, "ref", &ref);
	daimon_session_approve(daimon_ctx_rt(ctx), daimon_self(ctx), c->session, (uint64_t)ref,
			       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "allow")));
}

static void op_status(daimon_ctx *ctx, struct conn *c, const cJSON *req)
{
	(void)req;
	conn_ok(ctx, c, status_json(c->g));
}

static void op_ps(daimon_ctx *ctx, struct conn *c, const cJSON *req)
{
	(void)req;
	conn_ok(ctx, c, ps_json(c->g));
}

static void op_stop(daimon_ctx *ctx, struct conn *c, const cJSON *req)
{
	(void)req;
	conn_ok(ctx, c, NULL);
	daimon_gateway_request_stop(c->g);
}

static void op_reload(daimon_ctx *ctx, struct conn *c, const cJSON *req)
{
	(void)req;
	if (daimon_gateway_reload(c->g) < 0)
		conn_err(ctx, c, daimon_error_last());
	else
		conn_ok(ctx, c, NULL);
}

static void op_summarize(daimon_ctx *ctx, struct conn *c, const cJSON *req)
{
	const char *key = daimon_json_str(req, "session");
	c->waiting = WAIT_SUMMARY;
	post(ctx, c, key && *key ? key : "cli:default", DAIMON_SESSION_SUMMARIZE, NULL);
}

static void op_skills(daimon_ctx *ctx, struct conn *c, const cJSON *req)
{
	(void)req;
	c->waiting = WAIT_SKILLS;
	c->job = daimon_job_submit(daimon_ctx_rt(ctx), daimon_self(ctx), 1, skills_job, c->g, NULL);
}

/* {"op":"cron","request":{...}}: to the scheduler (daemon/schedule.h);
 * its reply's members come back with "ok". */
static void op_cron(daimon_ctx *ctx, struct conn *c, const cJSON *req)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(req, "request");
	daimon_aid to = daimon_whereis(daimon_ctx_rt(ctx), "scheduler");
	if (!cJSON_IsObject(r)) {
		conn_err(ctx, c, "a cron op carries its \"request\" object");
		return;
	}
	char *text = cJSON_PrintUnformatted(r);
	int rc =
		to ? daimon_job_send(daimon_ctx_rt(ctx), 0, to, DAIMON_SCHEDULE_REQUEST, 1, 0, text, strlen(text)) : -1;
	cJSON_free(text);
	if (rc < 0)
		conn_err(ctx, c, "the scheduler is not running (daimon status says why)");
	else
		c->waiting = WAIT_CRON;
}

static void cron_replied(daimon_ctx *ctx, struct conn *c, const daimon_job_done *d)
{
	c->waiting = WAIT_NONE;
	cJSON *r = d->status < 0 ? NULL : cJSON_Parse(d->text);
	if (!r)
		conn_err(ctx, c, d->text);
	else
		conn_ok(ctx, c, r);
}

static void op_pairing(daimon_ctx *ctx, struct conn *c, const cJSON *req)
{
	(void)req;
	cJSON *list = NULL;
	if (daimon_access_pending(c->g->store.home, &list) < 0) {
		conn_err(ctx, c, daimon_error_last());
		return;
	}
	cJSON *m = cJSON_CreateObject();
	cJSON_AddItemToObject(m, "pending", list);
	conn_ok(ctx, c, m);
}

static void op_pair(daimon_ctx *ctx, struct conn *c, const cJSON *req)
{
	char who[128];
	if (daimon_access_approve(c->g->store.home, daimon_json_str(req, "code"), who, sizeof(who)) < 0) {
		conn_err(ctx, c, daimon_error_last());
		return;
	}
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "sender", who);
	conn_ok(ctx, c, m);
}

/* Every op after hello. cancel and approval are about the ask in
 * progress and come only during one; the others only between requests. */
static const struct op {
	const char *name;
	enum { IDLE, DURING_ASK, EITHER } when;
	void (*run)(daimon_ctx *ctx, struct conn *c, const cJSON *req);
} ops[] = {
	{"cancel", EITHER, op_cancel}, {"approval", DURING_ASK, op_approval},
	{"status", IDLE, op_status},   {"ps", IDLE, op_ps},
	{"stop", IDLE, op_stop},       {"reload", IDLE, op_reload},
	{"ask", IDLE, on_ask},         {"summarize", IDLE, op_summarize},
	{"skills", IDLE, op_skills},   {"pairing", IDLE, op_pairing},
	{"pair", IDLE, op_pair},       {"cron", IDLE, op_cron},
};

static const struct op *op_named(const char *name)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(ops[i].name, name))
			return &ops[i];
	return NULL;
}

static void on_request(daimon_ctx *ctx, struct conn *c, const cJSON *req)
{
	const char *op = daimon_json_str(req, "op");
	if (!op) {
		conn_err(ctx, c, "a request needs \"op\"");
		return;
	}
	if (!c->hello) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "version");
		if (strcmp(op, "hello") || !cJSON_IsNumber(v) || v->valueint != DAIMON_CONTROL_VERSION) {
			char why[160];
			snprintf(why, sizeof(why),
				 "this daemon speaks control protocol %d; start with {\"op\":\"hello\",\"version\":%d}",
				 DAIMON_CONTROL_VERSION, DAIMON_CONTROL_VERSION);
			conn_err(ctx, c, why);
			c->closing = 1;
			return;
		}
		c->hello = 1;
		cJSON *m = cJSON_CreateObject();
		cJSON_AddNumberToObject(m, "version", DAIMON_CONTROL_VERSION);
		cJSON_AddNumberToObject(m, "pid", getpid());
		cJSON_AddStringToObject(m, "daimon", DAIMON_VERSION);
		conn_ok(ctx, c, m);
		return;
	}
	const struct op *o = op_named(op);
	if (o && o->when != IDLE && c->waiting == WAIT_ASK) {
		o->run(ctx, c, req);
	} else if (c->waiting != WAIT_NONE) {
		conn_err(ctx, c, "one request at a time: the last one is still running");
	} else if (!o || o->when == DURING_ASK) {
		char why[96];
		snprintf(why, sizeof(why), "unknown op '%.40s'", op);
		conn_err(ctx, c, why);
	} else {
		o->run(ctx, c, req);
	}
}

static void on_readable(daimon_ctx *ctx, struct conn *c)
{
	char buf[65536];
	int gone = 0;
	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) { /* (what it sent before it went is still done: a summary asked on leaving) */
			gone = 1;
			break;
		}
		daimon_buf_add(&c->in, buf, (size_t)n);
	}
	cJSON *req;
	while (!c->closing && daimon_json_take_line(&c->in, &req) >= 0) {
		if (!cJSON_IsObject(req))
			conn_err(ctx, c, "a request is one JSON object per line");
		else
			on_request(ctx, c, req);
		cJSON_Delete(req);
	}
	if (c->in.len > LINE_BOUND) {
		conn_err(ctx, c, "request line too long");
		c->closing = 1;
	}
	if (gone)
		c->closing = 2;
}

/* No session could take the request: it ends here, as the session's
 * outcome would have. */
static void opened(daimon_ctx *ctx, struct conn *c, const daimon_channel_opened *o)
{
	c->session = o->session;
	if (c->waiting == WAIT_CANCEL) { /* (the stop is on its way to the session) */
		c->waiting = WAIT_NONE;
		c->session = 0;
		if (o->session)
			conn_ok(ctx, c, NULL);
		else
			conn_err(ctx, c, o->error);
		return;
	}
	if (o->session && c->cancel) /* (asked before the session was known) */
		daimon_send(daimon_ctx_rt(ctx), o->session, DAIMON_SESSION_STOP, NULL, 0);
	if (o->session)
		return;
	if (c->waiting == WAIT_ASK) {
		cJSON *m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "event", "done");
		cJSON_AddBoolToObject(m, "ok", 0);
		cJSON_AddNumberToObject(m, "status", -1);
		cJSON_AddStringToObject(m, "error", o->error);
		conn_send(ctx, c, m);
	} else {
		conn_err(ctx, c, o->error);
	}
	c->waiting = WAIT_NONE;
	daimon_set_op(ctx, NULL);
}

/* The session's events go to the client as they come (listen.h). */
static void on_session(daimon_ctx *ctx, struct conn *c, const daimon_msg *m)
{
	cJSON *e = daimon_session_event_json(m, c->waiting == WAIT_ASK);
	if (!e)
		return;
	if (m->type == DAIMON_SESSION_DONE) {
		c->waiting = WAIT_NONE;
		c->session = 0;
		daimon_set_op(ctx, NULL);
	}
	conn_send(ctx, c, e);
}

static int conn_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct conn *c = state;
	if (m->type == DAIMON_MSG_FD) {
		if (m->arg & EPOLLOUT)
			conn_flush(ctx, c);
		if (m->arg & (EPOLLIN | EPOLLHUP | EPOLLERR))
			on_readable(ctx, c);
	} else if (m->type == DAIMON_MSG_JOB_DONE && c->waiting == WAIT_SKILLS) {
		const daimon_job_done *d = m->data;
		daimon_job_release(c->job);
		c->job = NULL;
		c->waiting = WAIT_NONE;
		if (d->status < 0) {
			conn_err(ctx, c, d->text);
		} else {
			cJSON *r = cJSON_CreateObject();
			cJSON_AddNumberToObject(r, "swapped", atoi(d->text));
			conn_ok(ctx, c, r);
		}
	} else if (m->type == DAIMON_MSG_JOB_DONE && c->waiting == WAIT_CRON) {
		cron_replied(ctx, c, m->data);
	} else if (m->type == DAIMON_CHANNEL_OPENED && m->len >= sizeof(daimon_channel_opened) &&
		   (c->waiting == WAIT_ASK || c->waiting == WAIT_SUMMARY || c->waiting == WAIT_CANCEL)) {
		opened(ctx, c, m->data);
	} else if (m->from && m->from == c->session) {
		on_session(ctx, c, m);
	}
	if (c->closing == 2 || (c->closing && !c->out.len))
		return DAIMON_STOP(DAIMON_EXIT_NORMAL);
	return DAIMON_CONTINUE;
}

/* Stops the turn this connection asked for, and only that one: at its
 * session if known, else through the sessions actor, after the ask. */
static void stop_my_turn(daimon_ctx *ctx, struct conn *c)
{
	daimon_aid me = daimon_self(ctx);
	if (c->session)
		daimon_send(daimon_ctx_rt(ctx), c->session, DAIMON_SESSION_STOP, &me, sizeof(me));
	else if (c->key)
		daimon_channel_post(&c->g->channel_host, 0, 0, c->key, DAIMON_SESSION_STOP, &me, sizeof(me));
}

static int conn_init(daimon_ctx *ctx, void *state)
{
	struct conn *c = state;
	c->events = EPOLLIN;
	c->watch = daimon_watch_fd(ctx, c->fd, c->events);
	return c->watch ? DAIMON_CONTINUE : DAIMON_STOP(DAIMON_EXIT_CRASHED);
}

static void conn_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)ctx, (void)reason;
	struct conn *c = state;
	atomic_fetch_sub(&c->ctl->clients, 1);
	if (c->waiting == WAIT_ASK) /* gone mid-ask (killed, Ctrl-C): nobody hears the turn, so it stops */
		stop_my_turn(ctx, c);
	free(c->key);
	if (!c->watch)
		close(c->fd);
	daimon_job_cancel(c->job);
	daimon_job_release(c->job);
	daimon_buf_release(&c->in);
	daimon_buf_release(&c->out);
	free(c);
}

static const daimon_behaviour conn_behaviour = {
	.name = "control-client", .init = conn_init, .handle = conn_handle, .terminate = conn_terminate};

/* ---- the listener ---- */

static void on_accept(daimon_ctx *ctx, daimon_control *ctl)
{
	for (;;) {
		int fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or a client that went before we took it */
		struct ucred cr;
		socklen_t len = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || cr.uid != getuid()) {
			static const char no[] = "{\"ok\":false,\"error\":\"this daemon serves its own user only\"}\n";
			ssize_t w = send(fd, no, sizeof(no) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)w;
			close(fd);
			continue;
		}
		struct conn *c = daimon_xcalloc(1, sizeof(*c));
		c->g = ctl->g;
		c->ctl = ctl;
		c->fd = fd;
		/* Not the listener's children: a client waiting for `stop` keeps
		 * its connection until the process is gone. */
		daimon_spawn_opts o = {.behaviour = &conn_behaviour, .state = c};
		atomic_fetch_add(&ctl->clients, 1); /* (conn_terminate takes it back) */
		if (!daimon_spawn(daimon_ctx_rt(ctx), &o)) {
			atomic_fetch_sub(&ctl->clients, 1);
			close(fd);
			free(c);
		}
	}
}

static void on_signal(daimon_ctx *ctx, daimon_control *ctl)
{
	(void)ctx;
	struct signalfd_siginfo si;
	while (read(ctl->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			if (daimon_gateway_reload(ctl->g) < 0)
				fprintf(stderr, "daimon: the configuration is not reloaded: %s\n", daimon_error_last());
			else
				fprintf(stderr, "daimon: configuration reloaded\n");
		} else {
			fprintf(stderr, "daimon: %s: stopping\n", strsignal((int)si.ssi_signo));
			daimon_gateway_request_stop(ctl->g);
		}
	}
}

static int listener_init(daimon_ctx *ctx, void *state)
{
	daimon_control *ctl = state;
	if (!daimon_watch_fd_borrowed(ctx, ctl->listen_fd, EPOLLIN) ||
	    (ctl->sig_fd >= 0 && !daimon_watch_fd_borrowed(ctx, ctl->sig_fd, EPOLLIN)))
		return DAIMON_STOP(DAIMON_EXIT_CRASHED);
	daimon_set_state_label(ctx, "listening");
	return DAIMON_CONTINUE;
}

static int listener_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	daimon_control *ctl = state;
	if (m->type == DAIMON_MSG_FD) {
		on_accept(ctx, ctl);
		if (ctl->sig_fd >= 0)
			on_signal(ctx, ctl);
	}
	return DAIMON_CONTINUE;
}

static const daimon_behaviour listener_behaviour = {
	.name = "control", .init = listener_init, .handle = listener_handle};

static int bind_socket(daimon_control *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(c->path) >= sizeof(sa.sun_path))
		return daimon_error(
			"the control socket path '%s' is too long for a Unix socket; use a shorter DAIMON_HOME",
			c->path);
	strcpy(sa.sun_path, c->path);
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0)
		return daimon_error_errno("cannot make the control socket");
	unlink(c->path); /* a stale one: the lock says no daemon holds it */
	mode_t old = umask(0177);
	int rc = bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || chmod(c->path, 0600) < 0 || listen(c->listen_fd, 64) < 0)
		return daimon_error_errno("cannot listen on '%s'", c->path);
	return 0;
}

/* The pid (and "local") the lock file holds, for a message. */
static void lock_holder(int fd, char *out, size_t size, int *local)
{
	char line[64] = "";
	ssize_t n = pread(fd, line, sizeof(line) - 1, 0);
	line[n > 0 ? n : 0] = 0;
	line[strcspn(line, "\n")] = 0;
	*local = strstr(line, " local") != NULL;
	line[strcspn(line, " ")] = 0;
	snprintf(out, size, "%s", line[0] ? line : "?");
}

int daimon_control_lock(const char *home, int how)
{
	char *run = daimon_home_path(home, "run"), *path = daimon_control_lock_path(home);
	int fd = -1;
	if (mkdir(run, 0700) < 0 && errno != EEXIST) {
		daimon_error_errno("cannot create '%s'", run);
		goto out;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		daimon_error_errno("cannot open '%s'", path);
		goto out;
	}
	int local = 0;
	char pid[32];
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		lock_holder(fd, pid, sizeof(pid), &local);
		if (how == DAIMON_CONTROL_SERVE && local) {
			/* A command's own daemon (ask or chat with none running)
			 * ends with that command: this one takes over then. */
			fprintf(stderr, "daimon: waiting for pid %s (a command running without the daemon) to end\n",
				pid);
			while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
				;
		} else {
			daimon_error_code(DAIMON_EBUSY,
					  "a daemon is already running for '%s' (pid %s); `daimon stop` stops it", home,
					  pid);
			close(fd);
			fd = DAIMON_EBUSY;
			goto out;
		}
	}
	int n = snprintf(pid, sizeof(pid), "%d%s\n", (int)getpid(), how == DAIMON_CONTROL_LOCAL ? " local" : "");
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		daimon_error_errno("cannot write '%s'", path);
		close(fd);
		fd = -1;
	}
out:
	free(run);
	free(path);
	return fd;
}

int daimon_control_start(daimon_control **out, daimon_gateway *g, int lock_fd, int how)
{
	daimon_control *c = daimon_xcalloc(1, sizeof(*c));
	c->g = g;
	c->lock_fd = lock_fd;
	c->listen_fd = c->sig_fd = -1;
	c->path = daimon_control_path(g->store.home);
	c->lock_path = daimon_control_lock_path(g->store.home);
	if (bind_socket(c) < 0)
		goto fail;
	if (how == DAIMON_CONTROL_SERVE) {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGHUP);
		c->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
		if (c->sig_fd < 0) {
			daimon_error_errno("cannot watch signals");
			goto fail;
		}
	}
	daimon_spawn_opts o = {.behaviour = &listener_behaviour, .state = c};
	c->listener = daimon_spawn(g->rt, &o);
	if (!c->listener)
		goto fail;
	daimon_register(g->rt, "control", c->listener);
	*out = c;
	return 0;
fail:
	daimon_control_free(c);
	return -1;
}

int daimon_control_clients(daimon_control *c)
{
	return atomic_load(&c->clients);
}

void daimon_control_close(daimon_control *c)
{
	if (c->listener) {
		daimon_kill(c->g->rt, c->listener);
		c->listener = 0;
	}
	if (c->listen_fd >= 0) {
		unlink(c->path);
	}
}

void daimon_control_free(daimon_control *c)
{
	if (!c)
		return;
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		unlink(c->path);
	}
	if (c->sig_fd >= 0)
		close(c->sig_fd);
	if (c->lock_fd >= 0) {
		if (c->listen_fd >= 0) /* ours: no daemon any more */
			ftruncate(c->lock_fd, 0) == 0 ? (void)0 : (void)0;
		close(c->lock_fd);
	}
	free(c->path);
	free(c->lock_path);
	free(c);
}
