/*
 * log.c — session logs: the on-disk format, the group-committing writer and
 * the checking reader.
 *
 * FORMAT (sessions/<id>.jsonl)
 * ----------------------------
 * UTF-8 text, one JSON object per line, each line ended by '\n'. Every
 * record starts with three members, in this order:
 *   "seq"   integer, 1 for the first record, then strictly increasing by 1
 *   "ts"    RFC 3339 UTC time with milliseconds ("2026-11-24T02:28:53.123Z");
 *           imported records keep their original time
 *   "type"  what the record is (record.h names each DAIMON_REC_*):
 *     "session"      always and only the first record: "id" (the file name
 *                    without .jsonl), "key" (conversation key, e.g.
 *                    "cli:default", "telegram:42"), "channel", "created";
 *                    optional "title", and "source" {"format","path","id"}
 *                    for a conversation imported from another assistant
 *     "message"      "role" user|assistant|system; "content" a string or a
 *                    list of blocks ({"type":"text","text":...}); optional
 *                    "tool_calls" [{"id","name","arguments"}] (arguments a
 *                    JSON string, as the model produced it) and "mid" (the
 *                    channel's id of the message, so a redelivery is known);
 *                    an answer's "usage" {"model","provider","in","out",
 *                    "cached"}: which model answered and its tokens, and
 *                    its "reasoning" {"text", "blocks"} (the model's
 *                    thinking, and Anthropic's blocks with signatures)
 *     "tool_result"  "call_id", "name", "content", "is_error"
 *     "tool_intent"  before a side-effecting tool call runs: "call_id",
 *                    "name", "key" (its idempotency key), "idempotent"
 *     "tool_outcome" what that call did, as soon as it is known: "call_id",
 *                    "name", "key", "content", "is_error" (an intent with
 *                    no outcome is a call that may have run: recovery asks
 *                    before running it again unless it is idempotent)
 *     "cancel"       a turn stopped before its end: "reason", optional
 *                    "partial" (the answer's text the user had seen)
 *     "failure"      a turn that ended in an error (the model unreachable,
 *                    an HTTP error, a cut stream): "error"; the history
 *                    replays it as the assistant's "[no answer: ...]", so
 *                    the next request still alternates user and assistant
 *     "summary"      the session's "title" and "summary" up to "upto_seq"
 *                    (the newest one counts)
 *     "compaction"   "summary" of the records from "from_seq" to "to_seq",
 *                    which the history replays as that summary;
 *                    "tokens_before", "tokens_after" (the prompt's estimate)
 *     "compaction_failed"  "reason"; the history stays whole
 *   Later versions add types of their own; a reader passes over types it
 *   does not know, and over members it does not know.
 *
 * DURABILITY
 * ----------
 * Records are staged in memory and committed in batches: one write(2) of
 * all staged lines, then one fdatasync(2); only then is any of them
 * acknowledged. A crash can therefore leave an unfinished last line (no
 * '\n'): it was never acknowledged, and opening the log for writing cuts it
 * off and reports it. A line that is damaged and followed by further lines
 * is not a torn write but corruption: reading stops there with file:line,
 * and nothing is skipped in silence. A failed write is undone with
 * ftruncate(2) so the file never holds half a batch that later appends
 * would follow; a failed fdatasync closes the log to further writes, since
 * after one the state of the file is unknown.
 */
#include "memory/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"

struct pending_ack {
	uint64_t seq;
	daimon_log_durable_fn cb;
	void *payload;
};

struct daimon_log {
	int fd;
	int flags;
	int broken; /* a failed fdatasync: refuse further writes */
	char *path;
	off_t size;                                  /* written bytes */
	uint64_t last_seq, written_seq, durable_seq; /* staged >= in the file >= synced */
	daimon_buf staged;
	struct pending_ack *acks;
	size_t nacks, cap_acks;
};

struct daimon_log_reader {
	int fd;
	char *path;
	char *buf;
	size_t cap, start, end; /* unread bytes are buf[start..end) */
	off_t buf_off;          /* file offset of buf[0] */
	int eof;
	size_t line; /* number of the last line returned */
	uint64_t prev_seq;
	off_t rec_off;
	size_t rec_len;
	size_t torn;
};

/* ---- reader ---- */

int daimon_log_reader_open(daimon_log_reader **out, const char *path, off_t offset, size_t line, uint64_t prev_seq)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return daimon_error_code(errno == ENOENT ? DAIMON_ENOTFOUND : DAIMON_ERROR, "cannot open '%s': %s",
					 path, strerror(errno));
	daimon_log_reader *r = daimon_xcalloc(1, sizeof(*r));
	r->fd = fd;
	r->path = daimon_xstrdup(path);
	r->cap = 16 * 1024; /* most logs are small; grows for long lines */
	r->buf = daimon_xmalloc(r->cap);
	r->buf_off = offset;
	r->line = line;
	r->prev_seq = prev_seq;
	r->rec_off = offset;
	*out = r;
	return 0;
}

/* Reads more of the file into the buffer; 0 ok (maybe at EOF), -1 error. */
static int reader_fill(daimon_log_reader *r)
{
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->buf_off += (off_t)r->start;
		r->end -= r->start;
		r->start = 0;
	}
	if (r->end == r->cap) {
		if (r->cap >= DAIMON_RECORD_MAX_LINE + 1)
			return daimon_error_code(DAIMON_ECORRUPT, "%s:%zu: line too long", r->path, r->line + 1);
		r->cap *= 2;
		r->buf = daimon_xrealloc(r->buf, r->cap);
	}
	ssize_t n = daimon_pread_all(r->fd, r->buf + r->end, r->cap - r->end, r->buf_off + (off_t)r->end);
	if (n < 0)
		return daimon_error_errno("cannot read '%s'", r->path);
	if (n == 0)
		r->eof = 1;
	r->end += (size_t)n;
	return 0;
}

int daimon_log_reader_next(daimon_log_reader *r, daimon_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	for (;;) {
		char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		if (nl) {
			size_t len = (size_t)(nl - (r->buf + r->start));
			const char *line = r->buf + r->start;
			r->line++;
			r->rec_off = r->buf_off + (off_t)r->start;
			r->rec_len = len;
			if (daimon_record_parse(rec, line, len) < 0)
				return daimon_error_code(DAIMON_ECORRUPT, "%s:%zu: %s", r->path, r->line,
							 daimon_error_last());
			if (rec->seq != r->prev_seq + 1) {
				uint64_t seq = rec->seq;
				daimon_record_clear(rec);
				return daimon_error_code(DAIMON_ECORRUPT, "%s:%zu: seq %llu follows %llu", r->path,
							 r->line, (unsigned long long)seq,
							 (unsigned long long)r->prev_seq);
			}
			if ((r->line == 1) != !strcmp(rec->type, DAIMON_REC_SESSION)) {
				daimon_record_clear(rec);
				return daimon_error_code(DAIMON_ECORRUPT, "%s:%zu: %s", r->path, r->line,
							 r->line == 1 ? "first record is not a session record"
								      : "second session record");
			}
			r->prev_seq = rec->seq;
			r->start += len + 1;
			return 1;
		}
		if (r->eof) {
			r->torn = r->end - r->start;
			return 0;
		}
		if (reader_fill(r) < 0)
			return -1;
	}
}

off_t daimon_log_reader_record_offset(const daimon_log_reader *r)
{
	return r->rec_off;
}
size_t daimon_log_reader_record_len(const daimon_log_reader *r)
{
	return r->rec_len;
}
off_t daimon_log_reader_offset(const daimon_log_reader *r)
{
	return r->buf_off + (off_t)r->start;
}
size_t daimon_log_reader_line(const daimon_log_reader *r)
{
	return r->line;
}
uint64_t daimon_log_reader_last_seq(const daimon_log_reader *r)
{
	return r->prev_seq;
}
size_t daimon_log_reader_torn_bytes(const daimon_log_reader *r)
{
	return r->torn;
}

void daimon_log_reader_free(daimon_log_reader *r)
{
	if (!r)
		return;
	close(r->fd);
	free(r->buf);
	free(r->path);
	free(r);
}

/* ---- writer ---- */

static daimon_log *log_new(int fd, const char *path, int flags)
{
	daimon_log *log = daimon_xcalloc(1, sizeof(*log));
	log->fd = fd;
	log->path = daimon_xstrdup(path);
	log->flags = flags;
	return log;
}

static void log_free(daimon_log *log)
{
	close(log->fd);
	free(log->path);
	free(log->acks);
	daimon_buf_release(&log->staged);
	free(log);
}

static int lock_log(int fd, const char *path)
{
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return daimon_error_code(DAIMON_EBUSY, "session log '%s' is being written by another process",
						 path);
		return daimon_error_errno("cannot lock '%s'", path);
	}
	return 0;
}

/* The log appears under its name only with its session record complete:
 * the record is written to a temporary file that is then linked into
 * place, so a crash can leave a stray temporary file (which nothing reads)
 * but never a log without its first record. */
int daimon_log_create(daimon_log **out, const char *path, const cJSON *session_fields, const char *ts, int flags)
{
	char *tmp = daimon_xasprintf("%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		int rc = daimon_error_errno("cannot create '%s'", tmp);
		free(tmp);
		return rc;
	}
	daimon_log *log = log_new(fd, path, flags);
	int rc = lock_log(fd, path);
	if (rc == 0)
		rc = daimon_log_append(log, DAIMON_REC_SESSION, ts, session_fields, NULL, NULL, NULL);
	if (rc == 0)
		rc = daimon_log_commit(log);
	if (rc == 0 && link(tmp, path) < 0)
		rc = errno == EEXIST ? daimon_error_code(DAIMON_EEXISTS, "session log '%s' already exists", path)
				     : daimon_error_errno("cannot create '%s'", path);
	unlink(tmp);
	free(tmp);
	if (rc == 0 && !(flags & DAIMON_LOG_DEFER_SYNC))
		rc = daimon_fsync_parent(path);
	if (rc < 0) {
		log_free(log);
		return rc;
	}
	*out = log;
	return 0;
}

int daimon_log_open(daimon_log **out, const char *path, int flags, daimon_log_report *report)
{
	daimon_log_report rep = {0, 0, 0};
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return daimon_error_code(errno == ENOENT ? DAIMON_ENOTFOUND : DAIMON_ERROR, "cannot open '%s': %s",
					 path, strerror(errno));
	int rc = lock_log(fd, path);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	daimon_log_reader *r;
	if ((rc = daimon_log_reader_open(&r, path, 0, 0, 0)) < 0) {
		close(fd);
		return rc;
	}
	daimon_record rec;
	while ((rc = daimon_log_reader_next(r, &rec)) == 1) {
		rep.records++;
		daimon_record_clear(&rec);
	}
	if (rc < 0) {
		daimon_log_reader_free(r);
		close(fd);
		return rc;
	}
	off_t good = daimon_log_reader_offset(r);
	rep.last_seq = daimon_log_reader_last_seq(r);
	rep.torn_bytes = daimon_log_reader_torn_bytes(r);
	daimon_log_reader_free(r);
	if (rep.records == 0) {
		close(fd);
		return daimon_error_code(DAIMON_ECORRUPT, "%s: no complete record (empty or torn session log)", path);
	}
	if (rep.torn_bytes > 0 && (ftruncate(fd, good) < 0 || fsync(fd) < 0)) {
		rc = daimon_error_errno("cannot cut the torn last line of '%s'", path);
		close(fd);
		return rc;
	}
	if (lseek(fd, good, SEEK_SET) < 0) {
		rc = daimon_error_errno("cannot seek in '%s'", path);
		close(fd);
		return rc;
	}
	daimon_log *log = log_new(fd, path, flags);
	log->size = good;
	log->last_seq = log->written_seq = log->durable_seq = rep.last_seq;
	if (report)
		*report = rep;
	*out = log;
	return 0;
}

int daimon_log_append(daimon_log *log, const char *type, const char *ts, const cJSON *fields, daimon_log_durable_fn cb,
		      void *payload, uint64_t *seq_out)
{
	if (log->broken)
		return daimon_error("session log '%s' is closed after a failed sync", log->path);
	char now[DAIMON_TS_LEN];
	if (!ts) {
		daimon_ts_format(now, daimon_now_ms());
		ts = now;
	}
	uint64_t seq = log->last_seq + 1;
	daimon_buf *b = &log->staged;
	daimon_buf_addf(b, "{\"seq\":%llu,\"ts\":", (unsigned long long)seq);
	daimon_json_quote(b, ts);
	daimon_buf_adds(b, ",\"type\":");
	daimon_json_quote(b, type);
	for (const cJSON *f = fields ? fields->child : NULL; f; f = f->next) {
		if (!f->string || !strcmp(f->string, "seq") || !strcmp(f->string, "ts") || !strcmp(f->string, "type"))
			continue;
		daimon_buf_addc(b, ',');
		daimon_json_quote(b, f->string);
		daimon_buf_addc(b, ':');
		if (cJSON_IsString(f))
			daimon_json_quote(b, f->valuestring); /* the common case, without cJSON's copy */
		else
			daimon_json_print(b, f);
	}
	daimon_buf_add(b, "}\n", 2);
	log->last_seq = seq;
	if (cb) {
		if (log->nacks == log->cap_acks) {
			log->cap_acks = log->cap_acks ? 2 * log->cap_acks : 16;
			log->acks = daimon_xrealloc(log->acks, log->cap_acks * sizeof(*log->acks));
		}
		log->acks[log->nacks++] = (struct pending_ack){seq, cb, payload};
	}
	if (seq_out)
		*seq_out = seq;
	return 0;
}

/* Tells the callbacks of records up to `upto`; later ones keep waiting. */
static void tell_acks_upto(daimon_log *log, uint64_t upto, int status)
{
	size_t kept = 0;
	for (size_t i = 0; i < log->nacks; i++)
		if (log->acks[i].seq <= upto)
			log->acks[i].cb(log->acks[i].payload, log->acks[i].seq, status);
		else
			log->acks[kept++] = log->acks[i];
	log->nacks = kept;
}

static void tell_acks(daimon_log *log, int status)
{
	tell_acks_upto(log, UINT64_MAX, status);
}

/* Writes the staged records (one write); they are in the file but not yet
 * durable. A failed write is undone, so the file ends on a line boundary. */
/* A log grew: its folder's mtime says so to readers that keep an index
 * of the folder (memory/index.c checks it before anything else). */
static void tell_readers(const daimon_log *log)
{
	const char *slash = strrchr(log->path, '/');
	if (!slash)
		return;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%.*s", slash == log->path ? 1 : (int)(slash - log->path), log->path);
	(void)utimensat(AT_FDCWD, dir, NULL, 0);
}

static int write_staged(daimon_log *log)
{
	if (log->staged.len == 0)
		return 0;
	int rc = 0;
	if (log->broken) {
		rc = daimon_error("session log '%s' is closed after a failed sync", log->path);
	} else if (daimon_write_all(log->fd, log->staged.ptr, log->staged.len) < 0) {
		rc = daimon_error_errno("cannot append to '%s'", log->path);
		if (ftruncate(log->fd, log->size) < 0)
			log->broken = 1;
		lseek(log->fd, log->size, SEEK_SET);
	}
	if (rc < 0) {
		log->last_seq = log->written_seq;
		daimon_buf_clear(&log->staged);
		tell_acks(log, rc);
		return rc;
	}
	log->size += (off_t)log->staged.len;
	log->written_seq = log->last_seq;
	daimon_buf_clear(&log->staged);
	tell_readers(log);
	return 0;
}

int daimon_log_flush(daimon_log *log)
{
	return write_staged(log);
}

int daimon_log_commit(daimon_log *log)
{
	int rc = write_staged(log);
	if (rc < 0 || log->written_seq == log->durable_seq)
		return rc;
	if (!(log->flags & DAIMON_LOG_DEFER_SYNC) && fdatasync(log->fd) < 0) {
		rc = daimon_error_errno("cannot sync '%s'", log->path);
		log->broken = 1;
		tell_acks(log, rc);
		return rc;
	}
	log->durable_seq = log->written_seq;
	tell_acks(log, 0);
	return 0;
}

int daimon_log_commit_begin(daimon_log *log, uint64_t *upto, int *fd)
{
	*fd = -1;
	int rc = write_staged(log);
	*upto = log->written_seq;
	if (rc < 0 || log->written_seq == log->durable_seq)
		return rc;
	if (log->flags & DAIMON_LOG_DEFER_SYNC)
		return daimon_log_commit_end(log, log->written_seq, 0);
	if ((*fd = fcntl(log->fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return daimon_log_commit(log); /* no fd to spare: sync here */
	return 0;
}

int daimon_log_commit_end(daimon_log *log, uint64_t upto, int sync_errno)
{
	if (sync_errno) {
		errno = sync_errno;
		int rc = daimon_error_errno("cannot sync '%s'", log->path);
		log->broken = 1;
		tell_acks(log, rc);
		return rc;
	}
	if (upto > log->durable_seq)
		log->durable_seq = upto;
	tell_acks_upto(log, upto, 0);
	return 0;
}

uint64_t daimon_log_last_seq(const daimon_log *log)
{
	return log->last_seq;
}
uint64_t daimon_log_durable_seq(const daimon_log *log)
{
	return log->durable_seq;
}
int64_t daimon_log_size(const daimon_log *log)
{
	return (int64_t)log->size;
}
const char *daimon_log_path(const daimon_log *log)
{
	return log->path;
}

int daimon_log_close(daimon_log *log)
{
	if (!log)
		return 0;
	int rc = daimon_log_commit(log);
	log_free(log);
	return rc;
}
