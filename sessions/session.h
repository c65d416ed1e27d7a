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
 * The agent loop: when the model asks for tools, the calls of one answer
 * run side by side (a bounded number at a time, each with a deadline; a
 * failure is that call's result, told to the model), their results are
 * logged with the calls in one commit, and the model is asked again, up
 * to a number of rounds. A message that arrives mid-turn is queued for
 * the next turn (the default), steers the running turn (it joins the
 * history before the next model call), or interrupts it — per channel.
 * A stop, or the session being cancelled, collapses the whole turn: the
 * transfer is aborted, running tools and sub-agents are cancelled, and
 * the log records what each call came to and that the turn was stopped.
 */
#ifndef DAIMON_SESSIONS_SESSION_H
#define DAIMON_SESSIONS_SESSION_H

#include "core/actor.h"
#include "core/llm.h"
#include "memory/store.h"
#include "sessions/tools.h"

enum {
	/* to the session: data = the user's text; with pictures, "text\0
	 * images\0", images a JSON array [{"path": under $DAIMON_HOME/inbox/,
	 * "mime"}] (so for ASK_ONCE too) */
	DAIMON_SESSION_ASK = 0x53450001,
	DAIMON_SESSION_DELTA = 0x53450002, /* to the asker: data = answer text as it streams */
	DAIMON_SESSION_DONE = 0x53450003,  /* to the asker: data = daimon_session_done */
	/* to the session: cancel the turn in progress (and drop queued ones);
	 * data = a daimon_aid: only that asker's (it went away) */
	DAIMON_SESSION_STOP = 0x53450004,
	DAIMON_SESSION_TOOL = 0x53450005, /* to the asker: one line on a tool call that finished */
	DAIMON_SESSION_NEXT = 0x53450006, /* internal: start the next queued turn */
	/* to the session: write the session's title and summary now (if there
	 * is anything new); DAIMON_SESSION_DONE when it is written, status 0,
	 * with error "nothing new to summarize" if there was not */
	DAIMON_SESSION_SUMMARIZE = 0x53450007,
	/* to the asker: a call of a tool that needs the user's approval waits;
	 * data = daimon_session_approval (allow unused), then what is asked */
	DAIMON_SESSION_APPROVE = 0x53450008,
	/* to the session: the user's answer; data = daimon_session_approval */
	DAIMON_SESSION_APPROVAL = 0x53450009,
	/* to the asker: how far a running tool call is (one line of text) */
	DAIMON_SESSION_PROGRESS = 0x5345000A,
	/* to the session: a message a channel may deliver again after a
	 * crash; data = its id, a NUL, then the text. The id is logged with
	 * the message ("mid"); one already logged is answered from the log
	 * (or, unanswered, its turn runs again) instead of twice. */
	DAIMON_SESSION_ASK_ONCE = 0x5345000B,
	/* to the session: a turn that was in flight when the process died,
	 * and that no channel will deliver again (a command-line or web ask),
	 * goes on from its log and journal with nobody listening (see
	 * daimon_session_unfinished). Ignored when there is none. */
	DAIMON_SESSION_RESUME = 0x5345000C,
	/* to the owner (opts.owner): the session's state changed; data =
	 * daimon_session_status */
	DAIMON_SESSION_STATE = 0x5345000D,
	/* to the asker: data = the model's reasoning as it streams (never part
	 * of the answer; shown only where the user asked for it) */
	DAIMON_SESSION_THINKING = 0x5345000E,
	/* to the asker: the answer waits — a retry after a failure, a fallback
	 * to another model; data = one line saying so ("retrying in 2.0 s:
	 * HTTP 429, rate limited") */
	DAIMON_SESSION_WAITING = 0x5345000F,
};

typedef struct {
	enum {
		DAIMON_SESSION_IDLE,   /* no turn runs, no summary is awaited */
		DAIMON_SESSION_BUSY,   /* a turn runs, or a summary someone awaits */
		DAIMON_SESSION_ASLEEP, /* hibernated: the next message wakes it */
	} state;
	/* How many requests (ASK, ASK_ONCE, SUMMARIZE, RESUME) it has taken
	 * so far: an owner that forwarded as many knows none is on its way,
	 * so an idle session can be stopped without losing one. */
	uint64_t heard;
} daimon_session_status;

/* What a message that arrives mid-turn does. */
typedef enum {
	DAIMON_MID_TURN_QUEUE = 0, /* waits for the running turn to end, then is a turn of its own */
	DAIMON_MID_TURN_STEER,     /* joins the running turn before its next model call */
	DAIMON_MID_TURN_INTERRUPT, /* stops the running turn and starts its own */
} daimon_mid_turn;

/* "queue", "steer", "interrupt" -> the mode; -1 if none of them. */
int daimon_mid_turn_parse(const char *name);

#define DAIMON_SESSION_CANCELLED (-100) /* daimon_session_done.status of a stopped turn */

typedef struct {
	uint64_t ref; /* which call */
	int allow;
	char what[]; /* (APPROVE) "TOOL {arguments}" */
} daimon_session_approval;

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
	daimon_mid_turn mid_turn;
	const daimon_tool *tools; /* NULL: daimon_builtin_tools */
	/* Where the newest set is kept (the daemon's: skills built, MCP
	 * servers' lists changed): each turn starts with it. NULL: the
	 * session keeps `tools`. Sets must outlive the sessions. */
	daimon_tools_live *tools_live;
	int tool_parallel;    /* calls running at once; 0: 4 */
	long tool_timeout_ms; /* per call unless the tool says; 0: 2 minutes */
	int depth;            /* 0: talked to; 1: a sub-agent (no delegate of its own) */
	int child;            /* spawned as the calling actor's child (cancelled with it) */
	/* Context compression (compact.h): past threshold x window tokens of
	 * request, the middle of the history is summarized; the first
	 * head_messages and at least tail_tokens of recent ones stay. */
	long context_window;       /* tokens; 0: no compression */
	double compress_threshold; /* 0: 0.5 */
	size_t tail_tokens;        /* 0: half of the threshold */
	int head_messages;         /* 0: 2 */
	/* When the session goes idle (idle_ms), the model writes its title and
	 * a short summary: a `summary` record in the log, which the index
	 * takes as the session's title. */
	int summarize;
	daimon_aid owner; /* told of the session's state (DAIMON_SESSION_STATE); 0: nobody */
	/* model.daily_budget (memory/usage.h): past it a turn is refused, its
	 * message kept; each answer's cost counted. NULL: none. */
	struct daimon_budget *budget;
	/* The tools a conversation other than the owner's may use (config
	 * "tools.others"), as ",name,...,"; NULL: every tool (the owner's).
	 * daimon_session_opts_load sets it; it lives as long as the process. */
	const char *grants;
} daimon_session_opts;

/* The options config.json sets for a session with `key`: the mid-turn
 * mode of its channel ("channels": {"telegram": {"mid_turn": "steer"}}),
 * "tools": {"parallel", "timeout_s"}, "sessions": {"idle_minutes"} (0:
 * never hibernate), "sessions": {"summarize"} (default true), "model":
 * {"context_window"} and "compression":
 * {"threshold", "head_messages", "tail_tokens"}. A bad value is an error
 * naming it. */
int daimon_session_opts_load(daimon_session_opts *o, const char *home, const char *key);

/* Starts the session actor for `key`; `cfg`, `store` and `opts->tools`
 * must outlive it (`opts` may be NULL). Fails (0, last error set) if its
 * log cannot be opened. */
daimon_aid daimon_session_start(daimon_rt *rt, daimon_store *store, const char *key, daimon_aid http,
				const daimon_llm_config *cfg, const daimon_session_opts *opts);
/* The same in two halves, for a daemon that must not wait on the disk in
 * a handler: the slow one (its log read, its prompt built), for a worker
 * thread — NULL with the last error if the log cannot be opened; and the
 * quick one, which spawns the session (registered under its key) and
 * takes the seed, spawned or not. */
typedef struct session daimon_session_seed;
daimon_session_seed *daimon_session_prepare(daimon_store *store, const char *key, daimon_aid http,
					    const daimon_llm_config *cfg, const daimon_session_opts *opts);
daimon_aid daimon_session_spawn(daimon_rt *rt, daimon_session_seed *seed);
void daimon_session_seed_free(daimon_session_seed *seed);
/* The conversation in the log at `path` as a session sends it to the
 * model (daimon's message shape, compactions applied), appended to
 * `history`; `summarized_seq` (may be NULL) gets the seq the newest
 * session summary covers. */
int daimon_history_load(const char *path, cJSON *history, uint64_t *summarized_seq);
/* The keys of the sessions whose side-effecting turn was in flight when
 * the process died and which no channel delivers again: a turn marks
 * itself in $DAIMON_HOME/run/turns when it journals its first intent and
 * unmarks when it ends. A JSON array (caller frees). */
cJSON *daimon_session_unfinished(const char *home);
/* The session id a conversation key's log has. */
void daimon_session_id_for_key(char out[DAIMON_ID_MAX + 1], const char *key);

#endif
