/*
 * index.h — index.db, the SQLite FTS5 index over every session log.
 *
 * The index is derived data: the logs are the truth, and the index can be
 * thrown away and rebuilt from them at any time (`daimon index rebuild`).
 * For each log it records how far it has applied it (byte offset, line,
 * seq) in the same transaction as the rows it added, so after a crash it
 * resumes exactly where the last committed transaction ended.
 *
 * Whoever appends to a log brings the index up to date afterwards
 * (daimon_index_update_session); `daimon_index_update` scans every log and
 * catches up whatever is behind, and is what runs at start-up.
 */
#ifndef DAIMON_MEMORY_INDEX_H
#define DAIMON_MEMORY_INDEX_H

typedef struct sqlite3 sqlite3; /* (sqlite3.h: for memory/ only) */
#include <stddef.h>
#include <stdint.h>

#include "memory/store.h"

typedef struct daimon_index daimon_index;

typedef struct {
	/* Called now and then with sessions done / total (may be NULL). */
	void (*progress)(void *payload, size_t done, size_t total);
	/* Called with one line for each damaged log (may be NULL). */
	void (*warn)(void *payload, const char *message);
	void *payload;
} daimon_index_hooks;

typedef struct {
	size_t sessions_seen;
	size_t sessions_updated;
	size_t records_indexed;
	size_t damaged; /* logs that stopped at a damaged line */
	int rebuilt;    /* an update found a log shrunk or gone and rebuilt */
} daimon_index_stats;

typedef struct {
	int64_t sessions;
	int64_t messages;
	int64_t index_bytes;  /* index.db and its WAL */
	int64_t log_bytes;    /* all session logs */
	int64_t logs_behind;  /* logs with records not yet indexed */
	int64_t logs_missing; /* indexed logs whose file is gone */
	int64_t built;        /* ms of the last rebuild, 0 if never */
} daimon_index_status;

/* Opens (creating if needed) <home>/index.db for the sessions in `st`. */
int daimon_index_open(daimon_index **out, const daimon_store *st);
void daimon_index_close(daimon_index *ix);
/* The database, for memory/'s own modules (search, queries): no SQL
 * outside memory/; the layers above ask through the functions below. */
sqlite3 *daimon_index_db(daimon_index *ix);
const daimon_store *daimon_index_store(daimon_index *ix);

/* One conversation as the index knows it (memory/index-query.c); the
 * strings live until `each` returns. */
typedef struct {
	const char *id, *key, *channel, *title, *source, *summary; /* NULL when not known */
	int64_t messages;
	int64_t first_ts, last_ts; /* ms; 0 when there is no message */
} daimon_index_session;

/* The sessions, the most recently active first, at most `limit`: `each`
 * for each (a non-zero return stops; < 0 is returned). */
int daimon_index_sessions(daimon_index *ix, int64_t limit,
			  int (*each)(const daimon_index_session *session, void *payload), void *payload);
/* The sessions whose id starts with `prefix`: how many (0, 1, or 2 for
 * more than one), *id the first (caller frees), or < 0. */
int daimon_index_find_prefix(daimon_index *ix, const char *prefix, char **id);
/* The most recently active session of a conversation key, or NULL
 * (caller frees). */
char *daimon_index_find_key(daimon_index *ix, const char *key);
/* The id of the session `arg` names — an id, a unique prefix of one, or
 * a conversation key (its most recent session) — or NULL with an error
 * saying which was not found or not unique (caller frees). Every
 * command that takes a session takes any of these. */
char *daimon_index_resolve(daimon_index *ix, const char *arg);
/* A session's conversation key, or NULL (caller frees). */
char *daimon_index_key_of(daimon_index *ix, const char *id);

/* Applies the records of one log not yet indexed. */
int daimon_index_update_session(daimon_index *ix, const char *id, daimon_index_stats *stats);
/* Catches up every log under sessions/. */
int daimon_index_update(daimon_index *ix, const daimon_index_hooks *hooks, daimon_index_stats *stats);
/* The cheap check for readers: catches up only if sessions/ changed (a
 * session was created or removed, or a log grew: the log touches its
 * folder, memory/log.c) since the last full update. */
int daimon_index_refresh(daimon_index *ix, const daimon_index_hooks *hooks);
/* Empties the index and reads every log again. */
int daimon_index_rebuild(daimon_index *ix, const daimon_index_hooks *hooks, daimon_index_stats *stats);
int daimon_index_get_status(daimon_index *ix, daimon_index_status *out);

/* For a writer that fills many logs at once (import): each log is handed
 * over as soon as the writer has committed it and is indexed on a thread
 * of the index's own, in one transaction, so writing and indexing overlap.
 * The index must not be used otherwise until the stream ends. `bulk`
 * loads in bulk mode (worth it for large inputs only: it ends with a
 * merge of the whole index). */
typedef struct daimon_index_stream daimon_index_stream;
int daimon_index_stream_begin(daimon_index *ix, int bulk, daimon_index_stream **out);
/* Log `id` has new committed records after byte `off` (line `line`, seq
 * `seq`: where it stood when the writer opened it; 0, 0, 0 for a new
 * log). A log the index was not caught up with is left to the next
 * daimon_index_update. Callable from the writer's thread. */
void daimon_index_stream_push(daimon_index_stream *s, const char *id, int64_t off, int64_t line, int64_t seq);
/* No more logs: waits for the indexing to finish and commits it. */
int daimon_index_stream_end(daimon_index_stream *s, daimon_index_stats *stats);

#endif
