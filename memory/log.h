/*
 * log.h — the append-only JSONL log of one session, its single source of
 * truth. Format: see the top of memory/log.c.
 *
 * Writing is group-committed: daimon_log_append() only stages a record (and
 * assigns its seq); daimon_log_commit() writes everything staged with one
 * write(2) and makes it durable with one fdatasync(2), then tells each
 * record's callback. A session actor appends every message of a mailbox
 * batch and commits once, acknowledging the senders only after the commit.
 *
 * One writer per log: the writer holds an exclusive flock(2) on the file,
 * so a second process opening the same session for writing gets
 * DAIMON_EBUSY instead of interleaving lines.
 */
#ifndef DAIMON_MEMORY_LOG_H
#define DAIMON_MEMORY_LOG_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <sys/types.h>

#include "memory/record.h"

typedef struct daimon_log daimon_log;
typedef struct daimon_log_reader daimon_log_reader;

/* Told when a staged record is durable (status 0) or lost (status < 0). */
typedef void (*daimon_log_durable_fn)(void *payload, uint64_t seq, int status);

enum {
	/* Commit writes but does not fdatasync: for bulk writers (import, the
	 * benchmark's corpus) that call syncfs(2) once at the end instead. */
	DAIMON_LOG_DEFER_SYNC = 1 << 0,
};

typedef struct {
	uint64_t records; /* valid records found */
	uint64_t last_seq;
	size_t torn_bytes; /* bytes of an incomplete last line, cut off */
} daimon_log_report;

/* Creates a new log holding its first record, `{"type":"session", ...fields}`
 * (fields must include "id"). DAIMON_EEXISTS if the file exists. */
int daimon_log_create(daimon_log **out, const char *path, const cJSON *session_fields, const char *ts, int flags);
/* Opens an existing log for appending. Every record is checked; a torn last
 * line is truncated and counted in `report`; damage before the tail fails
 * with DAIMON_ECORRUPT naming file:line. */
int daimon_log_open(daimon_log **out, const char *path, int flags, daimon_log_report *report);
/* Stages a record `{"seq":N,"ts":ts,"type":type, ...fields}`; ts NULL means
 * now. `fields` (an object, may be NULL) is copied, not kept. */
int daimon_log_append(daimon_log *log, const char *type, const char *ts, const cJSON *fields, daimon_log_durable_fn cb,
		      void *payload, uint64_t *seq_out);
/* One write + one fdatasync for everything staged since the last commit. */
int daimon_log_commit(daimon_log *log);
/* Only the write: the records are in the file but not yet durable and
 * nobody is told; a later daimon_log_commit syncs them. Lets a writer
 * overlap the sync with other work (the session sends the model request
 * first, then waits for the disk). */
int daimon_log_flush(daimon_log *log);
/* The commit in two halves, for a writer that must not wait for the disk
 * (an actor): _begin writes what is staged and, if anything written is not
 * yet durable, sets *fd to a duplicate of the log's descriptor for the
 * caller to fdatasync(2) elsewhere and close (else *fd = -1), and *upto to
 * the seq that sync makes durable; _end takes the sync's outcome (0 or its
 * errno) and tells the callbacks of the records it covers. */
int daimon_log_commit_begin(daimon_log *log, uint64_t *upto, int *fd);
int daimon_log_commit_end(daimon_log *log, uint64_t upto, int sync_errno);
uint64_t daimon_log_last_seq(const daimon_log *log);
uint64_t daimon_log_durable_seq(const daimon_log *log);
/* Committed bytes: the offset at which the next commit starts. */
int64_t daimon_log_size(const daimon_log *log);
const char *daimon_log_path(const daimon_log *log);
/* Commits what is staged, then closes. Returns the commit's status. */
int daimon_log_close(daimon_log *log);

/* Reads records from byte `offset` (a line start; 0 for the beginning),
 * where `line` is that line's 1-based number and `prev_seq` the seq before. */
int daimon_log_reader_open(daimon_log_reader **out, const char *path, off_t offset, size_t line, uint64_t prev_seq);
/* 1: a record in `rec` (caller clears it); 0: end of log; <0: damage, with
 * "file:line: what is wrong" as the last error. */
int daimon_log_reader_next(daimon_log_reader *r, daimon_record *rec);
/* Byte offset and length (without '\n') of the record last returned. */
off_t daimon_log_reader_record_offset(const daimon_log_reader *r);
size_t daimon_log_reader_record_len(const daimon_log_reader *r);
/* Offset just past the last complete line read, and that line's number. */
off_t daimon_log_reader_offset(const daimon_log_reader *r);
size_t daimon_log_reader_line(const daimon_log_reader *r);
uint64_t daimon_log_reader_last_seq(const daimon_log_reader *r);
/* Bytes after the last '\n' at end of file (an unfinished line). */
size_t daimon_log_reader_torn_bytes(const daimon_log_reader *r);
void daimon_log_reader_free(daimon_log_reader *r);

#endif
