/*
 * tools.c — see tools.h.
 */
#include "sessions/tools.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cron.h"
#include "core/error.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"
#include "memory/curated.h"
#include "memory/index.h"
#include "memory/search.h"
#include "memory/text.h"
#include "skills/instructions.h"

static int type_ok(const char *type, const cJSON *v)
{
	if (!strcmp(type, "object"))
		return cJSON_IsObject(v);
	if (!strcmp(type, "array"))
		return cJSON_IsArray(v);
	if (!strcmp(type, "string"))
		return cJSON_IsString(v);
	if (!strcmp(type, "boolean"))
		return cJSON_IsBool(v);
	if (!strcmp(type, "number"))
		return cJSON_IsNumber(v);
	if (!strcmp(type, "integer"))
		return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble);
	if (!strcmp(type, "null"))
		return cJSON_IsNull(v);
	return 1;
}

int daimon_schema_check(const cJSON *schema, const cJSON *value, const char *where, daimon_buf *why)
{
	const char *type = daimon_json_str(schema, "type");
	if (type && !type_ok(type, value)) {
		daimon_buf_addf(why, "%s must be %s %s", where, strchr("aeiou", type[0]) ? "an" : "a", type);
		return -1;
	}
	const cJSON *en = cJSON_GetObjectItemCaseSensitive(schema, "enum");
	if (cJSON_IsArray(en)) {
		int found = 0;
		for (const cJSON *e = en->child; e && !found; e = e->next)
			found = cJSON_Compare(e, value, 1);
		if (!found) {
			daimon_buf_addf(why, "%s must be one of ", where);
			daimon_json_print(why, en);
			return -1;
		}
	}
	if (cJSON_IsNumber(value)) {
		const cJSON *min = cJSON_GetObjectItemCaseSensitive(schema, "minimum");
		const cJSON *max = cJSON_GetObjectItemCaseSensitive(schema, "maximum");
		if ((cJSON_IsNumber(min) && value->valuedouble < min->valuedouble) ||
		    (cJSON_IsNumber(max) && value->valuedouble > max->valuedouble)) {
			daimon_buf_addf(why, "%s is out of range", where);
			return -1;
		}
	}
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(schema, "items");
	if (cJSON_IsArray(value) && cJSON_IsObject(items)) {
		int i = 0;
		for (const cJSON *v = value->child; v; v = v->next, i++) {
			char *sub = daimon_xasprintf("%s[%d]", where, i);
			int rc = daimon_schema_check(items, v, sub, why);
			free(sub);
			if (rc < 0)
				return rc;
		}
		const cJSON *minitems = cJSON_GetObjectItemCaseSensitive(schema, "minItems");
		const cJSON *maxitems = cJSON_GetObjectItemCaseSensitive(schema, "maxItems");
		if ((cJSON_IsNumber(minitems) && i < minitems->valueint) ||
		    (cJSON_IsNumber(maxitems) && i > maxitems->valueint)) {
			daimon_buf_addf(why, "%s must have %d to %d items", where,
					cJSON_IsNumber(minitems) ? minitems->valueint : 0,
					cJSON_IsNumber(maxitems) ? maxitems->valueint : 1000000);
			return -1;
		}
	}
	if (cJSON_IsObject(value)) {
		const cJSON *req = cJSON_GetObjectItemCaseSensitive(schema, "required");
		for (const cJSON *r = cJSON_IsArray(req) ? req->child : NULL; r; r = r->next)
			if (cJSON_IsString(r) && !cJSON_GetObjectItemCaseSensitive(value, r->valuestring)) {
				daimon_buf_addf(why, "%s.%s is required", where, r->valuestring);
				return -1;
			}
		const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
		for (const cJSON *p = cJSON_IsObject(props) ? props->child : NULL; p; p = p->next) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(value, p->string);
			if (!v)
				continue;
			char *sub = daimon_xasprintf("%s.%s", where, p->string);
			int rc = daimon_schema_check(p, v, sub, why);
			free(sub);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* ---- built-in tools ---- */

static int tool_time(const cJSON *args, daimon_buf *out, const daimon_tool_env *env)
{
	(void)args, (void)env;
	char ts[DAIMON_TS_LEN];
	int64_t now = daimon_now_ms();
	char local[64];
	daimon_ts_format(ts, now);
	daimon_time_local(local, sizeof(local), now);
	const char *tz = getenv("TZ");
	daimon_buf_addf(out, "%s (UTC); the user's local time: %s%s%s%s", ts, local, tz ? " (" : "", tz ? tz : "",
			tz ? ")" : "");
	return 0;
}

/* session_search: hits grouped by session, with the messages around each. */
static int tool_search(const cJSON *args, daimon_buf *out, const daimon_tool_env *env)
{
	daimon_store *st = env->store;
	daimon_index *ix;
	if (!st || daimon_index_open(&ix, st) < 0) {
		daimon_buf_addf(out, "search is not available: %s", daimon_error_last());
		return -1;
	}
	int64_t limit = 5;
	daimon_json_int(args, "limit", &limit);
	daimon_search_opts o = {.query = daimon_json_str(args, "query"),
				.limit = (size_t)(limit > 0 ? limit : 5),
				.mark_open = "",
				.mark_close = "",
				.snippet_tokens = 24};
	daimon_search_result r;
	int rc = daimon_index_refresh(ix, NULL);
	if (rc == 0)
		rc = daimon_search(ix, &o, &r);
	if (rc < 0) {
		daimon_buf_addf(out, "search failed: %s", daimon_error_last());
	} else {
		if (!r.n)
			daimon_buf_addf(out, "nothing found for '%s'", o.query);
		for (size_t i = 0; i < r.n; i++) {
			char ts[DAIMON_TS_LEN];
			daimon_ts_format(ts, r.hits[i].ts);
			daimon_buf_addf(out, "[%s #%llu %s %s] %s\n", r.hits[i].session,
					(unsigned long long)r.hits[i].seq, ts, daimon_role_name(r.hits[i].role),
					r.hits[i].snippet);
		}
		daimon_search_result_release(&r);
	}
	daimon_index_close(ix);
	return rc < 0 ? -1 : 0;
}

/* memory: add, replace or remove an entry of MEMORY.md or the user's file. */
static int tool_memory(const cJSON *args, daimon_buf *out, const daimon_tool_env *env)
{
	const char *action = daimon_json_str(args, "action"), *target = daimon_json_str(args, "target");
	const char *text = daimon_json_str(args, "text"), *old = daimon_json_str(args, "old_text");
	daimon_mem_file f;
	if (daimon_mem_file_for(&f, env->store->home, target, env->key) < 0) {
		daimon_buf_adds(out, daimon_error_last());
		return -1;
	}
	int rc;
	if (!strcmp(action, "add"))
		rc = daimon_mem_add(&f, text, out);
	else if (!strcmp(action, "replace"))
		rc = daimon_mem_replace(&f, old, text, out);
	else
		rc = daimon_mem_remove(&f, old, out);
	daimon_mem_file_release(&f);
	return rc < 0 ? -1 : 0;
}

/* skill_read: an instruction skill's SKILL.md, or a file of its folder. */
static int tool_skill_read(const cJSON *args, daimon_buf *out, const daimon_tool_env *env)
{
	char *dir = daimon_home_path(env->store->home, "skills");
	int rc = daimon_instructions_read(dir, daimon_json_str(args, "name"), daimon_json_str(args, "file"), out);
	if (rc < 0)
		daimon_buf_adds(out, daimon_error_last());
	free(dir);
	return rc < 0 ? -1 : 0;
}

const daimon_tool daimon_builtin_tools[] = {
	{.name = "current_time",
	 .description = "The current date and time.",
	 .parameters = "{\"type\":\"object\",\"properties\":{}}",
	 .run = tool_time},
	{.name = "session_search",
	 .description = "Search every earlier conversation (FTS5 syntax).",
	 .parameters = "{\"type\":\"object\",\"properties\":{\"query\":{\"type\":\"string\"},\"limit\":{\"type\":"
		       "\"integer\",\"minimum\":1,\"maximum\":50}},\"required\":[\"query\"]}",
	 .run = tool_search},
	{.name = "memory",
	 .description = "Keep what should outlast this conversation: add an entry to your notes (target memory) or "
			"to what you know about the user (target user), or replace/remove the one entry holding "
			"old_text. Entries are short; the files have a size limit.",
	 .parameters = "{\"type\":\"object\",\"properties\":{\"action\":{\"enum\":[\"add\",\"replace\",\"remove\"]},"
		       "\"target\":{\"enum\":[\"memory\",\"user\"]},\"text\":{\"type\":\"string\"},"
		       "\"old_text\":{\"type\":\"string\"}},\"required\":[\"action\",\"target\"]}",
	 .run = tool_memory},
	{.name = "skill_read",
	 .description = "Read the instructions of a skill listed in the prompt (or a file they mention).",
	 .parameters = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"file\":{\"type\":"
		       "\"string\"}},\"required\":[\"name\"]}",
	 .run = tool_skill_read},
	{.name = "schedule",
	 .description = daimon_schedule_tool_description,
	 .parameters = daimon_schedule_tool_schema,
	 .spawn = daimon_schedule_tool_spawn,
	 .timeout_ms = 30000,
	 .top_level_only = 1},
	{.name = "delegate",
	 .description = "Hand tasks to sub-agents that work side by side; each returns its answer or why it failed.",
	 .parameters = daimon_delegate_schema,
	 .spawn = daimon_delegate_spawn,
	 .timeout_ms = 30 * 60 * 1000,
	 .top_level_only = 1},
	{0},
};

static int offered(const daimon_tool *t, int depth)
{
	return !(depth > 0 && t->top_level_only);
}

/* Whether a conversation with `grants` (NULL: the owner's, everything;
 * else ",name,...,", where "*" is every tool) may use `t`. */
static int granted(const daimon_tool *t, const char *grants)
{
	if (!grants || strstr(grants, ",*,")) /* (the owner's, or everything granted) */
		return 1;
	char w[130];
	snprintf(w, sizeof(w), ",%s,", t->name);
	return strstr(grants, w) != NULL;
}

/* The name as the model APIs take it. */
static void wire_name(char out[128], const char *name)
{
	snprintf(out, 128, "%s", name);
	for (char *p = out; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
			*p = '_';
}

static int named(const daimon_tool *t, const char *name)
{
	char w[128];
	wire_name(w, t->name);
	return !strcmp(t->name, name) || !strcmp(w, name);
}

cJSON *daimon_tools_json(const daimon_tool *tools, int depth, const char *grants)
{
	cJSON *a = cJSON_CreateArray();
	for (const daimon_tool *t = tools; t && t->name; t++) {
		if (!offered(t, depth) || !granted(t, grants))
			continue;
		cJSON *o = cJSON_CreateObject();
		char w[128];
		wire_name(w, t->name);
		cJSON_AddStringToObject(o, "name", w);
		cJSON_AddStringToObject(o, "description", t->description);
		cJSON *p = cJSON_Parse(t->parameters);
		cJSON_AddItemToObject(o, "parameters", p ? p : cJSON_CreateObject());
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

int daimon_tool_prepare(const daimon_tool *tools, int depth, const char *grants, const cJSON *call,
			const daimon_tool **tool, cJSON **args, daimon_buf *out)
{
	const char *name = daimon_json_str(call, "name");
	const daimon_tool *t = tools;
	while (t && t->name && (!name || !named(t, name) || !offered(t, depth)))
		t++;
	if (!t || !t->name) {
		daimon_buf_addf(out, "there is no tool '%s'", name ? name : "");
		return 1;
	}
	if (!granted(t, grants)) {
		daimon_buf_addf(
			out,
			"the tool '%s' is not open to this conversation (its owner grants tools with tools.others)",
			t->name);
		return 1;
	}
	const char *text = daimon_json_str(call, "arguments");
	cJSON *a = cJSON_Parse(text && *text ? text : "{}");
	if (!a) {
		daimon_buf_addf(out, "the arguments of %s are not valid JSON", t->name);
		return 1;
	}
	cJSON *schema = cJSON_Parse(t->parameters);
	daimon_buf why = DAIMON_BUF_INIT;
	int bad = daimon_schema_check(schema, a, "arguments", &why) < 0;
	if (bad) {
		daimon_buf_addf(out, "invalid call of %s: %s", t->name, why.ptr);
		cJSON_Delete(a);
	} else {
		*tool = t;
		*args = a;
	}
	daimon_buf_release(&why);
	cJSON_Delete(schema);
	return bad;
}

int daimon_tool_call(const daimon_tool *tools, const cJSON *call, daimon_buf *out, daimon_store *store, const char *key)
{
	const daimon_tool *t;
	cJSON *args;
	if (daimon_tool_prepare(tools, 0, NULL, call, &t, &args, out))
		return 1;
	static const _Atomic int never = 0;
	daimon_tool_env env = {.store = store, .key = key, .cancelled = &never, .payload = t->payload};
	int bad = 1;
	if (t->run)
		bad = t->run(args, out, &env) < 0;
	else
		daimon_buf_addf(out, "%s runs only inside a session", t->name);
	cJSON_Delete(args);
	return bad;
}
