/*
 * compact.h — context compression: the pieces of it that are plain data
 * (the session actor runs the model call and logs the record).
 *
 * Past a threshold of the model's context window, the middle of the
 * history is replaced by a summary the model writes: the first messages
 * (the head) and a recent tail, by tokens, are kept as they are, and the
 * cut never falls between a tool call and its result. The summary joins
 * the history as a message marked reference-only — not an instruction, so
 * a stale "task in progress" in it cannot hijack the reply — and the log
 * gets a `compaction` record {summary, from_seq, to_seq, tokens_before,
 * tokens_after}, from which a restored session resumes.
 *
 * History messages carry the `seq` of their log record (see session.c).
 */
#ifndef DAIMON_SESSIONS_COMPACT_H
#define DAIMON_SESSIONS_COMPACT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "core/buf.h"

/* A rough token count (bytes / 4) of a history message. */
size_t daimon_compact_tokens(const cJSON *msg);

/* Chooses the middle of `history` to summarize: the first `head` messages
 * and at least `tail_tokens` of the most recent ones stay. Sets *from and
 * *to (indexes, inclusive) and returns 1, or 0 if there is too little in
 * between (fewer than two messages). */
int daimon_compact_cut(const cJSON *history, int head, size_t tail_tokens, int *from, int *to);

/* [{"role":"user","content": transcript of history[from..to], then
 * `instruction`}] — long transcripts keep their start and recent part. */
cJSON *daimon_transcript(const cJSON *history, int from, int to, const char *instruction);

/* The request that asks for the summary: a system prompt and one user
 * message holding the transcript of history[from..to]. */
void daimon_compact_request(const cJSON *history, int from, int to, char **system, cJSON **messages);

/* The history message standing for a summary. */
cJSON *daimon_compact_message(const char *summary, double seq);

/* Replaces history[from..to] with the summary message. */
void daimon_compact_apply(cJSON *history, int from, int to, cJSON *summary_msg);

/* For a log being read back: replaces the messages whose seq lies in
 * [from_seq, to_seq] with the summary message (at the first one's place). */
void daimon_compact_restore(cJSON *history, double from_seq, double to_seq, cJSON *summary_msg);

#endif
