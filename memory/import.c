/*
 * import.c — the store sink and the file walking behind `daimon import`
 * (see import.h). The format readers live in import-<format>.c.
 */
#include "memory/import.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"
#include "memory/text.h"

const char *const daimon_import_formats[] = {"openclaw", "claude-code", "chatgpt", "hermes", NULL};

int64_t daimon_import_ts(const cJSON *v)
{
	int64_t ms;
	if (cJSON_IsString(v) && daimon_ts_parse(v->valuestring, &ms) == 0)
		return ms;
	if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble > 0) {
		double d = v->valuedouble;
		/* Seconds until the year 5138, milliseconds after that; beyond
		 * the year 9999 it is not a time at all. */
		if (d < 1e11)
			return (int64_t)(d * 1000.0);
		if (d < 253402300800000.0)
			return (int64_t)d;
	}
	return 0;
}

void daimon_import_warn(daimon_import_sink *sink, const char *name, size_t line, const char *fmt, ...)
{
	if (!sink->warn)
		return;
	char where[4096], what[1024];
	if (line)
		snprintf(where, sizeof(where), "%s:%zu", name, line);
	else
		snprintf(where, sizeof(where), "%s", name);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	sink->warn(sink->payload, where, what);
}

/* A damaged database can make SQLite walk a cycle of pages forever. No
 * honest read of a database needs more than a bounded amount of work per
 * page, so the guard stops one that does. */
static int guard_tick(void *payload)
{
	daimon_import_db_guard *g = payload;
	return ++g->ticks > g->budget;
}

void daimon_import_guard_begin(daimon_import_db_guard *g, sqlite3 *db)
{
	sqlite3_stmt *s;
	int64_t pages = 0;
	if (sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		pages = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	g->db = db;
	g->ticks = 0;
	g->budget = 2000 + pages * 2000; /* ticks of 1,000 VM steps */
	sqlite3_progress_handler(db, 1000, guard_tick, g);
}

int daimon_import_guard_end(daimon_import_db_guard *g, const char *name, int rc)
{
	sqlite3_progress_handler(g->db, 0, NULL, NULL);
	if (g->ticks > g->budget)
		return daimon_error_code(DAIMON_ECORRUPT,
					 "'%s' looks damaged: reading it never ends (try "
					 "`sqlite3 '%s' .recover`)",
					 name, name);
	return rc;
}

int daimon_import_each_line(const char *data, size_t len,
			    int (*fn)(void *ctx, const char *line, size_t len, size_t lineno), void *ctx)
{
	size_t lineno = 0, pos = 0;
	while (pos < len) {
		const char *start = data + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;
		pos += n + (nl != NULL);
		lineno++;
		while (n > 0 && (start[n - 1] == '\r' || start[n - 1] == ' ' || start[n - 1] == '\t'))
			n--;
		if (n == 0)
			continue;
		int rc = fn(ctx, start, n, lineno);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- the store sink ---- */

struct store_sink {
	daimon_store *st;
	daimon_import_stats *stats;
	const daimon_import_hooks *hooks;
	/* the conversation being imported */
	char *format, *orig_id, *path, *title, *key, *channel;
	int64_t created, last_ts;
	daimon_log *log;
	char id[DAIMON_ID_MAX + 1];
	int64_t start_off, start_line, start_seq; /* where the log stood when opened */
	uint64_t skip;                            /* records already in the session from an earlier import */
	uint64_t added;                           /* records appended to it now */
	int failed;
	daimon_index_stream *index; /* told of each session written, or NULL */
};

static void sink_warn(void *payload, const char *where, const char *what)
{
	struct store_sink *s = payload;
	s->stats->warnings++;
	if (s->hooks && s->hooks->warn)
		s->hooks->warn(s->hooks->payload, where, what);
}

static void conv_clear(struct store_sink *s)
{
	free(s->format);
	free(s->orig_id);
	free(s->path);
	free(s->title);
	free(s->key);
	free(s->channel);
	s->format = s->orig_id = s->path = s->title = s->key = s->channel = NULL;
}

static char *dup_or_null(const char *v)
{
	return v ? daimon_xstrdup(v) : NULL;
}

static int sink_begin(void *payload, const daimon_import_conv *c)
{
	struct store_sink *s = payload;
	conv_clear(s);
	s->format = daimon_xstrdup(c->format);
	s->orig_id = daimon_xstrdup(c->orig_id);
	s->path = daimon_xstrdup(c->path);
	s->title = dup_or_null(c->title);
	s->key = dup_or_null(c->key);
	s->channel = dup_or_null(c->channel);
	s->created = s->last_ts = c->created;
	s->log = NULL;
	s->skip = 0;
	s->added = 0;
	s->failed = 0;
	s->stats->conversations++;
	return 0;
}

/* An imported conversation's key: its own, never shared with another
 * session nor taken for a channel's sender — "FORMAT:ID", or the
 * source's grouping under its format ("claude-code:garden") with the
 * id's first 8 characters after it. */
static char *import_key(const char *format, const char *grouping, const char *orig_id)
{
	size_t n = strlen(format);
	if (grouping && !strncmp(grouping, format, n) && grouping[n] == ':')
		return daimon_xasprintf("%s:%.8s", grouping, orig_id);
	return daimon_xasprintf("%s:%s", format, orig_id);
}

/* Opens the conversation's session, creating it on its first record. A
 * new session is tried first: on a first import that is every one. */
static int sink_open_session(struct store_sink *s, int64_t first_ts)
{
	char *original = daimon_xasprintf("%s:%s", s->format, s->orig_id);
	daimon_session_id_derived(s->id, s->format, original);
	free(original);
	s->start_off = s->start_line = s->start_seq = 0;
	char *key = import_key(s->format, s->key, s->orig_id);
	cJSON *source = cJSON_CreateObject();
	cJSON_AddStringToObject(source, "format", s->format);
	cJSON_AddStringToObject(source, "path", s->path);
	cJSON_AddStringToObject(source, "id", s->orig_id);
	if (s->key && strcmp(s->key, key)) /* (the name it had there: a Hermes or OpenClaw session key) */
		cJSON_AddStringToObject(source, "key", s->key);
	daimon_session_meta meta = {
		.id = s->id,
		.key = key,
		.channel = s->channel ? s->channel : s->format,
		.created = s->created ? s->created : first_ts,
		.title = s->title,
		.source = source,
	};
	int rc = daimon_store_create(s->st, &meta, DAIMON_LOG_DEFER_SYNC, &s->log, NULL);
	cJSON_Delete(source);
	free(key);
	if (rc == 0) {
		s->stats->sessions_new++;
		return 0;
	}
	if (rc != DAIMON_EEXISTS)
		return rc;
	/* Imported before: append only what that import did not have. */
	char *path = daimon_store_log_path(s->st, s->id);
	daimon_log_report rep;
	rc = daimon_log_open(&s->log, path, DAIMON_LOG_DEFER_SYNC, &rep);
	free(path);
	if (rc == 0) {
		s->skip = rep.records - 1;
		s->start_off = daimon_log_size(s->log);
		s->start_line = (int64_t)rep.records;
		s->start_seq = (int64_t)rep.last_seq;
	}
	return rc;
}

static int sink_record(void *payload, const char *type, int64_t ts, const cJSON *fields)
{
	struct store_sink *s = payload;
	if (s->failed)
		return 0;
	if (!ts)
		ts = s->last_ts ? s->last_ts : daimon_now_ms();
	s->last_ts = ts;
	if (!s->log && sink_open_session(s, ts) < 0) {
		s->failed = 1;
		sink_warn(s, s->path, daimon_error_last());
		return 0;
	}
	if (s->skip > 0) {
		s->skip--;
		return 0;
	}
	char tsbuf[DAIMON_TS_LEN];
	daimon_ts_format(tsbuf, ts);
	if (daimon_log_append(s->log, type, tsbuf, fields, NULL, NULL, NULL) < 0)
		return -1;
	s->stats->records_new++;
	s->added++;
	return 0;
}

static int sink_end(void *payload)
{
	struct store_sink *s = payload;
	int rc = 0;
	if (s->log) {
		rc = daimon_log_close(s->log);
		s->log = NULL;
		if (rc == 0 && s->added && s->index)
			daimon_index_stream_push(s->index, s->id, s->start_off, s->start_line, s->start_seq);
	}
	conv_clear(s);
	return rc;
}

/* ---- files ---- */

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

static int is_sqlite_file(const char *path)
{
	char head[16];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = daimon_pread_all(fd, head, sizeof(head), 0);
	close(fd);
	return n == 16 && !memcmp(head, "SQLite format 3", 16);
}

/* Whether a file found while walking a directory belongs to `format`. */
static int wanted(const char *format, const char *name)
{
	if (!strcmp(format, "claude-code"))
		return has_suffix(name, ".jsonl");
	if (!strcmp(format, "openclaw"))
		return has_suffix(name, ".jsonl") || has_suffix(name, ".sqlite") || has_suffix(name, ".db");
	if (!strcmp(format, "chatgpt"))
		return !strcmp(name, "conversations.json");
	if (!strcmp(format, "hermes"))
		return !strcmp(name, "state.db");
	return 0;
}

struct file_list {
	char **v;
	size_t n, cap;
};

static void list_add(struct file_list *l, char *path)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = daimon_xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = path;
}

static int walk(const char *format, const char *dir, struct file_list *out, int depth)
{
	DIR *d = opendir(dir);
	if (!d)
		return daimon_error_errno("cannot open '%s'", dir);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *path = daimon_xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(path, &st) < 0) {
			free(path);
			continue;
		}
		if (S_ISDIR(st.st_mode) && depth < 8) {
			walk(format, path, out, depth + 1);
			free(path);
		} else if (S_ISREG(st.st_mode) && wanted(format, e->d_name)) {
			list_add(out, path);
		} else {
			free(path);
		}
	}
	closedir(d);
	return 0;
}

static int path_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int open_db_readonly(const char *path, sqlite3 **db)
{
	char *uri = daimon_xasprintf("file:%s?mode=ro", path);
	int rc = sqlite3_open_v2(uri, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
	free(uri);
	if (rc != SQLITE_OK) {
		rc = daimon_error("cannot open '%s': %s", path, *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
		sqlite3_close(*db);
		*db = NULL;
		return rc;
	}
	sqlite3_busy_timeout(*db, 5000);
	return 0;
}

/* Reads one file with the format's reader; returns conversations or <0. */
static int import_file(const char *format, const char *path, daimon_import_sink *sink)
{
	if (is_sqlite_file(path)) {
		int (*reader)(sqlite3 *, const char *, daimon_import_sink *) =
			!strcmp(format, "hermes")     ? daimon_import_hermes_db
			: !strcmp(format, "openclaw") ? daimon_import_openclaw_db
						      : NULL;
		if (!reader)
			return daimon_error("'%s' is a SQLite database, not %s input", path, format);
		sqlite3 *db;
		int rc = open_db_readonly(path, &db);
		if (rc < 0)
			return rc;
		rc = reader(db, path, sink);
		sqlite3_close(db);
		return rc;
	}
	int (*reader)(const char *, size_t, const char *, daimon_import_sink *) =
		!strcmp(format, "openclaw")      ? daimon_import_openclaw_buf
		: !strcmp(format, "claude-code") ? daimon_import_claude_buf
		: !strcmp(format, "chatgpt")     ? daimon_import_chatgpt_buf
						 : NULL;
	if (!reader)
		return daimon_error("'%s' is not a SQLite database (%s input is its state.db)", path, format);
	daimon_buf data = DAIMON_BUF_INIT;
	int rc = daimon_read_file(&data, path);
	if (rc == 0)
		rc = reader(data.ptr ? data.ptr : "", data.len, path, sink);
	daimon_buf_release(&data);
	return rc;
}

int daimon_import_paths(daimon_store *st, daimon_index *ix, const char *format, const char *const *paths, size_t npaths,
			const daimon_import_hooks *hooks, daimon_import_stats *stats)
{
	int known = 0;
	for (const char *const *f = daimon_import_formats; *f; f++)
		known |= !strcmp(*f, format);
	if (!known)
		return daimon_error_code(DAIMON_EINVAL,
					 "unknown import format '%s' (known: openclaw, claude-code, "
					 "chatgpt, hermes)",
					 format);
	memset(stats, 0, sizeof(*stats));
	struct file_list files = {0};
	int rc = 0;
	for (size_t i = 0; i < npaths && rc == 0; i++) {
		struct stat sb;
		if (stat(paths[i], &sb) < 0)
			rc = daimon_error_errno("cannot read '%s'", paths[i]);
		else if (S_ISDIR(sb.st_mode))
			rc = walk(format, paths[i], &files, 0);
		else
			list_add(&files, daimon_xstrdup(paths[i]));
	}
	if (files.n > 1)
		qsort(files.v, files.n, sizeof(*files.v), path_cmp);
	struct store_sink s = {.st = st, .stats = stats, .hooks = hooks};
	/* Index each session as soon as it is written, on the index's thread. */
	int64_t input_bytes = 0;
	for (size_t i = 0; i < files.n; i++) {
		struct stat sb;
		input_bytes += stat(files.v[i], &sb) == 0 ? sb.st_size : 0;
	}
	if (ix && rc == 0 && files.n && (rc = daimon_index_stream_begin(ix, input_bytes > (16 << 20), &s.index)) < 0)
		s.index = NULL;
	daimon_import_sink sink = {sink_begin, sink_record, sink_end, sink_warn, &s};
	for (size_t i = 0; i < files.n && rc == 0; i++) {
		stats->files++;
		int n = import_file(format, files.v[i], &sink);
		if (s.log) /* a reader stopped inside a conversation */
			sink_end(&s);
		if (n < 0)
			sink_warn(&s, files.v[i], daimon_error_last());
		else if (n == 0)
			daimon_import_warn(&sink, files.v[i], 0, "no %s conversation found", format);
		if (hooks && hooks->progress)
			hooks->progress(hooks->payload, files.v[i], stats);
	}
	for (size_t i = 0; i < files.n; i++)
		free(files.v[i]);
	free(files.v);
	conv_clear(&s);
	if (npaths && !files.n && rc == 0)
		rc = daimon_error_code(DAIMON_ENOTFOUND, "no %s files found in the given paths", format);
	/* The logs were written without fdatasync each; make them durable at once. */
	int dfd = open(st->sessions_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (syncfs(dfd) < 0 && rc == 0)
			rc = daimon_error_errno("cannot sync '%s'", st->sessions_dir);
		close(dfd);
	}
	/* The index commits only after the logs it read are durable. */
	if (s.index) {
		int irc = daimon_index_stream_end(s.index, NULL);
		if (rc == 0)
			rc = irc;
	}
	/* Anything the stream missed, and the index's view of sessions/. */
	if (ix && rc == 0 && stats->records_new)
		rc = daimon_index_update(ix, NULL, NULL);
	return rc;
}

/* ---- shared by the readers ---- */

void daimon_import_tool_call(cJSON *calls, const char *id, const char *name, const cJSON *args)
{
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "id", id ? id : "");
	cJSON_AddStringToObject(c, "name", name ? name : "tool");
	if (cJSON_IsString(args)) {
		cJSON_AddStringToObject(c, "arguments", args->valuestring);
	} else {
		char *a = args ? cJSON_PrintUnformatted(args) : NULL;
		cJSON_AddStringToObject(c, "arguments", a ? a : "{}");
		cJSON_free(a);
	}
	cJSON_AddItemToArray(calls, c);
}

static int emit_tool_result(daimon_import_sink *sink, const cJSON *b, int64_t ts)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(b, "tool_use_id");
	if (!cJSON_IsString(id))
		id = cJSON_GetObjectItemCaseSensitive(b, "toolCallId");
	daimon_buf text = DAIMON_BUF_INIT;
	daimon_content_text(cJSON_GetObjectItemCaseSensitive(b, "content"), &text);
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "call_id", cJSON_IsString(id) ? id->valuestring : "");
	cJSON_AddStringToObject(f, "content", daimon_buf_cstr(&text));
	cJSON_AddBoolToObject(f, "is_error", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "is_error")));
	int rc = sink->record(sink->payload, "tool_result", ts, f);
	cJSON_Delete(f);
	daimon_buf_release(&text);
	return rc;
}

int daimon_import_blocks(daimon_import_sink *sink, const char *role, const cJSON *content, int64_t ts)
{
	daimon_buf text = DAIMON_BUF_INIT;
	cJSON *calls = cJSON_CreateArray();
	int rc = 0;
	if (cJSON_IsString(content)) {
		daimon_buf_adds(&text, content->valuestring);
	} else if (cJSON_IsArray(content)) {
		for (const cJSON *b = content->child; b && rc == 0; b = b->next) {
			const char *type = daimon_json_str(b, "type");
			if (type &&
			    (!strcmp(type, "toolCall") || !strcmp(type, "tool_use") || !strcmp(type, "tool_call"))) {
				const cJSON *args = cJSON_GetObjectItemCaseSensitive(b, "arguments");
				if (!args)
					args = cJSON_GetObjectItemCaseSensitive(b, "input");
				daimon_import_tool_call(calls, daimon_json_str(b, "id"), daimon_json_str(b, "name"),
							args);
			} else if (type && !strcmp(type, "tool_result")) {
				rc = emit_tool_result(sink, b, ts);
			} else if (!type || strcmp(type, "thinking")) {
				daimon_content_text(b, &text);
			}
		}
	}
	if (rc == 0 && (text.len || cJSON_GetArraySize(calls))) {
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "role", role);
		cJSON_AddStringToObject(f, "content", daimon_buf_cstr(&text));
		if (cJSON_GetArraySize(calls)) {
			cJSON_AddItemToObject(f, "tool_calls", calls);
			calls = NULL;
		}
		rc = sink->record(sink->payload, "message", ts, f);
		cJSON_Delete(f);
	}
	cJSON_Delete(calls);
	daimon_buf_release(&text);
	return rc;
}
