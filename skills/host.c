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
#include "skills/mcp.h"
#include "skills/skills.h"
#include <daimon/skill.h>

struct hosted {
	daimon_skills *sk;
	char name[64];
};

static cJSON *host_tools(void *arg)
{
	struct hosted *h = arg;
	char *desc = daimon_skills_describe(h->sk);
	cJSON *d = cJSON_Parse(desc);
	free(desc);
	cJSON *tools = cJSON_CreateArray();
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(d, 0), "tools");
	for (const cJSON *t = ts ? ts->child : NULL; t; t = t->next) {
		int flags = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "flags"));
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", daimon_json_str(t, "name"));
		cJSON_AddStringToObject(o, "description", daimon_json_str(t, "description"));
		cJSON_AddItemToObject(o, "inputSchema",
				      cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(t, "parameters"), 1));
		cJSON *ann = cJSON_AddObjectToObject(o, "annotations");
		cJSON_AddBoolToObject(ann, "readOnlyHint", !(flags & DAIMON_SKILL_SIDE_EFFECTS));
		cJSON_AddBoolToObject(ann, "idempotentHint", (flags & DAIMON_SKILL_IDEMPOTENT) != 0);
		cJSON_AddItemToArray(tools, o);
	}
	cJSON_Delete(d);
	return tools;
}

static int host_call(void *arg, const char *tool, const cJSON *args, const char *key, daimon_buf *out,
		     void (*progress)(void *pp, double done, double total, const char *message), void *pp)
{
	struct hosted *h = arg;
	char *a = cJSON_PrintUnformatted(args);
	daimon_skill_call_opts o = {.progress = progress, .payload = pp, .idempotency_key = key};
	int rc = daimon_skills_call(h->sk, h->name, tool, a, out, &o);
	free(a);
	return rc < 0 ? -1 : 0;
}

int daimon_skill_serve(const char *so_path, const char *home, const daimon_skill_services *svc, int in_fd, int out_fd)
{
	struct hosted h = {.sk = daimon_skills_new(home, svc)};
	if (daimon_skills_load(h.sk, so_path, h.name) < 0) {
		daimon_skills_free(h.sk);
		return -1;
	}
	char *name = daimon_xasprintf("daimon-skill-%s", h.name);
	daimon_mcp_server srv = {.name = name, .tools = host_tools, .call = host_call, .arg = &h};
	int rc = daimon_mcp_serve(&srv, in_fd, out_fd);
	free(name);
	daimon_skills_free(h.sk);
	return rc;
}
