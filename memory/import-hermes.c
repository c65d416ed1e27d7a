/*
 * import-hermes.c — Hermes Agent's state.db.
 *
 * SQLite tables sessions(id, source, started_at REAL seconds, title,
 * session_key, ...) and messages(id, session_id, role, content,
 * tool_call_id, tool_calls JSON in OpenAI form, tool_name, timestamp REAL).
 * Hermes has added columns over its versions, so only id, session_id,
 * role, content and timestamp are required; the rest are used when there.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/jsonutil.h"
#include "memory/import.h"

static int has_column(sqlite3 *db, const char *table, const char *col)
{
	char *sql = daimon_xasprintf("SELECT * FROM \"%s\" LIMIT 0", table);
	sqlite3_stmt *s;
	int found = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
		for (int i = 0; i < sqlite3_column_count(s); i++)
			found |= !strcmp(sqlite3_column_name(s, i), col);
		sqlite3_finalize(s);
	}
	free(sql);
	return found;
}

/* OpenAI tool_calls [{id, function:{name, arguments}}] to daimon's form. */
static cJSON *convert_calls(const char *json)
{
	cJSON *in = cJSON_Parse(json);
	if (!cJSON_IsArray(in)) {
		cJSON_Delete(in);
		return NULL;
	}
	cJSON *out = cJSON_CreateArray();
	for (const cJSON *c = in->child; c; c = c->next) {
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "function");
		const cJSON *src = cJSON_IsObject(fn) ? fn : c;
		daimon_import_tool_call(out, daimon_json_str(c, "id"), daimon_json_str(src, "name"),
					cJSON_GetObjectItemCaseSensitive(src, "arguments"));
	}
	cJSON_Delete(in);
	return out;
}

static const char *text_col(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

static int64_t secs_col(sqlite3_stmt *s, int i)
{
	cJSON *n = cJSON_CreateNumber(sqlite3_column_double(s, i));
	int64_t ts = daimon_import_ts(n);
	cJSON_Delete(n);
	return ts;
}

static int import_message(daimon_import_sink *sink, sqlite3_stmt *m, const char *where)
{
	const char *role = text_col(m, 0), *content = text_col(m, 1);
	const char *call_id = text_col(m, 2), *calls = text_col(m, 3), *tool = text_col(m, 4);
	int64_t ts = secs_col(m, 5);
	if (!role)
		return 0;
	int rc = 0;
	if (!strcmp(role, "tool")) {
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "call_id", call_id ? call_id : "");
		if (tool)
			cJSON_AddStringToObject(f, "name", tool);
		cJSON_AddStringToObject(f, "content", content ? content : "");
		cJSON_AddBoolToObject(f, "is_error", 0);
		rc = sink->record(sink->payload, "tool_result", ts, f);
		cJSON_Delete(f);
		return rc;
	}
	if (strcmp(role, "user") && strcmp(role, "assistant") && strcmp(role, "system"))
		return 0;
	cJSON *tc = calls && *calls ? convert_calls(calls) : NULL;
	if (calls && *calls && !tc)
		daimon_import_warn(sink, where, 0, "tool_calls is not a JSON list");
	if ((!content || !*content) && !cJSON_GetArraySize(tc)) {
		cJSON_Delete(tc);
		return 0;
	}
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "role", role);
	cJSON_AddStringToObject(f, "content", content ? content : "");
	if (cJSON_GetArraySize(tc))
		cJSON_AddItemToObject(f, "tool_calls", tc);
	else
		cJSON_Delete(tc);
	rc = sink->record(sink->payload, "message", ts, f);
	cJSON_Delete(f);
	return rc;
}

static int hermes_db(sqlite3 *db, const char *name, daimon_import_sink *sink)
{
	if (!has_column(db, "sessions", "id") || !has_column(db, "messages", "session_id") ||
	    !has_column(db, "messages", "role") || !has_column(db, "messages", "content"))
		return daimon_error("'%s' has no Hermes sessions and messages tables (not a Hermes state.db?)", name);
	char *ssql = daimon_xasprintf("SELECT id, %s, %s, %s, %s FROM sessions ORDER BY 3, id",
				      has_column(db, "sessions", "source") ? "source" : "NULL",
				      has_column(db, "sessions", "started_at") ? "started_at" : "0",
				      has_column(db, "sessions", "title") ? "title" : "NULL",
				      has_column(db, "sessions", "session_key") ? "session_key" : "NULL");
	int ts_col = has_column(db, "messages", "timestamp");
	char *msql = daimon_xasprintf("SELECT role, content, %s, %s, %s, %s FROM messages WHERE session_id=?1"
				      " ORDER BY %s id",
				      has_column(db, "messages", "tool_call_id") ? "tool_call_id" : "NULL",
				      has_column(db, "messages", "tool_calls") ? "tool_calls" : "NULL",
				      has_column(db, "messages", "tool_name") ? "tool_name" : "NULL",
				      ts_col ? "timestamp" : "0", ts_col ? "timestamp," : "");
	sqlite3_stmt *s = NULL, *m = NULL;
	int rc = 0, convs = 0;
	if (sqlite3_prepare_v2(db, ssql, -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, msql, -1, &m, NULL) != SQLITE_OK) {
		rc = daimon_error("cannot read '%s': %s", name, sqlite3_errmsg(db));
		goto out;
	}
	int step = SQLITE_DONE;
	while (rc >= 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *id = text_col(s, 0);
		if (!id)
			continue;
		const char *source = text_col(s, 1), *key = text_col(s, 4);
		char where[512];
		snprintf(where, sizeof(where), "%s: session %s", name, id);
		char *k = key ? daimon_xstrdup(key) : daimon_xasprintf("%s:%s", source ? source : "hermes", id);
		daimon_import_conv c = {
			"hermes", id, name, secs_col(s, 2), text_col(s, 3), k, source ? source : "hermes"};
		rc = sink->begin(sink->payload, &c);
		free(k);
		sqlite3_reset(m);
		sqlite3_bind_text(m, 1, id, -1, SQLITE_TRANSIENT);
		while (rc >= 0 && sqlite3_step(m) == SQLITE_ROW)
			rc = import_message(sink, m, where);
		int erc = sink->end(sink->payload);
		if (rc >= 0)
			rc = erc;
		convs++;
	}
	if (rc >= 0 && step != SQLITE_DONE)
		rc = daimon_error("cannot read '%s': %s", name, sqlite3_errmsg(db));
out:
	sqlite3_finalize(s);
	sqlite3_finalize(m);
	free(ssql);
	free(msql);
	return rc < 0 ? rc : convs;
}

int daimon_import_hermes_db(sqlite3 *db, const char *name, daimon_import_sink *sink)
{
	daimon_import_db_guard g;
	daimon_import_guard_begin(&g, db);
	return daimon_import_guard_end(&g, name, hermes_db(db, name, sink));
}
