/*
 * import.h — bring conversations from other assistants into daimon.
 *
 * Each format's reader turns its input into conversations and records in
 * daimon's own shape (see log.c) and hands them to a sink. The store sink
 * writes them as daimon sessions with their original timestamps and a
 * "source" in the session record, then indexes them. A conversation's
 * session id is derived from its original id, so importing the same input
 * again finds the session and appends only records it does not have yet.
 *
 * Readers never stop at the first bad line: damage is reported through
 * sink->warn with file:line, and everything else is imported.
 */
#ifndef DAIMON_MEMORY_IMPORT_H
#define DAIMON_MEMORY_IMPORT_H

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "memory/index.h"
#include "memory/store.h"

typedef struct {
	const char *format;  /* "openclaw", "claude-code", "chatgpt", "hermes" */
	const char *orig_id; /* the conversation's id in its own tool */
	const char *path;    /* the file it came from */
	int64_t created;     /* ms, 0 if unknown */
	const char *title;   /* may be NULL */
	const char *key;     /* conversation key, may be NULL */
	const char *channel; /* may be NULL */
} daimon_import_conv;

typedef struct {
	int (*begin)(void *payload, const daimon_import_conv *conv);
	/* `fields` is borrowed: {"role","content",...} for "message",
	 * {"call_id","content","is_error"} for "tool_result", {"summary"} for
	 * "compaction". ts 0 means unknown (the previous record's time is used). */
	int (*record)(void *payload, const char *type, int64_t ts, const cJSON *fields);
	int (*end)(void *payload);
	void (*warn)(void *payload, const char *where, const char *what);
	void *payload;
} daimon_import_sink;

/* Format readers. The _buf and _db forms read from memory (the fuzz
 * targets use them); `name` is used in messages. */
int daimon_import_openclaw_buf(const char *data, size_t len, const char *name, daimon_import_sink *sink);
int daimon_import_openclaw_db(sqlite3 *db, const char *name, daimon_import_sink *sink);
int daimon_import_claude_buf(const char *data, size_t len, const char *name, daimon_import_sink *sink);
int daimon_import_chatgpt_buf(const char *data, size_t len, const char *name, daimon_import_sink *sink);
int daimon_import_hermes_db(sqlite3 *db, const char *name, daimon_import_sink *sink);

typedef struct {
	size_t files;
	size_t conversations; /* seen */
	size_t sessions_new;  /* created */
	size_t records_new;   /* appended */
	size_t warnings;
} daimon_import_stats;

typedef struct {
	void (*warn)(void *payload, const char *where, const char *what);
	void (*progress)(void *payload, const char *path, const daimon_import_stats *stats);
	void *payload;
} daimon_import_hooks;

/* The known format names, NULL-terminated. */
extern const char *const daimon_import_formats[];
/* Imports files or directories (searched for the format's files) into the
 * store and brings the index up to date. */
int daimon_import_paths(daimon_store *st, daimon_index *ix, const char *format, const char *const *paths, size_t npaths,
			const daimon_import_hooks *hooks, daimon_import_stats *stats);

/* Shared by the readers: ts in ms from an RFC 3339 string or a number of
 * seconds or milliseconds since the epoch; 0 if none. */
int64_t daimon_import_ts(const cJSON *v);
/* Reports "name:line" + what through sink->warn. */
void daimon_import_warn(daimon_import_sink *sink, const char *name, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Appends {"id","name","arguments"} to `calls`: arguments kept as the
 * string the model produced, or printed if the source holds them as JSON. */
void daimon_import_tool_call(cJSON *calls, const char *id, const char *name, const cJSON *args);
/* Emits a message in daimon's shape from content that is a string or a list
 * of blocks: text blocks become its content, tool-call blocks (toolCall,
 * tool_use, tool_call) its tool_calls, and tool-result blocks separate
 * tool_result records (emitted first). Nothing is emitted for no content. */
int daimon_import_blocks(daimon_import_sink *sink, const char *role, const cJSON *content, int64_t ts);
/* Bounds the work of reading a (possibly damaged) database: begin before
 * the reads, end after them; end returns `rc`, or a damage error if the
 * reads were stopped for taking far more work than the database's size. */
typedef struct {
	sqlite3 *db;
	int64_t ticks, budget;
} daimon_import_db_guard;
void daimon_import_guard_begin(daimon_import_db_guard *g, sqlite3 *db);
int daimon_import_guard_end(daimon_import_db_guard *g, const char *name, int rc);
/* Splits `data` into lines and calls fn for each non-blank one. */
int daimon_import_each_line(const char *data, size_t len,
			    int (*fn)(void *ctx, const char *line, size_t len, size_t lineno), void *ctx);

#endif
