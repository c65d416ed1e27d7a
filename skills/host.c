/*
 * host.c — see host.h.
 */
#include "skills/host.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"
#include "skills/skills.h"

extern char **environ;

#define MCP_VERSION "2025-11-25"
/* Restart intensity, as a supervisor's: this many failures within the
 * period, and the skill rests for a period before it is tried again. */
#define HOST_INTENSITY 5
#define HOST_PERIOD_MS 60000

/* ---- the server ---- */

static void send_json(int fd, cJSON *msg)
{
	char *s = cJSON_PrintUnformatted(msg);
	size_t n = strlen(s);
	s[n] = '\n'; /* (replaces the NUL; written with its length) */
	daimon_write_all(fd, s, n + 1);
	cJSON_free(s);
	cJSON_Delete(msg);
}

static cJSON *reply_to(const cJSON *req)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "jsonrpc", "2.0");
	cJSON_AddItemToObject(r, "id", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(req, "id"), 1));
	return r;
}

struct progress_to {
	int fd;
	const cJSON *token;
};

/* notifications/progress for the call in hand (the client's progressToken). */
static void notify_progress(void *payload, double done, double total, const char *message)
{
	struct progress_to *p = payload;
	if (!p->token)
		return;
	cJSON *n = cJSON_CreateObject();
	cJSON_AddStringToObject(n, "jsonrpc", "2.0");
	cJSON_AddStringToObject(n, "method", "notifications/progress");
	cJSON *params = cJSON_AddObjectToObject(n, "params");
	cJSON_AddItemToObject(params, "progressToken", cJSON_Duplicate(p->token, 1));
	cJSON_AddNumberToObject(params, "progress", done);
	if (total > 0)
		cJSON_AddNumberToObject(params, "total", total);
	if (message)
		cJSON_AddStringToObject(params, "message", message);
	send_json(p->fd, n);
}

static void handle(daimon_skills *sk, const char *skill, const cJSON *req, int out)
{
	const char *method = daimon_json_str(req, "method");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "id");
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(req, "params");
	if (!method || !id)
		return; /* a notification or a response: nothing to answer */
	cJSON *r = reply_to(req);
	if (!strcmp(method, "initialize")) {
		cJSON *res = cJSON_AddObjectToObject(r, "result");
		cJSON_AddStringToObject(res, "protocolVersion", MCP_VERSION);
		cJSON_AddObjectToObject(cJSON_AddObjectToObject(res, "capabilities"), "tools");
		cJSON *info = cJSON_AddObjectToObject(res, "serverInfo");
		char *name = daimon_xasprintf("daimon-skill-%s", skill);
		cJSON_AddStringToObject(info, "name", name);
		cJSON_AddStringToObject(info, "version", DAIMON_VERSION);
		free(name);
	} else if (!strcmp(method, "ping")) {
		cJSON_AddObjectToObject(r, "result");
	} else if (!strcmp(method, "tools/list")) {
		char *desc = daimon_skills_describe(sk);
		cJSON *d = cJSON_Parse(desc);
		free(desc);
		cJSON *tools = cJSON_AddArrayToObject(cJSON_AddObjectToObject(r, "result"), "tools");
		const cJSON *ts = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(d, 0), "tools");
		for (const cJSON *t = ts ? ts->child : NULL; t; t = t->next) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "name", daimon_json_str(t, "name"));
			cJSON_AddStringToObject(o, "description", daimon_json_str(t, "description"));
			cJSON_AddItemToObject(o, "inputSchema",
					      cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(t, "parameters"), 1));
			cJSON_AddItemToArray(tools, o);
		}
		cJSON_Delete(d);
	} else if (!strcmp(method, "tools/call")) {
		const cJSON *args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
		char *a = args ? cJSON_PrintUnformatted(args) : daimon_xstrdup("{}");
		daimon_buf text = DAIMON_BUF_INIT;
		struct progress_to pt = {
			out, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(params, "_meta"), "progressToken")};
		daimon_skill_call_opts o = {.progress = notify_progress, .payload = &pt};
		int rc = daimon_skills_call(sk, skill, daimon_json_str(params, "name") ? daimon_json_str(params, "name") : "",
					    a, &text, &o);
		cJSON *res = cJSON_AddObjectToObject(r, "result");
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "type", "text");
		cJSON_AddStringToObject(c, "text", daimon_buf_cstr(&text));
		cJSON_AddItemToArray(cJSON_AddArrayToObject(res, "content"), c);
		cJSON_AddBoolToObject(res, "isError", rc < 0);
		daimon_buf_release(&text);
		free(a);
	} else {
		cJSON *e = cJSON_AddObjectToObject(r, "error");
		cJSON_AddNumberToObject(e, "code", -32601);
		cJSON_AddStringToObject(e, "message", "method not found");
	}
	send_json(out, r);
}

int daimon_skill_serve(const char *so_path, const char *home, int in_fd, int out_fd)
{
	daimon_skills *sk = daimon_skills_new(home);
	char name[64];
	if (daimon_skills_load(sk, so_path, name) < 0) {
		daimon_skills_free(sk);
		return -1;
	}
	daimon_buf in = DAIMON_BUF_INIT;
	char buf[65536];
	ssize_t got;
	while ((got = read(in_fd, buf, sizeof(buf))) > 0 || (got < 0 && errno == EINTR)) {
		if (got < 0)
			continue;
		daimon_buf_add(&in, buf, (size_t)got);
		char *nl;
		while (in.len && (nl = memchr(in.ptr, '\n', in.len))) {
			cJSON *req = cJSON_ParseWithLength(in.ptr, (size_t)(nl - in.ptr));
			size_t used = (size_t)(nl - in.ptr) + 1;
			if (req) {
				handle(sk, name, req, out_fd);
			} else if (nl > in.ptr) {
				cJSON *r = cJSON_CreateObject();
				cJSON_AddStringToObject(r, "jsonrpc", "2.0");
				cJSON_AddNullToObject(r, "id");
				cJSON *e = cJSON_AddObjectToObject(r, "error");
				cJSON_AddNumberToObject(e, "code", -32700);
				cJSON_AddStringToObject(e, "message", "parse error");
				send_json(out_fd, r);
			}
			cJSON_Delete(req);
			memmove(in.ptr, in.ptr + used, in.len - used);
			in.len -= used;
		}
	}
	daimon_buf_release(&in);
	daimon_skills_free(sk);
	return 0;
}

/* ---- the client ---- */

struct daimon_skill_hostp {
	char *exe, *name;
	size_t memory_mb;
	pthread_mutex_t mu;
	pid_t pid;
	int to, from; /* its stdin, its stdout */
	daimon_buf pending;
	int64_t next_id;
	int64_t failures[HOST_INTENSITY]; /* when the host last failed (ms), a ring */
	int nfail;
};

daimon_skill_hostp *daimon_skill_hostp_new(const char *exe, const char *name, size_t memory_mb)
{
	daimon_skill_hostp *h = daimon_xcalloc(1, sizeof(*h));
	h->exe = daimon_xstrdup(exe);
	h->name = daimon_xstrdup(name);
	h->memory_mb = memory_mb;
	h->pid = -1;
	h->to = h->from = -1;
	pthread_mutex_init(&h->mu, NULL);
	return h;
}

/* The host is gone or must go: kill, reap, forget. The wait status. */
static int reap(daimon_skill_hostp *h, int kill_it)
{
	int st = 0;
	if (h->pid > 0) {
		if (kill_it)
			kill(h->pid, SIGKILL);
		waitpid(h->pid, &st, 0);
	}
	if (h->to >= 0)
		close(h->to);
	if (h->from >= 0)
		close(h->from);
	h->pid = -1;
	h->to = h->from = -1;
	daimon_buf_clear(&h->pending);
	return st;
}

/* One message from the host within `deadline` (ms, monotonic): 1, 0 at
 * end of output, -1 out of time. */
static int read_msg(daimon_skill_hostp *h, int64_t deadline, cJSON **msg)
{
	for (;;) {
		char *nl = h->pending.len ? memchr(h->pending.ptr, '\n', h->pending.len) : NULL;
		if (nl) {
			*msg = cJSON_ParseWithLength(h->pending.ptr, (size_t)(nl - h->pending.ptr));
			size_t used = (size_t)(nl - h->pending.ptr) + 1;
			memmove(h->pending.ptr, h->pending.ptr + used, h->pending.len - used);
			h->pending.len -= used;
			if (*msg)
				return 1;
			continue;
		}
		/* An answer usually comes within microseconds: look again for a
		 * moment before sleeping in poll (a wake-up costs more). */
		char buf[65536];
		ssize_t got = -1;
		for (int spin = 0; spin < 200 && got < 0; spin++) {
			got = read(h->from, buf, sizeof(buf));
			if (got < 0 && errno != EAGAIN && errno != EINTR)
				break;
		}
		if (got == 0)
			return 0;
		if (got > 0) {
			daimon_buf_add(&h->pending, buf, (size_t)got);
			continue;
		}
		int64_t left = deadline - (int64_t)(daimon_mono_ns() / 1000000);
		if (left <= 0)
			return -1;
		struct pollfd p = {h->from, POLLIN, 0};
		int pr = poll(&p, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0)
			return -1;
		got = read(h->from, buf, sizeof(buf));
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got <= 0)
			return 0;
		daimon_buf_add(&h->pending, buf, (size_t)got);
	}
}

struct progress_sink {
	void (*fn)(void *payload, double done, double total, const char *message);
	void *payload;
};

static int request(daimon_skill_hostp *h, const char *method, cJSON *params, int64_t deadline, cJSON **result,
		   const struct progress_sink *sink)
{
	int64_t id = ++h->next_id;
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "jsonrpc", "2.0");
	cJSON_AddNumberToObject(m, "id", (double)id);
	cJSON_AddStringToObject(m, "method", method);
	if (params)
		cJSON_AddItemToObject(m, "params", params);
	send_json(h->to, m);
	for (;;) {
		cJSON *r;
		int rc = read_msg(h, deadline, &r);
		if (rc <= 0)
			return rc == 0 ? -2 : -3; /* gone / out of time */
		const cJSON *rid = cJSON_GetObjectItemCaseSensitive(r, "id");
		if (cJSON_IsNumber(rid) && (int64_t)rid->valuedouble == id) {
			*result = r;
			return 0;
		}
		const char *what = daimon_json_str(r, "method");
		if (what && !strcmp(what, "notifications/progress") && sink && sink->fn) {
			const cJSON *p = cJSON_GetObjectItemCaseSensitive(r, "params");
			const cJSON *total = cJSON_GetObjectItemCaseSensitive(p, "total");
			sink->fn(sink->payload, cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "progress")),
				 cJSON_IsNumber(total) ? total->valuedouble : 0, daimon_json_str(p, "message"));
		}
		cJSON_Delete(r); /* (a notification, or a late answer) */
	}
}

static int start(daimon_skill_hostp *h, int64_t deadline)
{
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) < 0)
		return daimon_error_errno("cannot start the skill host");
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]), close(in[1]);
		return daimon_error_errno("cannot start the skill host");
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	char mem[32];
	snprintf(mem, sizeof(mem), "%zu", h->memory_mb);
	char *argv[] = {h->exe, "skill", "serve", h->name, "--memory-mb", mem, NULL};
	int rc = posix_spawn(&h->pid, h->exe, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	h->to = in[1];
	h->from = out[0];
	fcntl(h->from, F_SETFL, O_NONBLOCK);
	if (rc != 0) {
		errno = rc;
		h->pid = -1;
		reap(h, 0);
		return daimon_error_errno("cannot start the skill host '%s'", h->exe);
	}
	cJSON *params = cJSON_CreateObject(), *res = NULL;
	cJSON_AddStringToObject(params, "protocolVersion", MCP_VERSION);
	cJSON_AddObjectToObject(params, "capabilities");
	cJSON *ci = cJSON_AddObjectToObject(params, "clientInfo");
	cJSON_AddStringToObject(ci, "name", "daimon");
	cJSON_AddStringToObject(ci, "version", DAIMON_VERSION);
	rc = request(h, "initialize", params, deadline, &res, NULL);
	int ok = rc == 0 && cJSON_GetObjectItemCaseSensitive(res, "result");
	cJSON_Delete(res);
	if (!ok) {
		int st = reap(h, 1);
		return daimon_error("the skill host for %s did not start%s", h->name,
				    WIFEXITED(st) && WEXITSTATUS(st) ? " (the skill does not load)" : "");
	}
	cJSON *n = cJSON_CreateObject();
	cJSON_AddStringToObject(n, "jsonrpc", "2.0");
	cJSON_AddStringToObject(n, "method", "notifications/initialized");
	send_json(h->to, n);
	return 0;
}

int daimon_skill_hostp_call(daimon_skill_hostp *h, const char *tool, const char *args_json, long timeout_ms,
			    void (*progress)(void *payload, double done, double total, const char *message),
			    void *payload, daimon_buf *out)
{
	struct progress_sink sink = {progress, payload};
	pthread_mutex_lock(&h->mu);
	int64_t now = (int64_t)(daimon_mono_ns() / 1000000);
	int64_t oldest = h->failures[h->nfail % HOST_INTENSITY];
	if (h->nfail >= HOST_INTENSITY && now - oldest < HOST_PERIOD_MS) {
		int64_t newest = h->failures[(h->nfail - 1) % HOST_INTENSITY];
		if (now - newest < HOST_PERIOD_MS) {
			daimon_buf_addf(out, "skill %s failed %d times within %d s; it rests for %lld s more", h->name,
					HOST_INTENSITY, HOST_PERIOD_MS / 1000, (long long)(HOST_PERIOD_MS - (now - newest)) / 1000);
			pthread_mutex_unlock(&h->mu);
			return -2;
		}
	}
	int64_t deadline = now + (timeout_ms > 0 ? timeout_ms : 30000);
	int rc = h->pid > 0 ? 0 : start(h, deadline);
	if (rc < 0) {
		daimon_buf_adds(out, daimon_error_last());
		h->failures[h->nfail++ % HOST_INTENSITY] = now;
		pthread_mutex_unlock(&h->mu);
		return -2;
	}
	cJSON *params = cJSON_CreateObject(), *res = NULL;
	cJSON_AddStringToObject(params, "name", tool);
	cJSON *args = cJSON_Parse(args_json ? args_json : "{}");
	cJSON_AddItemToObject(params, "arguments", args ? args : cJSON_CreateObject());
	cJSON_AddNumberToObject(cJSON_AddObjectToObject(params, "_meta"), "progressToken", (double)(h->next_id + 1));
	rc = request(h, "tools/call", params, deadline, &res, &sink);
	if (rc == 0) {
		const cJSON *result = cJSON_GetObjectItemCaseSensitive(res, "result");
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(result, "content");
		for (const cJSON *c = content ? content->child : NULL; c; c = c->next)
			daimon_buf_adds(out, daimon_json_str(c, "text") ? daimon_json_str(c, "text") : "");
		rc = !result || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "isError")) ? -1 : 0;
		if (!result)
			daimon_buf_adds(out, daimon_json_str(cJSON_GetObjectItemCaseSensitive(res, "error"), "message"));
	} else {
		int timed_out = rc == -3;
		int st = reap(h, 1);
		if (timed_out)
			daimon_buf_addf(out, "the skill did not finish within %.1f s and was stopped",
					(double)(timeout_ms > 0 ? timeout_ms : 30000) / 1000);
		else if (WIFSIGNALED(st))
			daimon_buf_addf(out, "the skill crashed: signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
		else
			daimon_buf_addf(out, "the skill's process ended (exit %d) during the call",
					WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		h->failures[h->nfail++ % HOST_INTENSITY] = now;
		rc = -2;
	}
	cJSON_Delete(res);
	pthread_mutex_unlock(&h->mu);
	return rc;
}

void daimon_skill_hostp_free(daimon_skill_hostp *h)
{
	if (!h)
		return;
	if (h->pid > 0) {
		close(h->to);
		h->to = -1;
		/* end of input, then SIGTERM, then SIGKILL */
		for (int step = 0; step < 3; step++) {
			for (int i = 0; i < 50; i++) {
				if (waitpid(h->pid, NULL, WNOHANG) == h->pid) {
					h->pid = -1;
					break;
				}
				usleep(2000);
			}
			if (h->pid < 0)
				break;
			kill(h->pid, step == 0 ? SIGTERM : SIGKILL);
		}
	}
	reap(h, 1);
	daimon_buf_release(&h->pending);
	pthread_mutex_destroy(&h->mu);
	free(h->exe);
	free(h->name);
	free(h);
}
