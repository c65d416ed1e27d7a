/*
 * port.c — see port.h.
 */
#include "core/port.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/intensity.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"
#include "core/work.h"

extern char **environ;

/* A line (one message) longer than this is a program gone wrong. */
#define PORT_MAX_LINE (64 << 20)

struct pending {
	int64_t id; /* 0: not sent yet (the port is starting) */
	uint64_t ref;
	daimon_aid caller;
	uint64_t timer;
	long timeout_ms;
	char *method, *params;
};

struct port {
	char *name;
	char **argv, **envp;
	const daimon_port_protocol *proto; /* (never NULL: plain JSON-RPC's is empty) */
	char *hello, *data;
	daimon_aid notify;
	int log_fd;
	long restart_ms, stop_ms;
	uint64_t restart_timer, stop_timer;
	long ping_ms;
	uint64_t ping_timer;
	int64_t ping_id; /* the ping awaiting its answer; 0: none */
	int stop_step;   /* shutting down: 1 stdin closed, 2 SIGTERM sent, 3 SIGKILL sent */
	int streak;      /* failures since it was last ready */
	int err;         /* the program's stderr (runtime's while watched) */
	uint64_t err_watch;
	daimon_buf errbuf;
	long rest_ms;
	enum { DOWN, STARTING, READY, RESTING } state;
	pid_t pid;
	int to, from; /* from: the runtime's while watched (it closes it) */
	uint64_t watch;
	int64_t init_id, next_id;
	daimon_buf in;
	daimon_buf out;     /* for the program, not yet taken by its pipe */
	uint64_t out_watch; /* waiting for room in that pipe */
	struct pending *p;
	size_t np, cap;
	daimon_intensity failures; /* too many within the period: it rests */
	uint64_t rest_timer;
	int draining; /* cancelled: exits once the calls in flight are answered */
};

static int start(daimon_ctx *ctx, struct port *pt);
static void on_stderr(daimon_ctx *ctx, struct port *pt, int last);

static void answer(daimon_ctx *ctx, const struct pending *p, int status, const char *text)
{
	daimon_job_reply(daimon_ctx_rt(ctx), 0, p->caller, p->ref, status, text, strlen(text));
}

static void drop(daimon_ctx *ctx, struct port *pt, size_t i)
{
	if (pt->p[i].timer)
		daimon_timer_cancel(ctx, pt->p[i].timer);
	free(pt->p[i].method);
	free(pt->p[i].params);
	pt->p[i] = pt->p[--pt->np];
}

/* Writes what is queued for the program as far as its pipe takes it. */
static void flush_out(struct port *pt)
{
	while (pt->out.len && pt->to >= 0) {
		ssize_t n = write(pt->to, pt->out.ptr, pt->out.len);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno != EAGAIN)
				daimon_buf_clear(&pt->out); /* the program is gone: its exit says so */
			return;
		}
		memmove(pt->out.ptr, pt->out.ptr + n, pt->out.len - (size_t)n);
		pt->out.len -= (size_t)n;
	}
}

/* One message to the program, queued: a request larger than its pipe
 * goes out as the program reads (port_handle watches for room). */
static void send_line(struct port *pt, cJSON *msg)
{
	char *s = cJSON_PrintUnformatted(msg);
	cJSON_Delete(msg);
	if (pt->to >= 0) {
		daimon_buf_adds(&pt->out, s);
		daimon_buf_addc(&pt->out, '\n');
		flush_out(pt);
	}
	cJSON_free(s);
}

static cJSON *request(int64_t id, const char *method, const char *params)
{
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "jsonrpc", "2.0");
	cJSON_AddNumberToObject(m, "id", (double)id);
	cJSON_AddStringToObject(m, "method", method);
	cJSON *p = params && *params ? cJSON_Parse(params) : NULL;
	if (p)
		cJSON_AddItemToObject(m, "params", p);
	return m;
}

static void send_pending(struct port *pt, struct pending *p)
{
	p->id = ++pt->next_id;
	cJSON *m = request(p->id, p->method, p->params);
	cJSON *params = cJSON_GetObjectItemCaseSensitive(m, "params");
	if (cJSON_IsObject(params) && pt->proto->tag)
		pt->proto->tag(params, p->ref);
	send_line(pt, m);
}

/* The program is gone (or must go): every call in flight fails with `why`. */
static void went_down(daimon_ctx *ctx, struct port *pt, const char *why)
{
	if (pt->pid > 0)
		kill(pt->pid, SIGKILL); /* (the runtime reaps it) */
	pt->pid = -1;
	if (pt->out_watch)
		daimon_unwatch_fd(ctx, pt->out_watch);
	pt->out_watch = 0;
	daimon_buf_clear(&pt->out);
	if (pt->to >= 0)
		close(pt->to);
	pt->to = -1;
	if (pt->watch)
		daimon_unwatch_fd(ctx, pt->watch);
	pt->watch = 0;
	pt->from = -1;
	pt->ping_id = 0;
	daimon_buf_clear(&pt->in);
	while (pt->np) {
		answer(ctx, &pt->p[0], -2, why);
		drop(ctx, pt, 0);
	}
	int too_many = daimon_intensity_record(&pt->failures, daimon_mono_ms());
	if (pt->err >= 0) /* its last words (a traceback) are read before the pipe goes */
		on_stderr(ctx, pt, 1);
	daimon_buf_clear(&pt->errbuf);
	if (too_many) {
		pt->state = RESTING;
		pt->rest_timer = daimon_timer_start(ctx, pt->rest_ms, 0);
		daimon_set_state_label(ctx, "resting");
	} else {
		pt->state = DOWN;
		daimon_set_state_label(ctx, "down");
		if (pt->restart_ms > 0 && !pt->draining && !pt->restart_timer) {
			int shift = pt->streak < 10 ? pt->streak : 10;
			pt->restart_timer = daimon_timer_start(ctx, pt->restart_ms << shift, 0);
		}
	}
	pt->streak++;
}

static void tell(daimon_ctx *ctx, struct port *pt, const cJSON *msg)
{
	if (!pt->notify)
		return;
	char *text = cJSON_PrintUnformatted(msg);
	daimon_send(daimon_ctx_rt(ctx), pt->notify, DAIMON_PORT_NOTE, text, strlen(text) + 1);
	cJSON_free(text);
}

/* The program's stderr, line by line into the log, named (`last`: the
 * program is gone; what is left is logged and the pipe let go). */
static void on_stderr(daimon_ctx *ctx, struct port *pt, int last)
{
	char buf[8192];
	ssize_t got;
	while ((got = read(pt->err, buf, sizeof(buf))) > 0)
		daimon_buf_add(&pt->errbuf, buf, (size_t)got);
	if (last)
		got = 0;
	char *nl;
	while (pt->errbuf.len &&
	       ((nl = memchr(pt->errbuf.ptr, '\n', pt->errbuf.len)) || pt->errbuf.len > 4096 || got == 0)) {
		size_t n = nl ? (size_t)(nl - pt->errbuf.ptr) : pt->errbuf.len, used = nl ? n + 1 : n;
		char *line = daimon_xasprintf("daimon: %s: %.*s\n", pt->name, (int)n, pt->errbuf.ptr);
		daimon_write_all(pt->log_fd, line, strlen(line));
		free(line);
		memmove(pt->errbuf.ptr, pt->errbuf.ptr + used, pt->errbuf.len - used);
		pt->errbuf.len -= used;
	}
	if (got == 0) { /* closed: no more to read */
		daimon_unwatch_fd(ctx, pt->err_watch);
		pt->err_watch = 0;
		pt->err = -1;
	}
}

static int start(daimon_ctx *ctx, struct port *pt)
{
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) < 0)
		return daimon_error_errno("cannot start %s", pt->name);
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]), close(in[1]);
		return daimon_error_errno("cannot start %s", pt->name);
	}
	int err[2];
	if (pipe2(err, O_CLOEXEC) < 0) {
		close(in[0]), close(in[1]), close(out[0]), close(out[1]);
		return daimon_error_errno("cannot start %s", pt->name);
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	/* (a bare command name is looked for on PATH) */
	int rc = posix_spawnp(&pt->pid, pt->argv[0], &fa, NULL, pt->argv, pt->envp ? pt->envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (rc != 0) {
		close(in[1]), close(out[0]), close(err[0]);
		pt->pid = -1;
		errno = rc;
		return daimon_error_errno("cannot start %s ('%s')", pt->name, pt->argv[0]);
	}
	/* Our ends never block a scheduler; the program's stay blocking (a
	 * program writing to a non-blocking stdout fails once the pipe is
	 * full: it is the same open file on both sides). */
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	pt->to = in[1];
	daimon_adopt_child(ctx, pt->pid);
	pt->from = out[0];
	pt->watch = daimon_watch_fd(ctx, out[0], EPOLLIN);
	pt->err = err[0];
	pt->err_watch = daimon_watch_fd(ctx, err[0], EPOLLIN);
	if (pt->proto->hello && pt->hello) {
		pt->state = STARTING;
		pt->init_id = ++pt->next_id;
		send_line(pt, request(pt->init_id, pt->proto->hello, pt->hello));
		daimon_set_state_label(ctx, "starting");
	} else {
		pt->state = READY;
		daimon_set_state_label(ctx, "ready");
	}
	if (pt->ping_ms > 0 && pt->proto->ping && !pt->ping_timer)
		pt->ping_timer = daimon_timer_start(ctx, pt->ping_ms, pt->ping_ms);
	return 0;
}

static void on_call(daimon_ctx *ctx, struct port *pt, const daimon_msg *m)
{
	const daimon_port_call *c = m->data;
	struct pending p = {.ref = c->ref, .caller = m->from, .timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 30000};
	if (pt->state == RESTING) {
		char why[160];
		snprintf(why, sizeof(why), "%s failed %d times within %ld s; it rests", pt->name, pt->failures.limit,
			 (long)(pt->failures.period_ms / 1000));
		answer(ctx, &p, -2, why);
		return;
	}
	if (pt->state == DOWN && start(ctx, pt) < 0) {
		answer(ctx, &p, -2, daimon_error_last());
		went_down(ctx, pt, daimon_error_last());
		return;
	}
	p.method = daimon_xstrdup(c->method);
	p.params = daimon_xstrdup(c->params);
	p.timer = daimon_timer_start(ctx, p.timeout_ms, 0);
	if (pt->np == pt->cap) {
		pt->cap = pt->cap ? 2 * pt->cap : 8;
		pt->p = daimon_xrealloc(pt->p, pt->cap * sizeof(*pt->p));
	}
	pt->p[pt->np++] = p;
	if (pt->state == READY)
		send_pending(pt, &pt->p[pt->np - 1]);
}

static void on_message(daimon_ctx *ctx, struct port *pt, const cJSON *msg)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	const char *method = daimon_json_str(msg, "method");
	if (method) {
		const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
		uint64_t ref;
		if (id) { /* a request of the program's */
			int code = -32601;
			const char *why = "method not found";
			cJSON *res = pt->proto->serve ? pt->proto->serve(method, params, pt->data, &code, &why) : NULL;
			send_line(pt, daimon_jsonrpc_response(id, res, res ? 0 : code, res ? NULL : why));
		} else if (pt->proto->progress && pt->proto->progress(method, params, &ref)) {
			for (size_t i = 0; i < pt->np; i++)
				if (pt->p[i].ref == ref) {
					char *text = cJSON_PrintUnformatted(params);
					daimon_job_send(daimon_ctx_rt(ctx), 0, pt->p[i].caller, DAIMON_PORT_PROGRESS,
							pt->p[i].ref, 0, text, strlen(text));
					cJSON_free(text);
				}
		} else {
			tell(ctx, pt, msg);
		}
		return;
	}
	if (!cJSON_IsNumber(id))
		return;
	int64_t rid = (int64_t)id->valuedouble;
	if (pt->ping_id && rid == pt->ping_id) { /* alive */
		pt->ping_id = 0;
		return;
	}
	if (pt->state == STARTING && rid == pt->init_id && !cJSON_GetObjectItemCaseSensitive(msg, "result")) {
		const char *why = daimon_json_str(cJSON_GetObjectItemCaseSensitive(msg, "error"), "message");
		char *text =
			daimon_xasprintf("%s refused to start: %s", pt->name, why ? why : "an error without a message");
		went_down(ctx, pt, text);
		free(text);
		return;
	}
	if (pt->state == STARTING && rid == pt->init_id) {
		pt->state = READY;
		daimon_set_state_label(ctx, "ready");
		if (pt->proto->welcomed)
			send_line(pt, daimon_jsonrpc_notification(pt->proto->welcomed, NULL));
		pt->streak = 0;
		cJSON *ready = cJSON_CreateObject();
		cJSON_AddStringToObject(ready, "method", "daimon/ready");
		cJSON_AddItemToObject(ready, "result",
				      cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(msg, "result"), 1));
		tell(ctx, pt, ready);
		cJSON_Delete(ready);
		for (size_t i = 0; i < pt->np; i++)
			send_pending(pt, &pt->p[i]);
		return;
	}
	for (size_t i = 0; i < pt->np; i++) {
		if (pt->p[i].id != rid)
			continue;
		const cJSON *result = cJSON_GetObjectItemCaseSensitive(msg, "result");
		if (result) {
			char *text = cJSON_PrintUnformatted(result);
			answer(ctx, &pt->p[i], 0, text);
			cJSON_free(text);
		} else {
			const char *why = daimon_json_str(cJSON_GetObjectItemCaseSensitive(msg, "error"), "message");
			answer(ctx, &pt->p[i], -1, why ? why : "an error without a message");
		}
		drop(ctx, pt, i);
		return;
	}
}

static void on_readable(daimon_ctx *ctx, struct port *pt, int fd)
{
	char buf[65536];
	ssize_t got;
	while ((got = read(fd, buf, sizeof(buf))) > 0) {
		daimon_buf_add(&pt->in, buf, (size_t)got);
		if (!memchr(buf, '\n', (size_t)got)) { /* no message ends here: the buffer is not scanned again */
			if (pt->in.len <= PORT_MAX_LINE)
				continue;
			char why[160];
			snprintf(why, sizeof(why), "%s sent a message over %d MiB; it was stopped", pt->name,
				 PORT_MAX_LINE >> 20);
			went_down(ctx, pt, why);
			return;
		}
		cJSON *msg;
		while (daimon_json_take_line(&pt->in, &msg) >= 0) {
			if (msg)
				on_message(ctx, pt, msg);
			cJSON_Delete(msg);
			if (pt->pid < 0)
				return;
		}
	}
	if (got == 0) { /* its output closed: its exit follows */
		daimon_unwatch_fd(ctx, pt->watch);
		pt->watch = 0;
		pt->from = -1;
	}
}

/* The next step of a shutdown: stdin closed, then SIGTERM, then SIGKILL. */
static void shutdown_step(daimon_ctx *ctx, struct port *pt)
{
	pt->stop_step++;
	if (pt->stop_step == 1) {
		if (pt->out_watch)
			daimon_unwatch_fd(ctx, pt->out_watch);
		pt->out_watch = 0;
		if (pt->to >= 0)
			close(pt->to);
		pt->to = -1;
		daimon_set_state_label(ctx, "stopping");
	} else if (pt->pid > 0) {
		kill(pt->pid, pt->stop_step == 2 ? SIGTERM : SIGKILL);
	}
	if (pt->stop_step < 3)
		pt->stop_timer = daimon_timer_start(ctx, pt->stop_ms, 0);
}

static int port_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct port *pt = state;
	switch (m->type) {
	case DAIMON_PORT_CALL:
		if (m->len >= sizeof(daimon_port_call))
			on_call(ctx, pt, m);
		break;
	case DAIMON_PORT_CANCEL:
		for (size_t i = 0; m->len == sizeof(uint64_t) && i < pt->np; i++)
			if (pt->p[i].ref == *(const uint64_t *)m->data) {
				const char *method = NULL;
				cJSON *p = pt->p[i].id && pt->proto->cancelled
						   ? pt->proto->cancelled(pt->p[i].id, &method)
						   : NULL;
				if (p)
					send_line(pt, daimon_jsonrpc_notification(method, p));
				answer(ctx, &pt->p[i], DAIMON_ECANCELLED, "cancelled");
				drop(ctx, pt, i);
				break;
			}
		break;
	case DAIMON_MSG_FD:
		if (m->ref == pt->watch && pt->from >= 0)
			on_readable(ctx, pt, pt->from);
		else if (m->ref == pt->err_watch && pt->err >= 0)
			on_stderr(ctx, pt, 0);
		else if (m->ref == pt->out_watch)
			flush_out(pt);
		break;
	case DAIMON_MSG_CHILD:
		if ((pid_t)m->ref == pt->pid) {
			char why[160];
			int st = (int)m->arg;
			if (WIFSIGNALED(st))
				snprintf(why, sizeof(why), "%s crashed: signal %d (%s)", pt->name, WTERMSIG(st),
					 strsignal(WTERMSIG(st)));
			else
				snprintf(why, sizeof(why), "%s ended (exit %d)", pt->name, WEXITSTATUS(st));
			pt->pid = -1; /* (reaped) */
			if (pt->stop_step)
				return DAIMON_STOP(DAIMON_EXIT_CANCELLED);
			went_down(ctx, pt, why);
		}
		break;
	case DAIMON_MSG_TIMER:
		if (m->ref == pt->ping_timer) {
			if (pt->state != READY || pt->stop_step || pt->np) { /* (a call has its own deadline; a
										* program busy with one may not answer) */
				pt->ping_id = 0;
				break;
			}
			if (pt->ping_id) {
				char why[160];
				snprintf(why, sizeof(why), "%s did not answer a ping within %.1f s and was stopped",
					 pt->name, (double)pt->ping_ms / 1000);
				went_down(ctx, pt, why);
				break;
			}
			pt->ping_id = ++pt->next_id;
			send_line(pt, request(pt->ping_id, pt->proto->ping, NULL));
			break;
		}
		if (m->ref == pt->stop_timer) {
			pt->stop_timer = 0;
			shutdown_step(ctx, pt);
			break;
		}
		if (m->ref == pt->restart_timer) {
			pt->restart_timer = 0;
			if (pt->state == DOWN && !pt->draining && start(ctx, pt) < 0)
				went_down(ctx, pt, daimon_error_last());
			break;
		}
		if (m->ref == pt->rest_timer) {
			pt->rest_timer = 0;
			pt->state = DOWN;
			daimon_set_state_label(ctx, "down");
			if (pt->restart_ms > 0 && !pt->draining && start(ctx, pt) < 0)
				went_down(ctx, pt, daimon_error_last());
			break;
		}
		for (size_t i = 0; i < pt->np; i++)
			if (pt->p[i].timer == m->ref) {
				char why[160];
				snprintf(why, sizeof(why), "%s did not answer within %.1f s and was stopped", pt->name,
					 (double)pt->p[i].timeout_ms / 1000);
				pt->p[i].timer = 0;
				answer(ctx, &pt->p[i], -2, why);
				drop(ctx, pt, i);
				went_down(ctx, pt, why);
				break;
			}
		break;
	}
	if (pt->out.len && !pt->out_watch && pt->to >= 0) /* the pipe is full: on when it has room */
		pt->out_watch = daimon_watch_fd_borrowed(ctx, pt->to, EPOLLOUT);
	else if (!pt->out.len && pt->out_watch) {
		daimon_unwatch_fd(ctx, pt->out_watch);
		pt->out_watch = 0;
	}
	if (pt->draining && !pt->np && pt->pid <= 0)
		return DAIMON_STOP(DAIMON_EXIT_CANCELLED);
	if (pt->draining && !pt->np && !pt->stop_step)
		shutdown_step(ctx, pt);
	return DAIMON_CONTINUE;
}

static void port_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)ctx, (void)reason;
	struct port *pt = state;
	if (pt->to >= 0)
		close(pt->to);
	for (size_t i = 0; i < pt->np; i++)
		free(pt->p[i].method), free(pt->p[i].params);
	free(pt->p);
	for (char **a = pt->argv; a && *a; a++)
		free(*a);
	free(pt->argv);
	daimon_intensity_release(&pt->failures);
	free(pt->hello);
	free(pt->data);
	for (char **e = pt->envp; e && *e; e++)
		free(*e);
	free(pt->envp);
	free(pt->name);
	daimon_buf_release(&pt->in);
	daimon_buf_release(&pt->out);
	daimon_buf_release(&pt->errbuf);
	free(pt);
}

/* Cancelled (a new version of its program replaces it, the runtime
 * stops): the calls in flight may finish, within the deadline. */
static int port_on_cancel(daimon_ctx *ctx, void *state)
{
	struct port *pt = state;
	pt->draining = 1;
	if (pt->restart_timer)
		daimon_timer_cancel(ctx, pt->restart_timer);
	if (pt->ping_timer)
		daimon_timer_cancel(ctx, pt->ping_timer);
	pt->restart_timer = pt->ping_timer = 0;
	if (pt->pid <= 0 && !pt->np)
		return DAIMON_EXIT_CANCELLED;
	if (pt->np)
		daimon_set_state_label(ctx, "draining");
	else
		shutdown_step(ctx, pt);
	return DAIMON_CONTINUE;
}

static const daimon_behaviour port_behaviour = {
	.name = "port", .handle = port_handle, .terminate = port_terminate, .on_cancel = port_on_cancel};

daimon_aid daimon_port_start(daimon_rt *rt, const daimon_port_opts *o)
{
	struct port *pt = daimon_xcalloc(1, sizeof(*pt));
	pt->name = daimon_xstrdup(o->name);
	size_t n = 0;
	while (o->argv[n])
		n++;
	pt->argv = daimon_xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		pt->argv[i] = daimon_xstrdup(o->argv[i]);
	static const daimon_port_protocol plain = {0};
	pt->proto = o->protocol ? o->protocol : &plain;
	pt->hello = o->hello ? daimon_xstrdup(o->hello) : NULL;
	pt->data = o->data ? daimon_xstrdup(o->data) : NULL;
	pt->notify = o->notify;
	pt->log_fd = o->log_fd > 0 ? o->log_fd : 2;
	pt->restart_ms = o->restart_ms;
	pt->stop_ms = o->stop_ms > 0 ? o->stop_ms : 2000;
	pt->ping_ms = o->ping_ms;
	pt->err = -1;
	if (o->env && o->env[0]) { /* the environment, with o->env set over it */
		size_t ne = 0, k = 0, nx = 0;
		while (environ[ne])
			ne++;
		while (o->env[nx])
			nx++;
		pt->envp = daimon_xcalloc(ne + nx + 1, sizeof(char *));
		for (size_t i = 0; i < ne; i++) {
			size_t klen = strcspn(environ[i], "=");
			int over = 0;
			for (size_t j = 0; j < nx && !over; j++)
				over = !strncmp(o->env[j], environ[i], klen) && o->env[j][klen] == '=';
			if (!over)
				pt->envp[k++] = daimon_xstrdup(environ[i]);
		}
		for (size_t j = 0; j < nx; j++)
			pt->envp[k++] = daimon_xstrdup(o->env[j]);
	}
	daimon_intensity_init(&pt->failures, o->intensity > 0 ? o->intensity : 5,
			      o->period_ms > 0 ? o->period_ms : 60000);
	pt->rest_ms = o->rest_ms > 0 ? o->rest_ms : 60000;
	pt->pid = -1;
	pt->to = pt->from = -1;
	daimon_spawn_opts so = {.behaviour = &port_behaviour,
				.state = pt,
				.parent = o->parent,
				.flags = o->parent ? DAIMON_SPAWN_CHILD : 0};
	daimon_aid id = daimon_spawn(rt, &so);
	if (!id) {
		port_terminate(NULL, pt, 0);
		return 0;
	}
	char *reg = daimon_xasprintf("port:%s", o->name);
	daimon_register(rt, reg, id);
	free(reg);
	return id;
}

int daimon_port_call_send(daimon_ctx *ctx, daimon_aid port, uint64_t ref, const char *method, const char *params,
			  long timeout_ms)
{
	size_t len = params ? strlen(params) : 0, n = sizeof(daimon_port_call) + len + 1;
	daimon_port_call *c = daimon_xcalloc(1, n);
	c->ref = ref;
	c->timeout_ms = timeout_ms;
	snprintf(c->method, sizeof(c->method), "%s", method);
	memcpy(c->params, params ? params : "", len + 1);
	int rc = daimon_send(daimon_ctx_rt(ctx), port, DAIMON_PORT_CALL, c, n);
	free(c);
	return rc;
}
