/*
 * index.c — the FTS5 index (see index.h).
 *
 * SCHEMA (index.db, WAL mode)
 *   meta(k, v)     schema_version; dir_mtime (sessions/ as of the last full
 *                  update); built (ms of the last rebuild)
 *   logs           one row per session log: its metadata (key, channel,
 *                  title, source, created, first/last message time, message
 *                  count) and how far the index has applied it: off (byte
 *                  offset of the next unread line), line, seq
 *   msgs           one row per searchable record: session, seq, ts, role,
 *                  and where its line is in the log (off, len)
 *   fts            FTS5 over the record text, rowid = msgs.id. Contentless
 *                  (content=''): the text already lives in the logs, so
 *                  storing it again would double the size. Snippets are cut
 *                  from the log lines themselves (see search.c).
 *
 * Why the index stays smaller than the logs: it holds the inverted index
 * and ~30 bytes of metadata per message, while each log line carries JSON
 * keys, quoting and timestamps around the same words.
 */
#include "memory/index.h"

#include <sqlite3.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"
#include "memory/log.h"
#include "memory/text.h"

#define SCHEMA_VERSION 3
#define TITLE_MAX 80
#define BATCH_RECORDS 50000

enum stmt_id { S_LOG_GET, S_LOG_ADD, S_LOG_SET, S_MSG_ADD, S_FTS_ADD, S_META_SET, S_META_GET, S__COUNT };

static const char *const stmt_sql[S__COUNT] = {
	[S_LOG_GET] = "SELECT sid, off, line, seq, n_msgs, first_ts, last_ts, title FROM logs WHERE id=?1",
	[S_LOG_ADD] = "INSERT INTO logs(id) VALUES(?1)",
	[S_LOG_SET] = "UPDATE logs SET key=coalesce(?2,key), channel=coalesce(?3,channel),"
		      " title=?4, source=coalesce(?5,source), created=coalesce(?6,created),"
		      " first_ts=?7, last_ts=?8, n_msgs=?9, off=?10, line=?11, seq=?12,"
		      " summary=coalesce(?13,summary) WHERE sid=?1",
	[S_MSG_ADD] = "INSERT INTO msgs(sid, seq, ts, role, off, len) VALUES(?1,?2,?3,?4,?5,?6)",
	[S_FTS_ADD] = "INSERT INTO fts(rowid, body) VALUES(?1, ?2)",
	[S_META_SET] = "INSERT OR REPLACE INTO meta(k, v) VALUES(?1, ?2)",
	[S_META_GET] = "SELECT v FROM meta WHERE k=?1",
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS logs(sid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
	" key TEXT, channel TEXT, title TEXT, source TEXT, created INTEGER, first_ts INTEGER,"
	" last_ts INTEGER, n_msgs INTEGER NOT NULL DEFAULT 0, off INTEGER NOT NULL DEFAULT 0,"
	" line INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL DEFAULT 0, summary TEXT);"
	"CREATE TABLE IF NOT EXISTS msgs(id INTEGER PRIMARY KEY, sid INTEGER NOT NULL,"
	" seq INTEGER NOT NULL, ts INTEGER NOT NULL, role INTEGER NOT NULL, off INTEGER NOT NULL,"
	" len INTEGER NOT NULL);"
	"CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(body, content='',"
	" columnsize=0, tokenize='unicode61 remove_diacritics 2');";

struct daimon_index {
	sqlite3 *db;
	const daimon_store *store;
	char *path;
	sqlite3_stmt *stmt[S__COUNT];
	int in_txn;
	size_t txn_records;
	daimon_buf text;
};

static int db_error(daimon_index *ix, const char *what)
{
	return daimon_error("%s in '%s': %s", what, ix->path, sqlite3_errmsg(ix->db));
}

static int exec(daimon_index *ix, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(ix->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int rc = daimon_error("index '%s': %s", ix->path, msg ? msg : sqlite3_errmsg(ix->db));
		sqlite3_free(msg);
		return rc;
	}
	return 0;
}

/* The prepared statement `id`, prepared on first use (a search never
 * needs most of them, and preparing costs more than the search itself). */
static sqlite3_stmt *stmt(daimon_index *ix, enum stmt_id id)
{
	sqlite3_stmt *s = ix->stmt[id];
	if (!s) {
		if (sqlite3_prepare_v3(ix->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
			/* Only a broken build or database gets here; report it on use. */
			fprintf(stderr, "daimon: cannot prepare index statement: %s\n", sqlite3_errmsg(ix->db));
			abort();
		}
		ix->stmt[id] = s;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

static int meta_set(daimon_index *ix, const char *k, const char *v)
{
	sqlite3_stmt *s = stmt(ix, S_META_SET);
	sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, v, -1, SQLITE_STATIC);
	return sqlite3_step(s) == SQLITE_DONE ? 0 : db_error(ix, "cannot write metadata");
}

/* The value of meta[k] (caller frees), or NULL. */
static char *meta_get(daimon_index *ix, const char *k)
{
	sqlite3_stmt *s = stmt(ix, S_META_GET);
	sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
	char *v = NULL;
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
		v = daimon_xstrdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	return v;
}

static int begin(daimon_index *ix)
{
	if (ix->in_txn)
		return 0;
	if (exec(ix, "BEGIN IMMEDIATE") < 0)
		return -1;
	ix->in_txn = 1;
	ix->txn_records = 0;
	return 0;
}

static int commit(daimon_index *ix)
{
	if (!ix->in_txn)
		return 0;
	ix->in_txn = 0;
	return exec(ix, "COMMIT");
}

static void rollback(daimon_index *ix)
{
	if (ix->in_txn) {
		sqlite3_exec(ix->db, "ROLLBACK", NULL, NULL, NULL);
		ix->in_txn = 0;
	}
}

int daimon_index_open(daimon_index **out, const daimon_store *st)
{
	daimon_index *ix = daimon_xcalloc(1, sizeof(*ix));
	ix->store = st;
	ix->path = daimon_home_path(st->home, "index.db");
	/* Create it private (SQLite gives the WAL and shm files the same mode). */
	struct stat sb;
	int fresh = stat(ix->path, &sb) < 0;
	if (fresh) {
		int fd = open(ix->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
	}
	int rc = sqlite3_open_v2(ix->path, &ix->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		rc = daimon_error("cannot open index '%s': %s", ix->path,
				  ix->db ? sqlite3_errmsg(ix->db) : sqlite3_errstr(rc));
		daimon_index_close(ix);
		return rc;
	}
	sqlite3_busy_timeout(ix->db, 10000);
	/* Searches are short-lived processes: leave the WAL for the next one
	 * instead of checkpointing (a write and two syncs) on every exit.
	 * Writers' automatic checkpoints keep it bounded. */
	sqlite3_db_config(ix->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	if (exec(ix, "PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-32768") < 0) {
		daimon_index_close(ix);
		return -1;
	}
	/* The schema version lives in the header (PRAGMA user_version), so an
	 * up-to-date index is recognised without parsing any SQL. */
	int version = 0;
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(ix->db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (version != SCHEMA_VERSION) {
		/* New, or made by another version of daimon: the index is derived
		 * data, so start it afresh and let the next update fill it. The
		 * dir_mtime it loses makes the next refresh do that update.
		 * auto_vacuum can only be chosen for a new database (setting it on
		 * an existing one writes its header): it lets a rebuild give the
		 * pages of the old index back to the file system. */
		char *sql = daimon_xasprintf(
			"%sPRAGMA journal_mode=WAL; BEGIN IMMEDIATE;"
			" DROP TABLE IF EXISTS fts; DROP TABLE IF EXISTS msgs; DROP TABLE IF EXISTS logs;"
			" DROP TABLE IF EXISTS meta; %s PRAGMA user_version=%d; COMMIT;",
			fresh ? "PRAGMA auto_vacuum=INCREMENTAL; " : "", schema_sql, SCHEMA_VERSION);
		rc = exec(ix, sql);
		free(sql);
		if (rc < 0) {
			rc = daimon_error("%s (remove it and run `daimon index rebuild`)", daimon_error_last());
			daimon_index_close(ix);
			return rc;
		}
	}
	*out = ix;
	return 0;
}

void daimon_index_close(daimon_index *ix)
{
	if (!ix)
		return;
	rollback(ix);
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(ix->stmt[i]);
	sqlite3_close(ix->db);
	daimon_buf_release(&ix->text);
	free(ix->path);
	free(ix);
}

sqlite3 *daimon_index_db(daimon_index *ix)
{
	return ix->db;
}
const daimon_store *daimon_index_store(daimon_index *ix)
{
	return ix->store;
}

/* What the index knows of one log while applying new records to it. */
struct log_state {
	int64_t sid, off, line, seq, n_msgs, first_ts, last_ts;
	char *title;
	char *key, *channel, *source;
	char *summary; /* a newer session summary to store, or NULL */
	int64_t created;
	int have_created;
};

static void log_state_release(struct log_state *ls)
{
	free(ls->title);
	free(ls->summary);
	free(ls->key);
	free(ls->channel);
	free(ls->source);
}

static int log_state_load(daimon_index *ix, const char *id, struct log_state *ls)
{
	memset(ls, 0, sizeof(*ls));
	sqlite3_stmt *s = stmt(ix, S_LOG_GET);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		ls->sid = sqlite3_column_int64(s, 0);
		ls->off = sqlite3_column_int64(s, 1);
		ls->line = sqlite3_column_int64(s, 2);
		ls->seq = sqlite3_column_int64(s, 3);
		ls->n_msgs = sqlite3_column_int64(s, 4);
		ls->first_ts = sqlite3_column_int64(s, 5);
		ls->last_ts = sqlite3_column_int64(s, 6);
		if (sqlite3_column_text(s, 7))
			ls->title = daimon_xstrdup((const char *)sqlite3_column_text(s, 7));
		sqlite3_reset(s);
		return 0;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_error(ix, "cannot read the index");
	s = stmt(ix, S_LOG_ADD);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		return db_error(ix, "cannot add a session to the index");
	ls->sid = sqlite3_last_insert_rowid(ix->db);
	return 0;
}

static void bind_opt_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

static int log_state_save(daimon_index *ix, const struct log_state *ls)
{
	sqlite3_stmt *s = stmt(ix, S_LOG_SET);
	sqlite3_bind_int64(s, 1, ls->sid);
	bind_opt_text(s, 2, ls->key);
	bind_opt_text(s, 3, ls->channel);
	bind_opt_text(s, 4, ls->title);
	bind_opt_text(s, 5, ls->source);
	if (ls->have_created)
		sqlite3_bind_int64(s, 6, ls->created);
	sqlite3_bind_int64(s, 7, ls->first_ts);
	sqlite3_bind_int64(s, 8, ls->last_ts);
	sqlite3_bind_int64(s, 9, ls->n_msgs);
	sqlite3_bind_int64(s, 10, ls->off);
	sqlite3_bind_int64(s, 11, ls->line);
	sqlite3_bind_int64(s, 12, ls->seq);
	bind_opt_text(s, 13, ls->summary);
	return sqlite3_step(s) == SQLITE_DONE ? 0 : db_error(ix, "cannot update the index");
}

/* The first line of `text`, trimmed, cut at TITLE_MAX bytes on a UTF-8 boundary. */
static char *title_from(const char *text)
{
	while (*text == ' ' || *text == '\n' || *text == '\t' || *text == '\r')
		text++;
	size_t n = strcspn(text, "\r\n");
	if (n > TITLE_MAX) {
		n = TITLE_MAX;
		while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
			n--;
	}
	while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t'))
		n--;
	return n ? daimon_xstrndup(text, n) : NULL;
}

/* ---- reading a log: the half of indexing that needs no database ---- */

/* One searchable record, ready to insert. */
struct parsed_rec {
	int64_t seq, ts, off, len;
	int role, is_msg;
	char *text;
};

/* What reading one log from an offset found. Made by parse_log, which
 * touches no database, so a bulk update runs it on another thread. */
struct parsed_log {
	char *id;
	int64_t start_off;
	struct parsed_rec *recs;
	size_t n, cap;
	int have_session;
	char *key, *channel, *title, *source;
	char *summary_title, *summary; /* from the newest session summary */
	int64_t created;
	int64_t end_off, end_line, end_seq;
	char *damage; /* "file:line: what" that stopped reading, or NULL */
	char *error;  /* a failure to read at all, or NULL */
};

static void parsed_log_free(struct parsed_log *pl)
{
	if (!pl)
		return;
	for (size_t i = 0; i < pl->n; i++)
		free(pl->recs[i].text);
	free(pl->recs);
	free(pl->id);
	free(pl->key);
	free(pl->channel);
	free(pl->title);
	free(pl->summary_title);
	free(pl->summary);
	free(pl->source);
	free(pl->damage);
	free(pl->error);
	free(pl);
}

static void replace_str(char **dst, const char *v)
{
	free(*dst);
	*dst = v ? daimon_xstrdup(v) : NULL;
}

static void take_session_record(struct parsed_log *pl, const daimon_record *rec)
{
	const cJSON *j = rec->json;
	pl->have_session = 1;
	replace_str(&pl->key, daimon_json_str(j, "key"));
	replace_str(&pl->channel, daimon_json_str(j, "channel"));
	const char *title = daimon_json_str(j, "title");
	free(pl->title);
	pl->title = title && *title ? title_from(title) : NULL;
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(j, "source");
	free(pl->source);
	pl->source = src ? cJSON_PrintUnformatted(src) : NULL;
	const char *created = daimon_json_str(j, "created");
	if (!created || daimon_ts_parse(created, &pl->created) < 0)
		pl->created = rec->ts;
}

/* Reads the log `id` from a line start (off, line, seq as recorded). */
static struct parsed_log *parse_log(const daimon_store *st, const char *id, int64_t off, int64_t line, int64_t seq)
{
	struct parsed_log *pl = daimon_xcalloc(1, sizeof(*pl));
	pl->id = daimon_xstrdup(id);
	pl->start_off = pl->end_off = off;
	pl->end_line = line;
	pl->end_seq = seq;
	char *path = daimon_store_log_path(st, id);
	daimon_log_reader *r;
	int rc = daimon_log_reader_open(&r, path, (off_t)off, (size_t)line, (uint64_t)seq);
	free(path);
	if (rc < 0) {
		pl->error = daimon_xstrdup(daimon_error_last());
		return pl;
	}
	daimon_record rec;
	daimon_buf text = DAIMON_BUF_INIT;
	while ((rc = daimon_log_reader_next(r, &rec)) == 1) {
		int role;
		if (!strcmp(rec.type, DAIMON_REC_SESSION))
			take_session_record(pl, &rec);
		if (!strcmp(rec.type, DAIMON_REC_SUMMARY)) { /* the newest wins */
			const char *t = daimon_json_str(rec.json, "title");
			if (t && *t)
				replace_str(&pl->summary_title, t);
			replace_str(&pl->summary, daimon_json_str(rec.json, "summary"));
		}
		daimon_buf_clear(&text);
		if (daimon_record_search_text(&rec, &text, &role)) {
			if (pl->n == pl->cap) {
				pl->cap = pl->cap ? 2 * pl->cap : 32;
				pl->recs = daimon_xrealloc(pl->recs, pl->cap * sizeof(*pl->recs));
			}
			pl->recs[pl->n++] = (struct parsed_rec){
				(int64_t)rec.seq,
				rec.ts,
				daimon_log_reader_record_offset(r),
				(int64_t)daimon_log_reader_record_len(r),
				role,
				!strcmp(rec.type, DAIMON_REC_MESSAGE),
				daimon_buf_detach(&text),
			};
		}
		daimon_record_clear(&rec);
	}
	if (rc == DAIMON_ECORRUPT)
		pl->damage = daimon_xstrdup(daimon_error_last());
	else if (rc < 0)
		pl->error = daimon_xstrdup(daimon_error_last());
	pl->end_off = daimon_log_reader_offset(r);
	pl->end_line = (int64_t)daimon_log_reader_line(r);
	pl->end_seq = (int64_t)daimon_log_reader_last_seq(r);
	daimon_log_reader_free(r);
	daimon_buf_release(&text);
	return pl;
}

/* ---- writing what was read: the half that needs the database ---- */

static int add_record(daimon_index *ix, struct log_state *ls, const struct parsed_rec *pr)
{
	sqlite3_stmt *s = stmt(ix, S_MSG_ADD);
	sqlite3_bind_int64(s, 1, ls->sid);
	sqlite3_bind_int64(s, 2, pr->seq);
	sqlite3_bind_int64(s, 3, pr->ts);
	sqlite3_bind_int(s, 4, pr->role);
	sqlite3_bind_int64(s, 5, pr->off);
	sqlite3_bind_int64(s, 6, pr->len);
	if (sqlite3_step(s) != SQLITE_DONE)
		return db_error(ix, "cannot add a message to the index");
	s = stmt(ix, S_FTS_ADD);
	sqlite3_bind_int64(s, 1, sqlite3_last_insert_rowid(ix->db));
	sqlite3_bind_text(s, 2, pr->text, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		return db_error(ix, "cannot add text to the index");
	if (pr->is_msg) {
		ls->n_msgs++;
		if (!ls->first_ts || pr->ts < ls->first_ts)
			ls->first_ts = pr->ts;
		if (pr->ts > ls->last_ts)
			ls->last_ts = pr->ts;
		if (!ls->title && pr->role == DAIMON_ROLE_USER)
			ls->title = title_from(pr->text);
	}
	ix->txn_records++;
	return 0;
}

/* Stores what parse_log read, inside the open transaction, given the
 * index's state of that log (`ls`, loaded in this transaction). */
static int store_log(daimon_index *ix, struct log_state *ls, const struct parsed_log *pl, daimon_index_stats *stats,
		     const daimon_index_hooks *hooks)
{
	if (pl->error)
		return daimon_error("%s", pl->error);
	if (pl->have_session) {
		replace_str(&ls->key, pl->key);
		replace_str(&ls->channel, pl->channel);
		replace_str(&ls->source, pl->source);
		if (pl->title)
			replace_str(&ls->title, pl->title);
		ls->created = pl->created;
		ls->have_created = 1;
	}
	if (pl->summary_title) {
		free(ls->title);
		ls->title = title_from(pl->summary_title);
	}
	if (pl->summary)
		replace_str(&ls->summary, pl->summary);
	for (size_t i = 0; i < pl->n; i++)
		if (add_record(ix, ls, &pl->recs[i]) < 0)
			return -1;
	if (pl->damage) {
		/* Keep what was good; the damage is reported every time until fixed. */
		stats->damaged++;
		if (hooks && hooks->warn)
			hooks->warn(hooks->payload, pl->damage);
	}
	if (pl->end_line == 0)
		return 0; /* no complete line yet: nothing to record */
	ls->off = pl->end_off;
	ls->line = pl->end_line;
	ls->seq = pl->end_seq;
	stats->records_indexed += pl->n;
	stats->sessions_updated += pl->n > 0;
	return log_state_save(ix, ls);
}

/* Applies what is new in one log, inside the open transaction. `size` is
 * the file's size if known (-1 otherwise). Sets *shrunk when the log is
 * shorter than what was indexed (only a rebuild can fix that). */
static int apply_log(daimon_index *ix, const char *id, int64_t size, daimon_index_stats *stats,
		     const daimon_index_hooks *hooks, int *shrunk)
{
	struct log_state ls;
	int rc = log_state_load(ix, id, &ls);
	if (rc == 0 && size >= 0 && size < ls.off)
		*shrunk = 1;
	if (rc == 0 && !*shrunk && size != ls.off) {
		struct parsed_log *pl = parse_log(ix->store, id, ls.off, ls.line, ls.seq);
		rc = store_log(ix, &ls, pl, stats, hooks);
		parsed_log_free(pl);
	}
	log_state_release(&ls);
	return rc;
}

int daimon_index_update_session(daimon_index *ix, const char *id, daimon_index_stats *stats)
{
	daimon_index_stats local = {0};
	if (!stats)
		stats = &local;
	int own = !ix->in_txn, shrunk = 0;
	if (own && begin(ix) < 0)
		return -1;
	int rc = apply_log(ix, id, -1, stats, NULL, &shrunk);
	if (rc < 0) {
		if (own)
			rollback(ix);
		return rc;
	}
	if (own && (rc = commit(ix)) < 0)
		return rc;
	if (shrunk)
		return daimon_error_code(DAIMON_ECORRUPT,
					 "session log '%s' is shorter than the index; run `daimon "
					 "index rebuild`",
					 id);
	return 0;
}

struct known_log {
	char *id;
	int64_t off, line, seq;
};

static int known_cmp(const void *a, const void *b)
{
	return strcmp(((const struct known_log *)a)->id, ((const struct known_log *)b)->id);
}

static int load_known(daimon_index *ix, struct known_log **out, size_t *n)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(ix->db, "SELECT id, off, line, seq FROM logs", -1, &s, NULL) != SQLITE_OK)
		return db_error(ix, "cannot read the index");
	size_t cap = 1024, len = 0;
	struct known_log *k = daimon_xmalloc(cap * sizeof(*k));
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (len == cap)
			k = daimon_xrealloc(k, (cap *= 2) * sizeof(*k));
		k[len].id = daimon_xstrdup((const char *)sqlite3_column_text(s, 0));
		k[len].off = sqlite3_column_int64(s, 1);
		k[len].line = sqlite3_column_int64(s, 2);
		k[len].seq = sqlite3_column_int64(s, 3);
		len++;
	}
	sqlite3_finalize(s);
	qsort(k, len, sizeof(*k), known_cmp);
	*out = k;
	*n = len;
	return 0;
}

static void free_known(struct known_log *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(k[i].id);
	free(k);
}

struct log_file {
	char *id;
	int64_t size;
};

/* Lists sessions/<id>.jsonl with their sizes. */
static int list_logs(daimon_index *ix, struct log_file **out, size_t *n, char mtime[64])
{
	const char *dir = ix->store->sessions_dir;
	DIR *d = opendir(dir);
	if (!d)
		return daimon_error_errno("cannot open '%s'", dir);
	struct stat st;
	if (fstat(dirfd(d), &st) == 0)
		snprintf(mtime, 64, "%lld.%09ld", (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	size_t cap = 1024, len = 0;
	struct log_file *f = daimon_xmalloc(cap * sizeof(*f));
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t nl = strlen(e->d_name);
		if (nl <= 6 || strcmp(e->d_name + nl - 6, ".jsonl"))
			continue;
		char *id = daimon_xstrndup(e->d_name, nl - 6);
		if (!daimon_session_id_valid(id) || fstatat(dirfd(d), e->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode)) {
			free(id);
			continue;
		}
		if (len == cap)
			f = daimon_xrealloc(f, (cap *= 2) * sizeof(*f));
		f[len].id = id;
		f[len].size = st.st_size;
		len++;
	}
	closedir(d);
	*out = f;
	*n = len;
	return 0;
}

static void free_logs(struct log_file *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(f[i].id);
	free(f);
}

/* After a rebuild or a big catch-up: give freed pages back and empty the
 * WAL, which may have grown to the size of the whole index. */
static void compact(daimon_index *ix)
{
	sqlite3_exec(ix->db, "PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);", NULL, NULL, NULL);
}

static int optimize(daimon_index *ix)
{
	return exec(ix, "INSERT INTO fts(fts) VALUES('optimize')");
}

/* Bulk loading: a large in-memory term buffer and no segment merging
 * while loading, then one optimize at the end (bulk_end), instead of
 * merging segments over and over as they pile up. */
static int bulk_begin(daimon_index *ix)
{
	return exec(ix, "INSERT INTO fts(fts, rank) VALUES('hashsize', 33554432);"
			"INSERT INTO fts(fts, rank) VALUES('automerge', 0);");
}

static int bulk_end(daimon_index *ix)
{
	int rc = optimize(ix);
	int rc2 = exec(ix, "INSERT INTO fts(fts, rank) VALUES('automerge', 4);"
			   "INSERT INTO fts(fts, rank) VALUES('hashsize', 1048576);");
	return rc < 0 ? rc : rc2;
}

#define BULK_BYTES (16 << 20)

/* ---- bulk: reading logs on one thread while SQLite writes on another ---- */

struct work {
	char *id;
	int64_t off, line, seq; /* where the index stands in that log */
};

#define QUEUE_SLOTS 64
/* Threads hand logs over in bunches: a waiting side is woken once per
 * HANDOFF logs, not once per log, which for 50,000 small logs is the
 * difference between a few thousand wake-ups and a few hundred thousand. */
#define HANDOFF 16

/* Logs read by the reader thread, waiting for the SQLite thread. The
 * reader takes its work from `next` (a fixed list, or a writer's stream),
 * which returns 0 when there is no more. */
struct parse_queue {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full; /* signalled only on those transitions */
	struct parsed_log *slot[QUEUE_SLOTS];
	size_t head, count;
	int stop;  /* the consumer gave up: the producer ends early */
	int ended; /* the producer has queued its last log */
	const daimon_store *store;
	int (*next)(void *ctx, struct work *w);
	void *ctx;
};

static void *producer(void *arg)
{
	struct parse_queue *q = arg;
	for (;;) {
		/* After the last log, NULL tells the consumer it is the end. */
		struct work w;
		struct parsed_log *pl = NULL;
		if (q->next(q->ctx, &w)) {
			pl = parse_log(q->store, w.id, w.off, w.line, w.seq);
			free(w.id);
		}
		pthread_mutex_lock(&q->mu);
		while (q->count == QUEUE_SLOTS && !q->stop)
			pthread_cond_wait(&q->not_full, &q->mu);
		int stop = q->stop;
		if (!stop) {
			q->slot[(q->head + q->count) % QUEUE_SLOTS] = pl;
			q->ended = !pl;
			if (++q->count == HANDOFF || q->ended)
				pthread_cond_signal(&q->not_empty);
		}
		pthread_mutex_unlock(&q->mu);
		if (stop)
			parsed_log_free(pl);
		if (stop || !pl)
			return NULL;
	}
}

static struct parsed_log *queue_pop(struct parse_queue *q)
{
	pthread_mutex_lock(&q->mu);
	while (q->count == 0 || (q->count < HANDOFF && !q->ended && !q->stop))
		pthread_cond_wait(&q->not_empty, &q->mu);
	struct parsed_log *pl = q->slot[q->head];
	q->head = (q->head + 1) % QUEUE_SLOTS;
	if (--q->count == QUEUE_SLOTS - HANDOFF)
		pthread_cond_signal(&q->not_full);
	pthread_mutex_unlock(&q->mu);
	return pl;
}

/* Stores logs as the reader thread reads them, in the open transaction.
 * `total` and `base` place the progress reported (hooks may be NULL). */
static int run_pipeline(daimon_index *ix, int (*next)(void *, struct work *), void *ctx, daimon_index_stats *stats,
			const daimon_index_hooks *hooks, size_t base, size_t total)
{
	struct parse_queue q = {.store = ix->store, .next = next, .ctx = ctx};
	pthread_mutex_init(&q.mu, NULL);
	pthread_cond_init(&q.not_empty, NULL);
	pthread_cond_init(&q.not_full, NULL);
	pthread_t thread;
	if (pthread_create(&thread, NULL, producer, &q) != 0)
		return daimon_error("cannot start the index reader thread");
	int rc = 0;
	size_t done = 0;
	struct parsed_log *pl;
	while ((pl = queue_pop(&q))) {
		struct log_state ls;
		rc = log_state_load(ix, pl->id, &ls);
		/* A log whose offset no longer agrees was indexed by someone else
		 * meanwhile; the next update looks at it again. */
		if (rc == 0 && ls.off == pl->start_off)
			rc = store_log(ix, &ls, pl, stats, hooks);
		log_state_release(&ls);
		parsed_log_free(pl);
		if (rc < 0) {
			pthread_mutex_lock(&q.mu);
			q.stop = 1;
			pthread_cond_signal(&q.not_full);
			pthread_mutex_unlock(&q.mu);
			break;
		}
		done++;
		if (hooks && hooks->progress && (done % 256 == 0 || base + done == total))
			hooks->progress(hooks->payload, base + done, total);
	}
	/* A producer still waiting for `next` (a stream) is released by its
	 * writer closing the stream; then it sees stop and ends. */
	pthread_join(thread, NULL);
	while (q.count) /* what the producer queued before it saw stop */
		parsed_log_free(queue_pop(&q));
	pthread_mutex_destroy(&q.mu);
	pthread_cond_destroy(&q.not_empty);
	pthread_cond_destroy(&q.not_full);
	return rc;
}

struct work_list {
	const struct work *w;
	size_t n, i;
};

static int work_list_next(void *ctx, struct work *w)
{
	struct work_list *l = ctx;
	if (l->i == l->n)
		return 0;
	*w = l->w[l->i++];
	w->id = daimon_xstrdup(w->id);
	return 1;
}

/* The body of update and rebuild, inside one write lock taken before the
 * offsets are read. A small catch-up commits every BATCH_RECORDS records
 * so a long one keeps its progress. A rebuild, or a catch-up of more than
 * BULK_BYTES of log, is one transaction loaded in bulk mode (all or
 * nothing for readers, settings included) with the logs read on a second
 * thread. A rebuild leaves its transaction open for the caller. */
static int update_all(daimon_index *ix, const daimon_index_hooks *hooks, daimon_index_stats *stats, int rebuild,
		      int *need_rebuild)
{
	struct log_file *files;
	size_t nfiles;
	char mtime[64] = "";
	int rc = begin(ix);
	if (rc < 0 || (rc = list_logs(ix, &files, &nfiles, mtime)) < 0)
		return rc;
	struct known_log *known;
	size_t nknown;
	if ((rc = load_known(ix, &known, &nknown)) < 0) {
		free_logs(files, nfiles);
		return rc;
	}
	stats->sessions_seen = nfiles;
	struct work *work = daimon_xcalloc(nfiles ? nfiles : 1, sizeof(*work));
	size_t nwork = 0, matched = 0;
	int64_t pending = 0;
	int shrunk = 0;
	for (size_t i = 0; i < nfiles; i++) {
		struct known_log key = {files[i].id, 0, 0, 0};
		struct known_log *k = bsearch(&key, known, nknown, sizeof(*known), known_cmp);
		matched += k != NULL;
		if (k && k->off == files[i].size)
			continue;
		if (k && files[i].size < k->off)
			shrunk = 1;
		work[nwork++] = k ? (struct work){files[i].id, k->off, k->line, k->seq}
				  : (struct work){files[i].id, 0, 0, 0}; /* ids borrowed from files */
		pending += files[i].size - (k ? k->off : 0);
	}
	if (matched < nknown)
		shrunk = 1; /* an indexed log is gone */
	int bulk = rebuild || pending > BULK_BYTES;
	if (!shrunk && bulk) {
		rc = bulk_begin(ix);
		struct work_list list = {work, nwork, 0};
		if (rc == 0)
			rc = run_pipeline(ix, work_list_next, &list, stats, hooks, nfiles - nwork, nfiles);
		if (rc == 0)
			rc = bulk_end(ix);
	}
	for (size_t i = 0; i < nwork && rc >= 0 && !shrunk && !bulk; i++) {
		if ((rc = begin(ix)) < 0)
			break;
		rc = apply_log(ix, work[i].id, -1, stats, hooks, &shrunk);
		if (rc >= 0 && ix->txn_records >= BATCH_RECORDS)
			rc = commit(ix);
		if (hooks && hooks->progress && (i % 256 == 255 || i + 1 == nwork))
			hooks->progress(hooks->payload, nfiles - nwork + i + 1, nfiles);
	}
	if (rc >= 0 && !shrunk && (rc = begin(ix)) >= 0)
		rc = meta_set(ix, "dir_mtime", mtime);
	if (rc >= 0 && !shrunk && !rebuild)
		rc = commit(ix);
	if (rc < 0 || shrunk)
		rollback(ix);
	else if (bulk && !rebuild)
		compact(ix);
	*need_rebuild = shrunk;
	free(work);
	free_known(known, nknown);
	free_logs(files, nfiles);
	return rc;
}

int daimon_index_update(daimon_index *ix, const daimon_index_hooks *hooks, daimon_index_stats *stats)
{
	daimon_index_stats local = {0};
	if (!stats)
		stats = &local;
	int need_rebuild = 0;
	int rc = update_all(ix, hooks, stats, 0, &need_rebuild);
	if (rc < 0)
		return rc;
	if (need_rebuild) {
		if (hooks && hooks->warn)
			hooks->warn(hooks->payload, "a session log shrank or was removed since it was indexed; "
						    "rebuilding the index");
		memset(stats, 0, sizeof(*stats));
		rc = daimon_index_rebuild(ix, hooks, stats);
		stats->rebuilt = 1;
		return rc;
	}
	return rc;
}

/* ---- streaming: indexing logs while a writer is still producing them ---- */

struct daimon_index_stream {
	daimon_index *ix;
	int bulk;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t changed;
	struct work *items; /* pushed, not yet taken: items[head .. head+count) */
	size_t head, count, cap;
	int closed;
	/* written by the stream's thread, read after it is joined */
	int rc;
	char *error;
	daimon_index_stats stats;
};

/* The reader thread's work source: blocks until the writer pushes a log
 * or closes the stream. */
static int stream_next(void *ctx, struct work *w)
{
	daimon_index_stream *s = ctx;
	pthread_mutex_lock(&s->mu);
	while (s->count < HANDOFF && !s->closed)
		pthread_cond_wait(&s->changed, &s->mu);
	int got = s->count > 0;
	if (got) {
		*w = s->items[s->head++];
		s->count--;
	}
	pthread_mutex_unlock(&s->mu);
	return got;
}

/* The SQLite thread: one transaction over everything the writer pushes. */
static void *stream_main(void *arg)
{
	daimon_index_stream *s = arg;
	daimon_index *ix = s->ix;
	int rc = begin(ix);
	if (rc == 0 && s->bulk)
		rc = bulk_begin(ix);
	if (rc == 0)
		rc = run_pipeline(ix, stream_next, s, &s->stats, NULL, 0, 0);
	if (rc == 0 && s->bulk)
		rc = bulk_end(ix);
	if (rc == 0)
		rc = commit(ix);
	if (rc < 0) {
		s->error = daimon_xstrdup(daimon_error_last());
		rollback(ix);
		/* Drain, so the writer's pushes are freed (it never blocks). */
		struct work w;
		while (stream_next(s, &w))
			free(w.id);
	}
	s->rc = rc;
	return NULL;
}

int daimon_index_stream_begin(daimon_index *ix, int bulk, daimon_index_stream **out)
{
	daimon_index_stream *s = daimon_xcalloc(1, sizeof(*s));
	s->ix = ix;
	s->bulk = bulk;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->changed, NULL);
	if (pthread_create(&s->thread, NULL, stream_main, s) != 0) {
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->changed);
		free(s);
		return daimon_error("cannot start the indexing thread");
	}
	*out = s;
	return 0;
}

void daimon_index_stream_push(daimon_index_stream *s, const char *id, int64_t off, int64_t line, int64_t seq)
{
	pthread_mutex_lock(&s->mu);
	if (s->head + s->count == s->cap) {
		if (s->head > 0) { /* reuse the taken front */
			memmove(s->items, s->items + s->head, s->count * sizeof(*s->items));
			s->head = 0;
		}
		if (s->count == s->cap) {
			s->cap = s->cap ? 2 * s->cap : 256;
			s->items = daimon_xrealloc(s->items, s->cap * sizeof(*s->items));
		}
	}
	s->items[s->head + s->count++] = (struct work){daimon_xstrdup(id), off, line, seq};
	if (s->count == HANDOFF) /* the reader may be waiting for work */
		pthread_cond_signal(&s->changed);
	pthread_mutex_unlock(&s->mu);
}

int daimon_index_stream_end(daimon_index_stream *s, daimon_index_stats *stats)
{
	pthread_mutex_lock(&s->mu);
	s->closed = 1;
	pthread_cond_signal(&s->changed);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	int rc = s->rc;
	if (rc < 0)
		daimon_error("%s", s->error);
	else if (s->bulk)
		compact(s->ix);
	if (stats)
		*stats = s->stats;
	for (size_t i = 0; i < s->count; i++)
		free(s->items[s->head + i].id);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->changed);
	free(s->items);
	free(s->error);
	free(s);
	return rc;
}

int daimon_index_refresh(daimon_index *ix, const daimon_index_hooks *hooks)
{
	struct stat st;
	if (stat(ix->store->sessions_dir, &st) < 0)
		return 0;
	char now[64];
	snprintf(now, sizeof(now), "%lld.%09ld", (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	/* (A log that grew in the same clock tick as the last update left the
	 * same mtime: a folder changed in the last second is always read.) */
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	char *seen = meta_get(ix, "dir_mtime");
	int same = seen && !strcmp(seen, now) && wall.tv_sec - st.st_mtim.tv_sec > 1;
	free(seen);
	if (same)
		return 0;
	/* A reader does not wait for another process's long write (an import
	 * in progress): it searches what is committed and catches up later. */
	sqlite3_busy_timeout(ix->db, 200);
	int rc = daimon_index_update(ix, hooks, NULL);
	if (rc < 0 && sqlite3_errcode(ix->db) == SQLITE_BUSY)
		rc = 0;
	sqlite3_busy_timeout(ix->db, 10000);
	return rc;
}

int daimon_index_rebuild(daimon_index *ix, const daimon_index_hooks *hooks, daimon_index_stats *stats)
{
	daimon_index_stats local = {0};
	if (!stats)
		stats = &local;
	if (begin(ix) < 0)
		return -1;
	int need_rebuild = 0;
	int rc = exec(ix, "DELETE FROM msgs; DELETE FROM logs; INSERT INTO fts(fts) VALUES('delete-all');");
	if (rc >= 0)
		rc = update_all(ix, hooks, stats, 1, &need_rebuild);
	if (rc >= 0 && need_rebuild)
		return daimon_error("a session log shrank while the index was rebuilt; run it again");
	char built[32];
	snprintf(built, sizeof(built), "%lld", (long long)daimon_now_ms());
	if (rc >= 0)
		rc = meta_set(ix, "built", built);
	if (rc >= 0)
		rc = commit(ix);
	if (rc < 0) {
		rollback(ix);
		return rc;
	}
	compact(ix);
	return 0;
}

static int64_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

int daimon_index_get_status(daimon_index *ix, daimon_index_status *out)
{
	memset(out, 0, sizeof(*out));
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(ix->db, "SELECT count(*), coalesce(sum(n_msgs),0) FROM logs", -1, &s, NULL) != SQLITE_OK)
		return db_error(ix, "cannot read the index");
	if (sqlite3_step(s) == SQLITE_ROW) {
		out->sessions = sqlite3_column_int64(s, 0);
		out->messages = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	char *wal = daimon_xasprintf("%s-wal", ix->path);
	out->index_bytes = file_size(ix->path) + file_size(wal);
	free(wal);
	char *built = meta_get(ix, "built");
	out->built = built ? atoll(built) : 0;
	free(built);

	struct log_file *files;
	size_t nfiles;
	char mtime[64];
	if (list_logs(ix, &files, &nfiles, mtime) < 0)
		return -1;
	struct known_log *known;
	size_t nknown;
	if (load_known(ix, &known, &nknown) < 0) {
		free_logs(files, nfiles);
		return -1;
	}
	size_t matched = 0;
	for (size_t i = 0; i < nfiles; i++) {
		out->log_bytes += files[i].size;
		struct known_log key = {files[i].id, 0, 0, 0};
		struct known_log *k = bsearch(&key, known, nknown, sizeof(*known), known_cmp);
		matched += k != NULL;
		if (!k || k->off != files[i].size)
			out->logs_behind++;
	}
	out->logs_missing = (int64_t)(nknown - matched);
	free_known(known, nknown);
	free_logs(files, nfiles);
	return 0;
}
