/*
 * session.h — the session actor: one per conversation key ("cli:default",
 * "telegram:42"), the single writer of its JSONL log.
 *
 * It loads its history from the log when it starts (after a restart or
 * hibernation nothing is lost: the log is the state), builds the prompt
 * (SOUL.md and a snapshot of USER.md and MEMORY.md taken at start, then
 * the history), asks the model through the http actor, streams the
 * answer's text to whoever asked as it arrives, and appends the user's
 * message and the answer to the log — each committed (write + fdatasync)
 * before the asker hears "done".
 *
 * This first cut answers without tools; the agent loop (tools, parallel
 * calls, sub-agents, steering) builds on it.
 */
#ifndef DAIMON_SESSIONS_SESSION_H
#define DAIMON_SESSIONS_SESSION_H

#include "core/actor.h"
#include "core/llm.h"
#include "memory/store.h"

enum {
	DAIMON_SESSION_ASK = 0x53450001,   /* to the session: data = the user's text */
	DAIMON_SESSION_DELTA = 0x53450002, /* to the asker: data = answer text as it streams */
	DAIMON_SESSION_DONE = 0x53450003,  /* to the asker: data = daimon_session_done */
	DAIMON_SESSION_STOP = 0x53450004,  /* to the session: cancel the turn in progress */
};

#define DAIMON_SESSION_CANCELLED (-100) /* daimon_session_done.status of a stopped turn */

typedef struct {
	int status; /* 0: answered and logged; <0: failed */
	char error[256];
	char session[DAIMON_ID_MAX + 1];
	int64_t tokens_in, tokens_out;
} daimon_session_done;

typedef struct {
	/* Idle this long after a turn, the session hibernates: its history
	 * and log are let go (the log holds everything) until the next
	 * message. 0: 10 minutes; <0: never. */
	long idle_ms;
} daimon_session_opts;

/* Starts the session actor for `key`; `cfg` and `store` must outlive it
 * (`opts` may be NULL). Fails (0, last error set) if its log cannot be
 * opened. */
daimon_aid daimon_session_start(daimon_rt *rt, daimon_store *store, const char *key, daimon_aid http,
				const daimon_llm_config *cfg, const daimon_session_opts *opts);
/* The session id a conversation key's log has. */
void daimon_session_id_for_key(char out[DAIMON_ID_MAX + 1], const char *key);

#endif
