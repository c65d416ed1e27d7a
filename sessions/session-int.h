/*
 * session-int.h — the session actor's private parts, shared by the
 * session-*.c files (nothing outside sessions/ includes it).
 *
 * The actor (session.c) is one struct session per conversation. Its
 * pieces, one idea a file:
 *   session-settings.c  what config.json sets for a session, and defaults
 *   session-prompt.c    the system prompt: SOUL.md, curated snapshots, skills
 *   session-history.c   the log <-> history projection the model is sent
 *   session-sync.c      group commit off the scheduler threads
 *   session-turn.c      a turn's life: begin, queue mid-turn messages, stop, end
 *   session-model.c     the model call: request, stream, retries
 *   session-calls.c     the tool calls of one answer, side by side
 *   session-durable.c   the durable journal: intents, outcomes, resumption
 *   session-aside.c     side calls of the model: compaction and summaries
 */
#ifndef DAIMON_SESSIONS_SESSION_INT_H
#define DAIMON_SESSIONS_SESSION_INT_H

#include "sessions/session.h"

#include "core/buf.h"
#include "core/http.h"
#include "core/llm.h"
#include "core/work.h"
#include "memory/log.h"

/* A tool call's states, in the only order it goes through them (any may
 * be skipped): see session_call_set. */
enum call_state { CALL_WAITING, CALL_ASKING, CALL_JOURNALING, CALL_RUNNING, CALL_DONE };

/* One tool call of the model's answer. */
struct call {
	cJSON *call; /* {"id","name","arguments"} */
	const daimon_tool *tool;
	cJSON *args; /* checked against the schema; NULL once handed over */
	uint64_t ref;
	enum call_state state;
	int approved;
	/* durable turns: a side-effecting call's idempotency key, and whether
	 * its intent is on the disk (it runs only then) */
	char *key;
	int journaled;
	uint64_t intent_seq;
	daimon_buf result;
	int is_error;
	uint64_t timer, monitor;
	daimon_job *job;
	daimon_aid actor;
	uint64_t started;
};

/* A message that arrived mid-turn. */
struct pending {
	daimon_aid asker;
	char *text;
	char *mid;    /* the channel's id of the message, or NULL */
	char *images; /* its pictures, a JSON array ([{"path","mime"}]), or NULL */
	struct pending *next;
};

#define MAX_ALSO 8

/* Five lifetimes, one sub-struct each (plus what the actor holds while
 * awake): the settings, fixed at start and kept whole while hibernated
 * (`keep` too); the turn; its model call; its tool calls; the side call;
 * the log's sync. */

/* Fixed when the session starts (session-settings.c makes them). */
struct session_settings { /* (widest first: it is kept per hibernated session) */
	daimon_store *store;
	daimon_aid http;
	const daimon_llm_config *cfg;
	daimon_tools_live *tools_live; /* the newest tool set, taken as each turn starts */
	struct daimon_budget *budget;  /* model.daily_budget, or NULL */
	const char *grants;            /* the tools a stranger may use (interned), NULL: all */
	long tool_timeout_ms;
	long idle_ms; /* hibernate after this long idle; <0: never */
	/* context compression (compact.h) */
	size_t compress_at; /* estimated request tokens past which the middle is summarized; 0: never */
	size_t tail_tokens;
	int head_messages;
	daimon_mid_turn mid_turn;
	int tool_parallel, depth;
	int summarize;    /* write a title and summary when the session goes idle */
	daimon_aid owner; /* told of the session's state */
};

/* What changes but survives hibernation. */
struct session_keep {
	const daimon_tool *toolset;
	size_t compress_floor;   /* no compaction before the request passes this */
	uint64_t summarized_seq; /* the log's seq the last summary covered */
	uint64_t heard;          /* requests taken (daimon_session_status) */
};

/* The turn in progress (zero between turns, but for the mark). */
struct session_turn {
	daimon_aid asker;
	daimon_aid also[MAX_ALSO]; /* whose steering messages joined it */
	int nalso;
	int rounds; /* model calls in this turn (tool loops) */
	int64_t tokens_in, tokens_out;
	/* durable turns: the turn's message came from a channel (which
	 * delivers it again after a crash), or the turn is marked in
	 * run/turns for the daemon to resume */
	int mid, marked;
	/* the turn's outcome, told once what it logged is durable */
	int done_pending, done_status;
	char done_error[256];
};

/* The model call of the turn. */
struct session_model {
	int attempts; /* retries of the current model call */
	uint64_t retry_timer;
	uint64_t transfer;   /* the call in flight */
	uint64_t ttft_timer; /* no first chunk by then: the call is abandoned and retried */
	int ttft_expired;
	uint64_t idle_timer;       /* each tick, the answer must have grown (keep-alives do not count) */
	size_t idle_mark;          /* what it held at the last tick */
	int idle_expired, bounded; /* stopped for the idle bound, or the answer's size */
	int64_t started_ms;        /* (the stream's length bound) */
	/* the model asked: the session's, or a fallback after it failed for
	 * good in this turn (NULL: the session's) */
	const daimon_llm_config *cfg;
	daimon_llm_stream *stream;
	daimon_llm_request req;
};

/* The tool calls of the last answer, while they run. `running` counts
 * those asking, journaling or running; only session_call_set changes it. */
struct session_calls {
	struct call *list;
	int n, running;
};

/* The model asked on the side (session-aside.c): compaction or summary. */
struct session_aside {
	daimon_aid actor;
	uint64_t ref;
	int from, to;             /* the history's messages a compaction replaces */
	int for_session;          /* the call in flight is for the session's summary */
	daimon_aid summary_asker; /* who asked for one now (DAIMON_SESSION_SUMMARIZE) */
};

/* The log's sync, on the work pool (one at a time). */
struct session_sync {
	uint64_t ref, upto;
	daimon_job *job;
};

struct session {
	int asleep; /* 0 here, 1 in struct sleeping: what terminate/on_cancel were given */
	struct session_settings set;
	struct session_keep keep;
	char *key;
	char id[DAIMON_ID_MAX + 1];
	daimon_log *log;
	cJSON *history; /* messages in daimon's shape (see llm.h) */
	char *system;
	cJSON *tools;                  /* what the model is offered */
	uint64_t idle_timer;           /* hibernate when it fires */
	struct pending *queue, *steer; /* mid-turn messages, oldest first */
	uint64_t next_ref;
	struct session_turn turn;
	struct session_model model;
	struct session_calls calls;
	struct session_aside aside;
	struct session_sync sync;
	int child; /* spawned as its starter's child */
};

/* session-settings.c: the settings from `o`, its zeros the defaults. */
void session_settings_init(struct session_settings *set, daimon_store *store, daimon_aid http,
			   const daimon_llm_config *cfg, const daimon_session_opts *o);

/* session-prompt.c: SOUL.md, the user's file, MEMORY.md if `owner` (the
 * session has no tools.others grant), the skills' index */
char *session_system_prompt(const char *home, const char *key, int owner);

/* session-history.c */
cJSON *session_stopped_message(const cJSON *cancel);
cJSON *session_failed_message(const char *error);
int session_open_log(struct session *s);
/* Stage a message in the log and add it to the history: the user's
 * (with the channel's message id, or NULL), or the model's answer with
 * its tool calls, reasoning and usage (memory/log.c's FORMAT; any NULL). */
int session_append_user(struct session *s, const char *text, const char *mid, const char *images);
/* The history as the model is sent it, when it has images: the newest
 * (the model's max_images) read from the inbox and inlined, the others
 * named in their message's text — as is every one when the model takes
 * none. NULL when there are none: the history goes as it is. */
cJSON *session_history_with_images(const struct session *s, const daimon_llm_config *cfg);
int session_append_answer(struct session *s, const char *text, const cJSON *calls, const cJSON *reasoning,
			  const cJSON *usage);
int session_append_tool_result(struct session *s, const cJSON *call, const char *text, int is_error);

/* session-turn.c */
struct pending *session_pending_pop(struct pending **list);
void session_pending_free(struct pending *p);
void session_tell_done(daimon_ctx *ctx, daimon_aid to, const daimon_session_done *d);
void session_drop_pending(daimon_ctx *ctx, struct session *s, struct pending **list, daimon_aid only);
void session_reply_done(daimon_ctx *ctx, struct session *s, int status, const char *error);
void session_begin_turn(daimon_ctx *ctx, struct session *s, daimon_aid asker, const char *mid);

void session_start_turn(daimon_ctx *ctx, struct session *s, daimon_aid asker, const char *text, const char *mid,
			const char *images);
void session_abort_turn(daimon_ctx *ctx, struct session *s, int rc);
void session_stop_turn(daimon_ctx *ctx, struct session *s, const char *reason, int now);
void session_on_ask(daimon_ctx *ctx, struct session *s, const daimon_msg *m);

/* session-calls.c */
void session_call_set(struct session *s, struct call *c, enum call_state to);
void session_free_calls(struct session *s);
void session_progress_line(char *line, size_t size, const char *name, double done, double total, const char *message);
void session_call_finished(daimon_ctx *ctx, struct session *s, struct call *c, int is_error);
void session_launch(daimon_ctx *ctx, struct session *s, struct call *c);
void session_pump(daimon_ctx *ctx, struct session *s);
void session_start_calls(daimon_ctx *ctx, struct session *s, const cJSON *calls);
/* A running (or asking) call by its ref, timer or monitor; NULL if none. */
struct call *session_call_by_ref(struct session *s, uint64_t ref);
struct call *session_call_by_timer(struct session *s, uint64_t timer);
struct call *session_call_by_monitor(struct session *s, uint64_t monitor);
void session_on_job_done(daimon_ctx *ctx, struct session *s, const daimon_msg *m);
void session_on_approval(daimon_ctx *ctx, struct session *s, const daimon_msg *m);
void session_on_call_timeout(daimon_ctx *ctx, struct session *s, struct call *c);
void session_on_call_down(daimon_ctx *ctx, struct session *s, struct call *c, int64_t reason);

/* session-sync.c */
int session_commit_async(daimon_ctx *ctx, struct session *s);
void session_finish(daimon_ctx *ctx, struct session *s, int status, const char *error);
void session_on_synced(daimon_ctx *ctx, struct session *s, const daimon_job_done *d);

/* session-model.c */
int session_send_request(daimon_ctx *ctx, struct session *s);
int session_call_model(daimon_ctx *ctx, struct session *s, int retry);
void session_on_idle_tick(daimon_ctx *ctx, struct session *s);
void session_on_chunk(daimon_ctx *ctx, struct session *s, const daimon_msg *m);
void session_on_done(daimon_ctx *ctx, struct session *s, const daimon_msg *m);

/* session-aside.c */
void session_aside_clear(daimon_ctx *ctx, struct session *s);
void session_summary_told(daimon_ctx *ctx, struct session *s, int status, const char *error);
int session_start_summary(daimon_ctx *ctx, struct session *s);
int session_start_compaction(daimon_ctx *ctx, struct session *s);
void session_on_aside_done(daimon_ctx *ctx, struct session *s, const daimon_job_done *d);

/* session-durable.c */
void session_unmark(struct session *s);
void session_not_journaled(daimon_ctx *ctx, struct session *s, struct call *c);
int session_close_dangling(struct session *s);
int session_seen_before(daimon_ctx *ctx, struct session *s, daimon_aid asker, const char *mid);
void session_journal_outcome(daimon_ctx *ctx, struct session *s, struct call *c, int is_error);
int session_journal_intent(daimon_ctx *ctx, struct session *s, struct call *c);
void session_on_resume(daimon_ctx *ctx, struct session *s);

#endif
