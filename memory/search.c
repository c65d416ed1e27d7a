/*
 * search.c — see search.h.
 *
 * The index is contentless, so FTS5's snippet() has no text to cut from.
 * Instead, for the (few) hits returned, the record lines are read back
 * from the logs with pread(2), their text extracted, and cut by
 * daimon_snippet (snippet.c). A per-search in-memory FTS5 table would
 * mark exactly what FTS5 matched, but creating it costs more than the
 * rest of a search for a rare word.
 */
#include "memory/search.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "memory/record.h"
#include "memory/snippet.h"
#include "memory/text.h"

/* Rewrites any text as an FTS5 query of quoted words: `"foo" "bar"`. */
static char *plain_words(const char *q)
{
	daimon_buf b = DAIMON_BUF_INIT;
	const unsigned char *p = (const unsigned char *)q;
	while (*p) {
		while (*p && !daimon_word_byte(*p))
			p++;
		const unsigned char *w = p;
		while (*p && daimon_word_byte(*p))
			p++;
		if (p > w) {
			if (b.len)
				daimon_buf_addc(&b, ' ');
			daimon_buf_addc(&b, '"');
			daimon_buf_add(&b, w, (size_t)(p - w));
			daimon_buf_addc(&b, '"');
		}
	}
	return daimon_buf_detach(&b);
}

/* The best hits are chosen before anything is joined to them: joining
 * every match to its message and session first, then sorting, costs a
 * lookup per match, which for a common word is most of the time. Filters
 * need the message row, so with filters that join happens inside. */
static const char hit_sql_plain[] =
	"SELECT l.id, l.channel, l.title, m.seq, m.ts, m.role, -t.r, m.off, m.len"
	" FROM (SELECT rowid AS id, rank AS r FROM fts WHERE fts MATCH ?1 ORDER BY rank LIMIT ?6) t"
	" JOIN msgs m ON m.id = t.id JOIN logs l ON l.sid = m.sid ORDER BY t.r";

static const char hit_sql_filtered[] =
	"SELECT l.id, l.channel, l.title, m.seq, m.ts, m.role, -t.r, m.off, m.len"
	" FROM (SELECT f.rowid AS id, f.rank AS r FROM fts f JOIN msgs fm ON fm.id = f.rowid"
	"       WHERE fts MATCH ?1"
	"       AND (?2 IS NULL OR fm.sid = (SELECT sid FROM logs WHERE id = ?2))"
	"       AND (?3 = 0 OR fm.role = ?3) AND (?4 = 0 OR fm.ts >= ?4) AND (?5 = 0 OR fm.ts <= ?5)"
	"       ORDER BY f.rank LIMIT ?6) t"
	" JOIN msgs m ON m.id = t.id JOIN logs l ON l.sid = m.sid ORDER BY t.r";

struct hit_loc {
	int64_t off;
	int64_t len;
};

/* Runs the query; SQLITE_ERROR from a bad FTS5 expression is returned as
 * such (not as a daimon error) so the caller can retry with plain words. */
static int run_query(sqlite3 *db, const char *q, const daimon_search_opts *o, daimon_search_result *out,
		     struct hit_loc **locs)
{
	sqlite3_stmt *s;
	int filtered = o->session || o->role || o->since || o->until;
	if (sqlite3_prepare_v2(db, filtered ? hit_sql_filtered : hit_sql_plain, -1, &s, NULL) != SQLITE_OK)
		return daimon_error("cannot search the index: %s", sqlite3_errmsg(db));
	sqlite3_bind_text(s, 1, q, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)(o->limit ? o->limit : 20));
	if (filtered) {
		if (o->session)
			sqlite3_bind_text(s, 2, o->session, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 3, o->role);
		sqlite3_bind_int64(s, 4, o->since);
		sqlite3_bind_int64(s, 5, o->until);
	}
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (out->n == cap) {
			cap = cap ? 2 * cap : 16;
			out->hits = daimon_xrealloc(out->hits, cap * sizeof(*out->hits));
			*locs = daimon_xrealloc(*locs, cap * sizeof(**locs));
		}
		daimon_search_hit *h = &out->hits[out->n];
		const char *title = (const char *)sqlite3_column_text(s, 2);
		const char *channel = (const char *)sqlite3_column_text(s, 1);
		h->session = daimon_xstrdup((const char *)sqlite3_column_text(s, 0));
		h->channel = daimon_xstrdup(channel ? channel : "");
		h->title = daimon_xstrdup(title ? title : "");
		h->seq = (uint64_t)sqlite3_column_int64(s, 3);
		h->ts = sqlite3_column_int64(s, 4);
		h->role = sqlite3_column_int(s, 5);
		h->score = sqlite3_column_double(s, 6);
		h->snippet = NULL;
		(*locs)[out->n].off = sqlite3_column_int64(s, 7);
		(*locs)[out->n].len = sqlite3_column_int64(s, 8);
		out->n++;
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_DONE)
		return 0;
	return rc == SQLITE_ERROR ? SQLITE_ERROR : daimon_error("cannot search the index: %s", sqlite3_errmsg(db));
}

/* The searchable text of the record at `loc` in the session's log. */
static void hit_text(const daimon_store *st, const char *session, const struct hit_loc *loc, daimon_buf *out)
{
	char *path = daimon_store_log_path(st, session);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0 || loc->len <= 0 || loc->len > DAIMON_RECORD_MAX_LINE) {
		if (fd >= 0)
			close(fd);
		return;
	}
	char *line = daimon_xmalloc((size_t)loc->len);
	ssize_t n = daimon_pread_all(fd, line, (size_t)loc->len, (off_t)loc->off);
	close(fd);
	daimon_record rec;
	int role;
	if (n == loc->len && daimon_record_parse(&rec, line, (size_t)n) == 0) {
		daimon_record_search_text(&rec, out, &role);
		daimon_record_clear(&rec);
	}
	free(line);
}

static char *flatten(const char *s)
{
	char *r = daimon_xstrdup(s);
	for (char *p = r; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	return r;
}

static void make_snippets(const daimon_store *st, const char *q, const daimon_search_opts *o, daimon_search_result *out,
			  const struct hit_loc *locs)
{
	daimon_buf text = DAIMON_BUF_INIT, snip = DAIMON_BUF_INIT;
	for (size_t i = 0; i < out->n; i++) {
		daimon_buf_clear(&text);
		daimon_buf_clear(&snip);
		hit_text(st, out->hits[i].session, &locs[i], &text);
		daimon_snippet(&snip, daimon_buf_cstr(&text), q, o->mark_open ? o->mark_open : "",
			       o->mark_close ? o->mark_close : "", o->snippet_tokens ? o->snippet_tokens : 16);
		out->hits[i].snippet = flatten(daimon_buf_cstr(&snip));
	}
	daimon_buf_release(&text);
	daimon_buf_release(&snip);
}

int daimon_search(daimon_index *ix, const daimon_search_opts *o, daimon_search_result *out)
{
	memset(out, 0, sizeof(*out));
	sqlite3 *db = daimon_index_db(ix);
	struct hit_loc *locs = NULL;
	char *q = daimon_xstrdup(o->query);
	int rc = run_query(db, q, o, out, &locs);
	if (rc == SQLITE_ERROR) {
		daimon_search_result_release(out);
		free(q);
		q = plain_words(o->query);
		out->plain_words = 1;
		rc = *q ? run_query(db, q, o, out, &locs) : 0;
		if (rc == SQLITE_ERROR)
			rc = daimon_error_code(DAIMON_EINVAL, "cannot search for '%s': %s", o->query,
					       sqlite3_errmsg(db));
	}
	if (rc == 0 && out->n)
		make_snippets(daimon_index_store(ix), q, o, out, locs);
	free(locs);
	out->query_used = q;
	if (rc < 0) {
		int plain = out->plain_words;
		daimon_search_result_release(out);
		out->plain_words = plain;
	}
	return rc;
}

void daimon_search_result_release(daimon_search_result *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->hits[i].session);
		free(r->hits[i].channel);
		free(r->hits[i].title);
		free(r->hits[i].snippet);
	}
	free(r->hits);
	free(r->query_used);
	memset(r, 0, sizeof(*r));
}
