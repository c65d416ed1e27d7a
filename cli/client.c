/*
 * client.c — the command line's side of the control socket (the
 * protocol is in daemon/control.h): connect, say hello, send requests
 * and read replies and events, one JSON object per line.
 *
 * Commands that tell a running daemon something (skill build, config
 * set, status...) call cli_daemon_open: 0 means there is none. `ask` and
 * `chat` call cli_daemon_connect, which starts the command's own daemon
 * (daemon/local.h) when none runs, so they always talk to one.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"
#include "daemon/control.h"

int cli_daemon_open(struct cli_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	char *home = daimon_home_dir();
	char *path = daimon_control_path(home);
	free(home);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		free(path);
		return 0;
	}
	strcpy(sa.sun_path, path);
	free(path);
	/* tmux retries the connect once: a daemon between bind and listen */
	for (int attempt = 0; attempt < 2; attempt++) {
		c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd < 0)
			return daimon_error_errno("cannot make a socket");
		if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		int e = errno;
		close(c->fd);
		c->fd = -1;
		if (e == ENOENT || e == ECONNREFUSED) {
			if (attempt == 0 && e == ECONNREFUSED)
				continue;
			return 0; /* no daemon */
		}
		errno = e;
		return daimon_error_errno("cannot reach the daemon");
	}
	if (c->fd < 0)
		return 0;
	cJSON *hello = cJSON_CreateObject(), *reply = NULL;
	cJSON_AddStringToObject(hello, "op", "hello");
	cJSON_AddNumberToObject(hello, "version", DAIMON_CONTROL_VERSION);
	int rc = cli_daemon_request(c, hello, &reply);
	cJSON_Delete(hello);
	cJSON_Delete(reply);
	if (rc < 0) {
		cli_daemon_close(c);
		return rc;
	}
	return 1;
}

void cli_daemon_close(struct cli_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	daimon_buf_release(&c->in);
}

int cli_daemon_send(struct cli_conn *c, const cJSON *req)
{
	char *s = cJSON_PrintUnformatted(req);
	daimon_buf b = DAIMON_BUF_INIT;
	daimon_buf_adds(&b, s);
	daimon_buf_addc(&b, '\n');
	cJSON_free(s);
	size_t off = 0;
	while (off < b.len) {
		ssize_t n = send(c->fd, b.ptr + off, b.len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int gone = errno == EPIPE || errno == ECONNRESET;
			daimon_buf_release(&b);
			daimon_error_errno("the daemon went away");
			return gone ? DAIMON_ENOTFOUND : -1;
		}
		off += (size_t)n;
	}
	daimon_buf_release(&b);
	return 0;
}

int cli_daemon_recv(struct cli_conn *c, cJSON **out, int timeout_ms)
{
	*out = NULL;
	for (;;) {
		if (daimon_json_take_line(&c->in, out) >= 0) {
			if (!cJSON_IsObject(*out)) {
				cJSON_Delete(*out);
				*out = NULL;
				return daimon_error("the daemon sent something that is not a JSON object");
			}
			return 1;
		}
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int r = poll(&p, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			return 0;
		if (r < 0)
			return daimon_error_errno("cannot wait for the daemon");
		if (r == 0)
			return 0;
		char buf[65536];
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return daimon_error_code(DAIMON_ENOTFOUND, "the daemon closed the connection");
		daimon_buf_add(&c->in, buf, (size_t)n);
	}
}

int cli_daemon_request(struct cli_conn *c, const cJSON *req, cJSON **reply)
{
	*reply = NULL;
	if (cli_daemon_send(c, req) < 0)
		return -1;
	int rc;
	while ((rc = cli_daemon_recv(c, reply, -1)) == 0)
		;
	if (rc < 0)
		return rc;
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(*reply, "ok"))) {
		const char *e = daimon_json_str(*reply, "error");
		daimon_error("%s", e ? e : "the daemon refused");
		cJSON_Delete(*reply);
		*reply = NULL;
		return -1;
	}
	return 0;
}

int cli_daemon_op(struct cli_conn *c, const char *op, cJSON **reply)
{
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", op);
	int rc = cli_daemon_request(c, req, reply);
	cJSON_Delete(req);
	return rc;
}

int cli_daemon_connect(struct cli_conn *c, daimon_local **local, const char *home)
{
	*local = NULL;
	int64_t start = daimon_mono_ms(), said = 0;
	for (;;) {
		int rc = cli_daemon_open(c);
		if (rc > 0 || (rc < 0 && rc != DAIMON_ENOTFOUND))
			return rc; /* (not found: one that was ending as we came) */
		if (!*local) {
			rc = daimon_local_start(local, home, cli_mcp_log(home));
			if (rc < 0)
				return -1;
			if (rc > 0)
				continue; /* ours listens now */
		}
		/* Another process holds the lock: a daemon starting (MCP servers
		 * get 15 s to list their tools) or ending. */
		int64_t waited = daimon_mono_ms() - start;
		if (*local || waited > 60000)
			return daimon_error("the daemon for '%s' does not answer on its socket; see `daimon status`",
					    home);
		if (waited > 2000 && !said++)
			fprintf(stderr, "daimon: waiting for the daemon that is starting or stopping\n");
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

void cli_daemon_disconnect(struct cli_conn *c, daimon_local *local)
{
	cli_daemon_close(c);
	daimon_local_stop(local);
}

int cli_daemon_tell(const char *op)
{
	struct cli_conn c;
	int rc = cli_daemon_open(&c);
	if (rc <= 0)
		return rc;
	cJSON *reply = NULL;
	rc = cli_daemon_op(&c, op, &reply);
	cJSON_Delete(reply);
	cli_daemon_close(&c);
	return rc < 0 ? rc : 1;
}
