/*
 * import-openclaw.c — OpenClaw transcripts.
 *
 * Two forms carry the same events. Session JSONL files (older versions and
 * archives): a {"type":"session","id","timestamp",...} header, then events
 * such as {"type":"message","timestamp",...,"message":{"role","content"}}
 * (content a string or blocks: text, thinking, toolCall), tool results as
 * messages with role "toolResult" (toolCallId, toolName, isError), and
 * {"type":"compaction","summary"}. Newer versions keep the events as rows of
 * the SQLite table transcript_events(session_id, seq, event_json,
 * created_at, event_zstd, ...), with per-session metadata in
 * session_windows. Events of other types (model changes, labels) are not
 * conversation and are passed over.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/jsonutil.h"
#include "memory/import.h"
#include "memory/text.h"

struct oc {
	daimon_import_sink *sink;
	const char *name;
	char *orig_id; /* from the header, or the file name */
	int64_t created;
	const char *key, *channel, *title;
	int begun;
	int convs;
};

static int oc_begin(struct oc *o)
{
	if (o->begun)
		return 0;
	daimon_import_conv c = {"openclaw", o->orig_id, o->name, o->created, o->title, o->key, o->channel};
	o->begun = 1;
	o->convs++;
	return o->sink->begin(o->sink->payload, &c);
}

static int oc_end(struct oc *o)
{
	if (!o->begun)
		return 0;
	o->begun = 0;
	return o->sink->end(o->sink->payload);
}

static int oc_tool_result(struct oc *o, const cJSON *msg, int64_t ts)
{
	const char *id = daimon_json_str(msg, "toolCallId");
	if (!id)
		id = daimon_json_str(msg, "tool_call_id");
	const char *name = daimon_json_str(msg, "toolName");
	daimon_buf text = DAIMON_BUF_INIT;
	daimon_content_text(cJSON_GetObjectItemCaseSensitive(msg, "content"), &text);
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "call_id", id ? id : "");
	if (name)
		cJSON_AddStringToObject(f, "name", name);
	cJSON_AddStringToObject(f, "content", daimon_buf_cstr(&text));
	cJSON_AddBoolToObject(f, "is_error", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(msg, "isError")));
	int rc = o->sink->record(o->sink->payload, "tool_result", ts, f);
	cJSON_Delete(f);
	daimon_buf_release(&text);
	return rc;
}

/* One event; `where`/`line` say where it came from for warnings. */
static int oc_event(struct oc *o, const cJSON *ev, const char *where, size_t line)
{
	const char *type = daimon_json_str(ev, "type");
	if (!type) {
		daimon_import_warn(o->sink, where, line, "event without a type");
		return 0;
	}
	int64_t ts = daimon_import_ts(cJSON_GetObjectItemCaseSensitive(ev, "timestamp"));
	if (!strcmp(type, "session")) {
		const char *id = daimon_json_str(ev, "id");
		if (o->begun && id && strcmp(id, o->orig_id)) {
			int rc = oc_end(o);
			if (rc < 0)
				return rc;
		}
		if (!o->begun && id) {
			free(o->orig_id);
			o->orig_id = daimon_xstrdup(id);
		}
		if (!o->begun && ts)
			o->created = ts;
		return 0;
	}
	if (!strcmp(type, "message")) {
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(ev, "message");
		const char *role = daimon_json_str(msg, "role");
		if (!role) {
			daimon_import_warn(o->sink, where, line, "message event without message.role");
			return 0;
		}
		if (!ts)
			ts = daimon_import_ts(cJSON_GetObjectItemCaseSensitive(msg, "timestamp"));
		int rc = oc_begin(o);
		if (rc < 0)
			return rc;
		if (!strcmp(role, "toolResult") || !strcmp(role, "tool"))
			return oc_tool_result(o, msg, ts);
		if (strcmp(role, "user") && strcmp(role, "assistant") && strcmp(role, "system"))
			return 0;
		return daimon_import_blocks(o->sink, role, cJSON_GetObjectItemCaseSensitive(msg, "content"), ts);
	}
	if (!strcmp(type, "compaction")) {
		const char *summary = daimon_json_str(ev, "summary");
		if (!summary) {
			daimon_import_warn(o->sink, where, line, "compaction without a summary");
			return 0;
		}
		int rc = oc_begin(o);
		if (rc < 0)
			return rc;
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "summary", summary);
		rc = o->sink->record(o->sink->payload, "compaction", ts, f);
		cJSON_Delete(f);
		return rc;
	}
	return 0;
}

static int oc_line(void *ctx, const char *line, size_t len, size_t lineno)
{
	struct oc *o = ctx;
	cJSON *ev = cJSON_ParseWithLength(line, len);
	if (!cJSON_IsObject(ev)) {
		daimon_import_warn(o->sink, o->name, lineno, "not a JSON object");
		cJSON_Delete(ev);
		return 0;
	}
	int rc = oc_event(o, ev, o->name, lineno);
	cJSON_Delete(ev);
	return rc;
}

/* The file name without directory and extension: the id of a transcript
 * that has no session header. */
static char *base_id(const char *name)
{
	const char *b = strrchr(name, '/');
	b = b ? b + 1 : name;
	size_t n = strcspn(b, ".");
	return daimon_xstrndup(b, n ? n : strlen(b));
}

int daimon_import_openclaw_buf(const char *data, size_t len, const char *name, daimon_import_sink *sink)
{
	struct oc o = {.sink = sink, .name = name, .orig_id = base_id(name)};
	int rc = daimon_import_each_line(data, len, oc_line, &o);
	int erc = oc_end(&o);
	free(o.orig_id);
	return rc < 0 ? rc : erc < 0 ? erc : o.convs;
}

static char *col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return t ? daimon_xstrdup((const char *)t) : NULL;
}

static int openclaw_db(sqlite3 *db, const char *name, daimon_import_sink *sink)
{
	sqlite3_stmt *ev = NULL, *win = NULL;
	if (sqlite3_prepare_v2(db,
			       "SELECT session_id, seq, event_json, created_at, event_zstd IS NOT NULL"
			       " FROM transcript_events ORDER BY session_id, seq",
			       -1, &ev, NULL) != SQLITE_OK) {
		sqlite3_finalize(ev);
		return daimon_error("'%s' has no readable transcript_events table (not an OpenClaw database?): %s",
				    name, sqlite3_errmsg(db));
	}
	/* Optional: older schemas have no session_windows. */
	sqlite3_prepare_v2(db, "SELECT session_key, channel, display_name FROM session_windows WHERE session_id=?1", -1,
			   &win, NULL);
	struct oc o = {.sink = sink, .name = name};
	char *key = NULL, *channel = NULL, *title = NULL;
	int rc = 0, step = SQLITE_DONE;
	while (rc >= 0 && (step = sqlite3_step(ev)) == SQLITE_ROW) {
		const char *sid = (const char *)sqlite3_column_text(ev, 0);
		if (!sid)
			continue;
		if (!o.orig_id || strcmp(sid, o.orig_id)) {
			if ((rc = oc_end(&o)) < 0)
				break;
			free(o.orig_id);
			free(key), free(channel), free(title);
			key = channel = title = NULL;
			o.orig_id = daimon_xstrdup(sid);
			o.created = 0;
			if (win) {
				sqlite3_reset(win);
				sqlite3_bind_text(win, 1, sid, -1, SQLITE_TRANSIENT);
				if (sqlite3_step(win) == SQLITE_ROW) {
					key = col_text(win, 0);
					channel = col_text(win, 1);
					title = col_text(win, 2);
				}
			}
			o.key = key, o.channel = channel, o.title = title;
		}
		char where[512];
		snprintf(where, sizeof(where), "%s: session %s seq %lld", name, sid,
			 (long long)sqlite3_column_int64(ev, 1));
		const char *json = (const char *)sqlite3_column_text(ev, 2);
		if (!json) {
			daimon_import_warn(sink, where, 0, "%s",
					   sqlite3_column_int(ev, 4) ? "event is zstd-compressed; daimon reads only "
								       "uncompressed events"
								     : "event without event_json");
			continue;
		}
		cJSON *j = cJSON_Parse(json);
		if (!cJSON_IsObject(j)) {
			daimon_import_warn(sink, where, 0, "event_json is not a JSON object");
			cJSON_Delete(j);
			continue;
		}
		if (!cJSON_GetObjectItemCaseSensitive(j, "timestamp") && sqlite3_column_type(ev, 3) == SQLITE_INTEGER)
			cJSON_AddNumberToObject(j, "timestamp", (double)sqlite3_column_int64(ev, 3));
		if (!o.created)
			o.created = daimon_import_ts(cJSON_GetObjectItemCaseSensitive(j, "timestamp"));
		rc = oc_event(&o, j, where, 0);
		cJSON_Delete(j);
	}
	if (rc >= 0 && step != SQLITE_DONE && step != SQLITE_ROW)
		rc = daimon_error("cannot read '%s': %s", name, sqlite3_errmsg(db));
	int erc = oc_end(&o);
	sqlite3_finalize(ev);
	sqlite3_finalize(win);
	free(o.orig_id);
	free(key), free(channel), free(title);
	return rc < 0 ? rc : erc < 0 ? erc : o.convs;
}

int daimon_import_openclaw_db(sqlite3 *db, const char *name, daimon_import_sink *sink)
{
	daimon_import_db_guard g;
	daimon_import_guard_begin(&g, db);
	return daimon_import_guard_end(&g, name, openclaw_db(db, name, sink));
}
