/*
 * mcp-memory.c — see mcp-memory.h.
 */
#include "sessions/mcp-memory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/jsonutil.h"
#include "memory/curated.h"
#include "sessions/session.h"
#include "sessions/tools.h"
#include "skills/mcp.h"

static int session_read(const cJSON *args, daimon_buf *out, const daimon_tool_env *env)
{
	const char *which = daimon_json_str(args, "session");
	char id[DAIMON_ID_MAX + 1];
	if (daimon_session_id_valid(which))
		snprintf(id, sizeof(id), "%s", which);
	else
		daimon_session_id_for_key(id, which); /* a conversation key: cli:default, telegram:42 */
	char *path = daimon_store_log_path(env->store, id);
	cJSON *history = cJSON_CreateArray();
	int rc = daimon_history_load(path, history, NULL);
	free(path);
	if (rc < 0) {
		daimon_buf_addf(out, "%s", rc == DAIMON_ENOTFOUND ? "no such session" : daimon_error_last());
		cJSON_Delete(history);
		return -1;
	}
	int64_t last = 40, from = 0;
	daimon_json_int(args, "last", &last);
	daimon_json_int(args, "from_seq", &from);
	int n = cJSON_GetArraySize(history), start = n - (int)last > 0 ? n - (int)last : 0;
	for (int i = from > 0 ? 0 : start; i < n; i++) {
		const cJSON *m = cJSON_GetArrayItem(history, i);
		double seq = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m, "seq"));
		if (from > 0 && seq < (double)from)
			continue;
		daimon_buf_addf(out, "[#%.0f %s] %s\n", seq, daimon_json_str(m, "role"),
				daimon_json_str(m, "content") ? daimon_json_str(m, "content") : "");
	}
	if (!n)
		daimon_buf_adds(out, "the session is empty");
	cJSON_Delete(history);
	return 0;
}

static int memory_read(const cJSON *args, daimon_buf *out, const daimon_tool_env *env)
{
	int rc = daimon_mem_text(env->store->home, daimon_json_str(args, "target"), env->key, out);
	if (rc < 0)
		daimon_buf_adds(out, daimon_error_last());
	return rc < 0 ? -1 : 0;
}

static const daimon_tool served_own[] = {
	{.name = "session_read",
	 .description = "Read a conversation of daimon's: its last messages (or those from from_seq on). "
			"session is an id (from session_search) or a key such as cli:default.",
	 .parameters = "{\"type\":\"object\",\"properties\":{\"session\":{\"type\":\"string\"},\"last\":{\"type\":"
		       "\"integer\",\"minimum\":1,\"maximum\":1000},\"from_seq\":{\"type\":\"integer\",\"minimum\":1}},"
		       "\"required\":[\"session\"]}",
	 .run = session_read},
	{.name = "memory_read",
	 .description = "Read daimon's curated memory: its notes (target memory) or what it knows about the user "
			"(target user).",
	 .parameters = "{\"type\":\"object\",\"properties\":{\"target\":{\"enum\":[\"memory\",\"user\"]}},\"required\":"
		       "[\"target\"]}",
	 .run = memory_read},
	{0}};

struct served {
	daimon_store *st;
	daimon_tool tools[5]; /* (NULL-terminated) */
};

/* The tool list as the model gets it, in MCP's words. */
static cJSON *served_list(void *arg)
{
	struct served *s = arg;
	cJSON *a = daimon_tools_json(s->tools, 0, NULL);
	for (cJSON *o = a->child; o; o = o->next) {
		cJSON *schema = cJSON_DetachItemFromObjectCaseSensitive(o, "parameters");
		cJSON_AddItemToObject(o, "inputSchema", schema);
		cJSON_AddBoolToObject(cJSON_AddObjectToObject(o, "annotations"), "readOnlyHint",
				      strcmp(daimon_json_str(o, "name"), "memory") != 0);
	}
	return a;
}

static int served_call(void *arg, const char *tool, const cJSON *args, const char *key, daimon_buf *out,
		       void (*progress)(void *pp, double done, double total, const char *message), void *pp)
{
	(void)key, (void)progress, (void)pp;
	struct served *s = arg;
	/* found and checked against its schema as a model's call is */
	cJSON *call = cJSON_CreateObject();
	cJSON_AddStringToObject(call, "name", tool);
	char *a = cJSON_PrintUnformatted(args);
	cJSON_AddStringToObject(call, "arguments", a);
	cJSON_free(a);
	int bad = daimon_tool_call(s->tools, call, out, s->st, "cli:mcp");
	cJSON_Delete(call);
	return bad ? -1 : 0;
}

static const daimon_tool *builtin(const char *name)
{
	for (const daimon_tool *t = daimon_builtin_tools; t->name; t++)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

int daimon_mcp_serve_memory(daimon_store *st, int in_fd, int out_fd)
{
	struct served s = {.st = st,
			   .tools = {*builtin("session_search"), served_own[0], *builtin("memory"), served_own[1]}};
	daimon_mcp_server srv = {
		.name = "daimon",
		.instructions = "daimon's memory: search every conversation (session_search), read one (session_read), "
				"read and edit the curated notes (memory_read, memory).",
		.tools = served_list,
		.call = served_call,
		.arg = &s};
	return daimon_mcp_serve(&srv, in_fd, out_fd);
}
