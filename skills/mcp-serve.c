/*
 * mcp-serve.c — see mcp.h: the server side, MCP over stdio one request at
 * a time (`daimon mcp serve`, the skill host).
 */
#include "skills/mcp.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "core/jsonutil.h"
#include "core/timefmt.h"

const char *daimon_mcp_meta_key(const cJSON *params)
{
	return daimon_json_str(cJSON_GetObjectItemCaseSensitive(params, "_meta"), "daimon/idempotencyKey");
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
	cJSON *params = cJSON_CreateObject();
	cJSON_AddItemToObject(params, "progressToken", cJSON_Duplicate(p->token, 1));
	cJSON_AddNumberToObject(params, "progress", done);
	if (total > 0)
		cJSON_AddNumberToObject(params, "total", total);
	if (message)
		cJSON_AddStringToObject(params, "message", message);
	daimon_json_write_line(p->fd, daimon_jsonrpc_notification("notifications/progress", params));
}

static void serve_one(const daimon_mcp_server *srv, const cJSON *req, int out)
{
	const char *method = daimon_json_str(req, "method");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "id");
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(req, "params");
	if (!method || !id)
		return; /* a notification or a response: nothing to answer */
	cJSON *res = cJSON_CreateObject();
	if (!strcmp(method, "initialize")) {
		cJSON_AddStringToObject(res, "protocolVersion", DAIMON_MCP_VERSION);
		cJSON_AddObjectToObject(cJSON_AddObjectToObject(res, "capabilities"), "tools");
		cJSON *info = cJSON_AddObjectToObject(res, "serverInfo");
		cJSON_AddStringToObject(info, "name", srv->name);
		cJSON_AddStringToObject(info, "version", DAIMON_VERSION);
		if (srv->instructions)
			cJSON_AddStringToObject(res, "instructions", srv->instructions);
	} else if (!strcmp(method, "ping")) {
		/* (an empty result) */
	} else if (!strcmp(method, "tools/list")) {
		cJSON_AddItemToObject(res, "tools", srv->tools(srv->arg));
	} else if (!strcmp(method, "tools/call")) {
		const cJSON *args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
		cJSON *empty = cJSON_CreateObject();
		daimon_buf text = DAIMON_BUF_INIT;
		struct progress_to pt = {
			out, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(params, "_meta"),
							      "progressToken")};
		const char *key = daimon_mcp_meta_key(params);
		int rc = srv->call(srv->arg, daimon_json_str(params, "name") ? daimon_json_str(params, "name") : "",
				   cJSON_IsObject(args) ? args : empty, key ? key : "", &text, notify_progress, &pt);
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "type", "text");
		cJSON_AddStringToObject(c, "text", daimon_buf_cstr(&text));
		cJSON_AddItemToArray(cJSON_AddArrayToObject(res, "content"), c);
		cJSON_AddBoolToObject(res, "isError", rc < 0);
		daimon_buf_release(&text);
		cJSON_Delete(empty);
	} else {
		cJSON_Delete(res);
		res = NULL;
	}
	daimon_json_write_line(out, daimon_jsonrpc_response(id, res, -32601, "method not found"));
}

static void parse_error(int out_fd, const char *why)
{
	daimon_json_write_line(out_fd, daimon_jsonrpc_response(NULL, NULL, -32700, why));
}

#define SERVE_MAX_LINE (64 << 20)

/* Waits a moment, busy, for the next request before the read blocks: a
 * client making calls one after another (a session's turn, a skill host's
 * port) then gets its answer without the wake-up of this process, about
 * as long as the whole round trip on a virtual machine. */
#define REQUEST_SPIN_NS 20000

static void spin_readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	uint64_t end = daimon_mono_ns() + REQUEST_SPIN_NS;
	while (poll(&p, 1, 0) == 0 && daimon_mono_ns() < end)
		;
}

int daimon_mcp_serve(const daimon_mcp_server *srv, int in_fd, int out_fd)
{
	daimon_buf in = DAIMON_BUF_INIT;
	char buf[65536];
	ssize_t got;
	int skipping = 0; /* in a line too long to keep: dropped up to its end */
	for (;;) {
		spin_readable(in_fd);
		if ((got = read(in_fd, buf, sizeof(buf))) < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		const char *data = buf, *nl = memchr(buf, '\n', (size_t)got);
		size_t len = (size_t)got;
		if (skipping && !nl)
			continue;
		if (skipping) { /* the rest of the long line */
			len -= (size_t)(nl + 1 - buf);
			data = nl + 1;
			skipping = 0;
		}
		daimon_buf_add(&in, data, len);
		if (in.len > SERVE_MAX_LINE && !memchr(data, '\n', len)) {
			daimon_buf_clear(&in);
			skipping = 1;
			parse_error(out_fd, "message too large (over 64 MiB)");
			continue;
		}
		if (!memchr(data, '\n', len))
			continue; /* (no message ends here: the buffer is not scanned again) */
		cJSON *req;
		long n;
		while ((n = daimon_json_take_line(&in, &req)) >= 0) {
			if (req)
				serve_one(srv, req, out_fd);
			else if (n > 0)
				parse_error(out_fd, "parse error");
			cJSON_Delete(req);
		}
	}
	daimon_buf_release(&in);
	return 0;
}
