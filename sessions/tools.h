/*
 * tools.h — the tools a session offers the model.
 *
 * A tool has a name, a one-line description and a JSON Schema for its
 * arguments. Arguments are checked against the schema before the tool
 * runs; a call that does not fit gets the validation error back as its
 * result, so the model can correct itself.
 *
 * A tool is either a blocking function, run on the runtime's work pool
 * (work.h) so no scheduler thread waits for it, or an actor the session
 * spawns as its child (delegate: sub-agents), which reports once with a
 * DAIMON_MSG_JOB_DONE message and exits. Either way a call can be
 * cancelled and has a deadline; the session runs the calls of one answer
 * side by side, a bounded number at a time.
 *
 * Built in: current_time, session_search (the FTS5 index over every
 * conversation), memory (the curated MEMORY.md and USER.md) and delegate
 * (sessions/delegate.c).
 */
#ifndef DAIMON_SESSIONS_TOOLS_H
#define DAIMON_SESSIONS_TOOLS_H

#include <cjson/cJSON.h>
#include <stdatomic.h>

#include "core/actor.h"
#include "core/buf.h"
#include "core/llm.h"
#include "memory/store.h"

/* What a blocking tool sees while it runs. */
typedef struct {
	daimon_store *store;
	const char *key;              /* the calling session's conversation key */
	const _Atomic int *cancelled; /* non-zero once the call is stopped or timed out: return early */
	void *payload;                /* the tool's own (daimon_tool.payload) */
	/* How far a long call is, for the user (may be NULL). */
	void (*progress)(void *progress_payload, double done, double total, const char *message);
	void *progress_payload;
	const char *idempotency_key; /* of a side-effecting call ("" when none) */
} daimon_tool_env;

/* The calling session, for tools that are actors. */
typedef struct {
	daimon_store *store;
	daimon_aid http;
	const daimon_llm_config *cfg;
	const char *key;              /* the calling session's conversation key */
	int depth;                    /* 0: a session someone talks to; 1: a sub-agent */
	struct daimon_budget *budget; /* the calling session's (session.h), or NULL */
	const char *grants;           /* its tools (NULL: all); its sub-agents get no more */
} daimon_tool_host;

typedef struct {
	const char *name;
	const char *description;
	const char *parameters; /* JSON Schema, as text */
	/* Blocking: appends the result to `out`; returns 0, or <0 for a failed
	 * call (the text then says why). */
	int (*run)(const cJSON *args, daimon_buf *out, const daimon_tool_env *env);
	/* Or an actor, spawned as the caller's child: it sends one
	 * DAIMON_MSG_JOB_DONE (ref = `ref`, status <0 for a failed call) to its
	 * parent and exits; cancelling it cancels whatever it started. */
	daimon_aid (*spawn)(daimon_ctx *ctx, const cJSON *args, uint64_t ref, const daimon_tool_host *host);
	long timeout_ms;    /* per call; 0: the session's default */
	int top_level_only; /* not offered to sub-agents */
	void *payload;      /* handed to run in its env */
	int needs_approval; /* the user allows each call (DAIMON_SESSION_APPROVE) */
	/* Durable turns: a side-effecting call is journaled with an
	 * idempotency key before it runs and its outcome after; after a crash
	 * it is not run again blindly — only an idempotent one is retried
	 * (with the same key) when its outcome is unknown. */
	int side_effecting, idempotent;
	/* Or a request to another actor (a port): `send` asks it, inside the
	 * session's handler, to answer the session with a DAIMON_MSG_JOB_DONE
	 * of ref `ref`; `cancel` takes it back; `result` (may be NULL) turns
	 * the answer's text into the call's result (1 if it is an error). */
	int (*send)(daimon_ctx *ctx, const cJSON *args, uint64_t ref, const char *idempotency_key, void *payload);
	void (*cancel)(daimon_ctx *ctx, uint64_t ref, void *payload);
	int (*result)(const char *answer, daimon_buf *out, void *payload);
} daimon_tool;

/* Where a changing set of tools is published (atomically replaced). */
typedef _Atomic(const daimon_tool *) daimon_tools_live;

/* The built-in tools (NULL-terminated by name). */
extern const daimon_tool daimon_builtin_tools[];
/* [{"name","description","parameters"}] for daimon_llm_build (caller
 * frees); with `depth` > 0, without the tools kept for the top level;
 * with `grants` (",name,...,": a conversation not the owner's, the
 * tools.others it was granted), only those — NULL: all.
 * Model APIs take [A-Za-z0-9_-] in a name: an MCP tool's SERVER.TOOL is
 * offered as SERVER_TOOL (server names have no '_'), and a call of
 * either name finds it. */
cJSON *daimon_tools_json(const daimon_tool *tools, int depth, const char *grants);
/* Finds the tool the call {"name","arguments"} names and checks its
 * arguments against the schema. 0: *tool and *args (caller frees) are
 * set; otherwise the error result for the model is in `out`. */
int daimon_tool_prepare(const daimon_tool *tools, int depth, const char *grants, const cJSON *call,
			const daimon_tool **tool, cJSON **args, daimon_buf *out);
/* Prepares and runs a blocking tool here and now (the command line, tests);
 * the result text goes to `out`; returns 1 if it is an error result. */
int daimon_tool_call(const daimon_tool *tools, const cJSON *call, daimon_buf *out, daimon_store *store,
		     const char *key);
/* Checks `value` against the subset of JSON Schema tools use (type,
 * properties, required, enum, minimum/maximum, items); 0 or <0 with the
 * reason. */
int daimon_schema_check(const cJSON *schema, const cJSON *value, const char *where, daimon_buf *why);

/* schedule-tool.c: jobs (reminders, recurring prompts) through the
 * daemon's scheduler */
daimon_aid daimon_schedule_tool_spawn(daimon_ctx *ctx, const cJSON *args, uint64_t ref, const daimon_tool_host *host);
extern const char daimon_schedule_tool_schema[], daimon_schedule_tool_description[];

/* delegate.c */
daimon_aid daimon_delegate_spawn(daimon_ctx *ctx, const cJSON *args, uint64_t ref, const daimon_tool_host *host);
extern const char daimon_delegate_schema[];

#endif
