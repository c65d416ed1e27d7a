/*
 * host.c — see host.h.
 */
#include "skills/host.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "skills/skills.h"

#define MCP_VERSION "2025-11-25"

/* ---- the server ---- */

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
	daimon_json_write_line(p->fd, n);
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
	daimon_json_write_line(out, r);
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
		cJSON *req;
		long len;
		while ((len = daimon_json_take_line(&in, &req)) >= 0) {
			if (req) {
				handle(sk, name, req, out_fd);
			} else if (len > 0) {
				cJSON *r = cJSON_CreateObject();
				cJSON_AddStringToObject(r, "jsonrpc", "2.0");
				cJSON_AddNullToObject(r, "id");
				cJSON *e = cJSON_AddObjectToObject(r, "error");
				cJSON_AddNumberToObject(e, "code", -32700);
				cJSON_AddStringToObject(e, "message", "parse error");
				daimon_json_write_line(out_fd, r);
			}
			cJSON_Delete(req);
		}
	}
	daimon_buf_release(&in);
	daimon_skills_free(sk);
	return 0;
}
