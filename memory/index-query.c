/*
 * index-query.c — the questions the layers above ask the index about
 * conversations (which there are, newest first; which session a key or an
 * id prefix names), so that no SQL lives outside memory/ and "list the
 * sessions" is written once for the command line, the chat and the web.
 */
#include "memory/index.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "memory/store.h"

static const char *text(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

int daimon_index_sessions(daimon_index *ix, int64_t limit,
			  int (*each)(const daimon_index_session *session, void *payload), void *payload)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(daimon_index_db(ix),
			       "SELECT id, key, channel, title, n_msgs, first_ts, last_ts, source, summary FROM logs"
			       " ORDER BY coalesce(last_ts, created) DESC, id LIMIT ?1",
			       -1, &s, NULL) != SQLITE_OK)
		return daimon_error("cannot list the sessions: %s", sqlite3_errmsg(daimon_index_db(ix)));
	sqlite3_bind_int64(s, 1, limit);
	int rc = 0, step;
	while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
		daimon_index_session row = {
			.id = text(s, 0),
			.key = text(s, 1),
			.channel = text(s, 2),
			.title = text(s, 3),
			.messages = sqlite3_column_int64(s, 4),
			.first_ts = sqlite3_column_int64(s, 5),
			.last_ts = sqlite3_column_int64(s, 6),
			.source = text(s, 7),
			.summary = text(s, 8),
		};
		rc = each(&row, payload);
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = daimon_error("cannot list the sessions: %s", sqlite3_errmsg(daimon_index_db(ix)));
	sqlite3_finalize(s);
	return rc < 0 ? rc : 0;
}

/* The first column of the first row `sql` gives with `arg` bound, and
 * how many rows there were (up to 2). */
static int first_id(daimon_index *ix, const char *sql, const char *arg, char **out)
{
	sqlite3_stmt *s;
	*out = NULL;
	if (sqlite3_prepare_v2(daimon_index_db(ix), sql, -1, &s, NULL) != SQLITE_OK)
		return daimon_error("cannot look in the index: %s", sqlite3_errmsg(daimon_index_db(ix)));
	sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
	int n = 0;
	while (n < 2 && sqlite3_step(s) == SQLITE_ROW)
		if (n++ == 0 && text(s, 0))
			*out = daimon_xstrdup(text(s, 0));
	sqlite3_finalize(s);
	return n;
}

int daimon_index_find_prefix(daimon_index *ix, const char *prefix, char **id)
{
	return first_id(ix, "SELECT id FROM logs WHERE substr(id, 1, length(?1)) = ?1 LIMIT 2", prefix, id);
}

char *daimon_index_find_key(daimon_index *ix, const char *key)
{
	char *id;
	first_id(ix, "SELECT id FROM logs WHERE key = ?1 ORDER BY last_ts DESC LIMIT 1", key, &id);
	return id;
}

char *daimon_index_key_of(daimon_index *ix, const char *id)
{
	char *key;
	first_id(ix, "SELECT key FROM logs WHERE id = ?1", id, &key);
	return key;
}

char *daimon_index_resolve(daimon_index *ix, const char *arg)
{
	const daimon_store *st = daimon_index_store(ix);
	if (!arg || !*arg) {
		daimon_error_code(DAIMON_EINVAL, "which session? (an id, a prefix of one, or a key)");
		return NULL;
	}
	if (daimon_session_id_valid(arg)) {
		char *path = daimon_store_log_path(st, arg);
		int there = access(path, F_OK) == 0;
		free(path);
		if (there)
			return daimon_xstrdup(arg);
	}
	daimon_index_refresh(ix, NULL);
	char *found = NULL;
	int n = daimon_index_find_prefix(ix, arg, &found);
	if (n < 0)
		return NULL;
	if (n > 1) {
		free(found);
		daimon_error_code(DAIMON_EINVAL, "'%s' matches more than one session; give more of the id", arg);
		return NULL;
	}
	if (!found)
		found = daimon_index_find_key(ix, arg);
	if (!found)
		daimon_error_code(DAIMON_ENOTFOUND, "no session '%s' (see `daimon sessions list`)", arg);
	return found;
}
