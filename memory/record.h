/*
 * record.h — one line of a session log, parsed and checked.
 *
 * The format itself is documented at the top of memory/log.c. This is the
 * one parser every reader goes through (the log reader, the indexer, the
 * fuzz target), so what counts as a valid record is decided in one place.
 */
#ifndef DAIMON_MEMORY_RECORD_H
#define DAIMON_MEMORY_RECORD_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint64_t seq;
	int64_t ts;       /* milliseconds since the epoch */
	const char *type; /* points into json */
	cJSON *json;      /* the whole record, owned */
} daimon_record;

/* The record types, each one's members described in memory/log.c's
 * FORMAT. A reader passes over a type it does not know. */
#define DAIMON_REC_SESSION "session"                     /* the first record, and only it */
#define DAIMON_REC_MESSAGE "message"                     /* a user's, the assistant's or a system message */
#define DAIMON_REC_TOOL_RESULT "tool_result"             /* what a tool call gave back */
#define DAIMON_REC_TOOL_INTENT "tool_intent"             /* a side-effecting call about to run */
#define DAIMON_REC_TOOL_OUTCOME "tool_outcome"           /* what that call did */
#define DAIMON_REC_CANCEL "cancel"                       /* a turn stopped before its end */
#define DAIMON_REC_FAILURE "failure"                     /* a turn that ended in an error */
#define DAIMON_REC_SUMMARY "summary"                     /* the session's title and summary so far */
#define DAIMON_REC_COMPACTION "compaction"               /* older records replaced by a summary */
#define DAIMON_REC_COMPACTION_FAILED "compaction_failed" /* a compaction tried and given up */

#define DAIMON_RECORD_MAX_LINE (64u << 20) /* 64 MiB: a bigger line is damage */

/* Parses one line (without its '\n'). On failure returns DAIMON_ECORRUPT
 * and the last error says what is wrong (the caller adds file:line). */
int daimon_record_parse(daimon_record *rec, const char *line, size_t len);
void daimon_record_clear(daimon_record *rec);

#endif
