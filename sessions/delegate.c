/*
 * delegate.c — the delegate tool: sub-agents, Task.Supervisor.async_stream
 * for conversations.
 *
 * One fan-out per call (core/fanout.h), the calling session's child. Each
 * task is a sub-agent actor holding a child session of its own (its own
 * key and log, no delegate tool of its own); at most `max_parallel` run at
 * once, each with a deadline. A child that answers is stopped and its
 * answer kept; one that fails or runs out of time is reported as such and
 * the rest go on. When every task is settled the fan-out sends one
 * DAIMON_MSG_JOB_DONE to the session — a JSON array with a result per
 * task, in the tasks' order. Cancelling it (a stop, the call's own
 * deadline) cancels the sub-agents and their sessions: its subtree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fanout.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"
#include "core/work.h"
#include "sessions/listen.h"
#include "sessions/session.h"

const char daimon_delegate_schema[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"tasks\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":16,\"items\":{\"type\":\"object\","
	"\"properties\":{\"task\":{\"type\":\"string\"},\"context\":{\"type\":\"string\"}},\"required\":[\"task\"]}},"
	"\"timeout_s\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":3600},"
	"\"max_parallel\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":8}},"
	"\"required\":[\"tasks\"]}";

/* ---- one sub-agent: a child session asked one task ---- */

struct subagent {
	daimon_store *store;
	daimon_aid http;
	const daimon_llm_config *cfg;
	struct daimon_budget *budget; /* (its calls cost the caller's) */
	const char *grants;           /* (and it may do no more than the caller) */
	char *text, *key;
	uint64_t ref;
	daimon_aid session;
	daimon_buf answer;
	const daimon_session_done *done; /* (while it is heard) */
};

static int subagent_reply(daimon_ctx *ctx, struct subagent *a, int status, const char *text)
{
	daimon_job_reply(daimon_ctx_rt(ctx), 0, daimon_parent(ctx), a->ref, status, text, strlen(text));
	if (a->session) /* its turn is over: the log keeps it */
		daimon_cancel(daimon_ctx_rt(ctx), a->session, 1000);
	return DAIMON_EXIT_NORMAL;
}

static int subagent_init(daimon_ctx *ctx, void *state)
{
	struct subagent *a = state;
	daimon_session_opts o = {.idle_ms = -1, .depth = 1, .child = 1, .budget = a->budget, .grants = a->grants};
	a->session = daimon_session_start(daimon_ctx_rt(ctx), a->store, a->key, a->http, a->cfg, &o);
	if (!a->session)
		return subagent_reply(ctx, a, -1, daimon_error_last());
	daimon_send(daimon_ctx_rt(ctx), a->session, DAIMON_SESSION_ASK, a->text, strlen(a->text));
	daimon_set_op(ctx, "waiting for a sub-agent");
	return DAIMON_CONTINUE;
}

static void heard_delta(void *arg, const char *text, size_t len)
{
	struct subagent *a = arg;
	daimon_buf_add(&a->answer, text, len);
}

static void heard_done(void *arg, const daimon_session_done *d)
{
	struct subagent *a = arg;
	a->done = d;
}

/* (a call that needs approval is declined: nobody to ask in a sub-agent) */
static const daimon_session_listener subagent_listener = {.delta = heard_delta, .done = heard_done};

static int subagent_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct subagent *a = state;
	if (m->from != a->session || !daimon_session_hear(ctx, m, &subagent_listener, a) || !a->done)
		return DAIMON_CONTINUE;
	const daimon_session_done *r = a->done;
	return subagent_reply(ctx, a, r->status == 0 ? 0 : -1, r->status == 0 ? daimon_buf_cstr(&a->answer) : r->error);
}

static void subagent_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)ctx, (void)reason;
	struct subagent *a = state;
	free(a->text);
	free(a->key);
	daimon_buf_release(&a->answer);
	free(a);
}

static const daimon_behaviour subagent_behaviour = {
	.name = "sub-agent",
	.init = subagent_init,
	.handle = subagent_handle,
	.terminate = subagent_terminate,
};

/* ---- the fan-out over the tasks ---- */

struct delegate {
	daimon_store *store;
	daimon_aid http;
	const daimon_llm_config *cfg;
	struct daimon_budget *budget;
	const char *grants;
	uint64_t ref; /* the tool call's */
	char **texts; /* what each sub-agent is asked: the task, then any context */
	char **keys;  /* each one's conversation key */
	size_t n;
};

static daimon_aid start_task(daimon_ctx *ctx, size_t i, void *arg)
{
	struct delegate *d = arg;
	struct subagent *a = daimon_xcalloc(1, sizeof(*a));
	a->store = d->store;
	a->http = d->http;
	a->cfg = d->cfg;
	a->budget = d->budget;
	a->grants = d->grants;
	a->text = daimon_xstrdup(d->texts[i]);
	a->key = daimon_xstrdup(d->keys[i]);
	a->ref = i;
	daimon_spawn_opts o = {.behaviour = &subagent_behaviour, .state = a, .flags = DAIMON_SPAWN_CHILD};
	daimon_aid id = daimon_spawn(daimon_ctx_rt(ctx), &o);
	if (!id)
		subagent_terminate(NULL, a, 0);
	return id;
}

/* Every task settled: one result per task, in order, to the session. */
static void report(daimon_ctx *ctx, const daimon_fanout_result *r, size_t n, void *arg)
{
	struct delegate *d = arg;
	cJSON *a = cJSON_CreateArray();
	size_t failed = 0;
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		char id[DAIMON_ID_MAX + 1];
		daimon_session_id_for_key(id, d->keys[i]);
		cJSON_AddStringToObject(o, "status",
					r[i].status == 0                  ? "ok"
					: r[i].status == DAIMON_ETIMEDOUT ? "timed out"
									  : "failed");
		cJSON_AddStringToObject(o, "session", id);
		cJSON_AddStringToObject(o, r[i].status == 0 ? "answer" : "error", r[i].text);
		failed += r[i].status != 0;
		cJSON_AddItemToArray(a, o);
	}
	daimon_buf out = DAIMON_BUF_INIT;
	daimon_json_print(&out, a);
	cJSON_Delete(a);
	/* the call failed only if every task did */
	daimon_job_reply(daimon_ctx_rt(ctx), 0, daimon_parent(ctx), d->ref, failed == n ? -1 : 0, daimon_buf_cstr(&out),
			 out.len);
	daimon_buf_release(&out);
}

static void delegate_free(void *arg)
{
	struct delegate *d = arg;
	for (size_t i = 0; i < d->n; i++) {
		free(d->texts[i]);
		free(d->keys[i]);
	}
	free(d->texts);
	free(d->keys);
	free(d);
}

daimon_aid daimon_delegate_spawn(daimon_ctx *ctx, const cJSON *args, uint64_t ref, const daimon_tool_host *host)
{
	if (host->depth > 0) {
		daimon_error("a sub-agent cannot delegate");
		return 0;
	}
	struct delegate *d = daimon_xcalloc(1, sizeof(*d));
	d->store = host->store;
	d->http = host->http;
	d->cfg = host->cfg;
	d->budget = host->budget;
	d->grants = host->grants;
	d->ref = ref;
	int64_t timeout_s = 300, parallel = 3;
	daimon_json_int(args, "timeout_s", &timeout_s);
	daimon_json_int(args, "max_parallel", &parallel);
	const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(args, "tasks");
	d->n = (size_t)cJSON_GetArraySize(tasks);
	d->texts = daimon_xcalloc(d->n + 1, sizeof(char *));
	d->keys = daimon_xcalloc(d->n + 1, sizeof(char *));
	int64_t now = daimon_now_ms();
	size_t i = 0;
	for (const cJSON *j = tasks->child; j; j = j->next, i++) {
		const char *ctxt = daimon_json_str(j, "context");
		d->texts[i] = daimon_xasprintf("%s%s%s", daimon_json_str(j, "task"), ctxt ? "\n\nContext:\n" : "",
					       ctxt ? ctxt : "");
		/* A key of its own: the parent's, the moment, the call, the task's place. */
		d->keys[i] = daimon_xasprintf("%s/sub/%llx-%llu-%zu", host->key, (unsigned long long)now,
					      (unsigned long long)ref, i);
	}
	daimon_fanout_opts o = {.n = d->n,
				.max_parallel = (int)parallel,
				.timeout_ms = (long)timeout_s * 1000,
				.start = start_task,
				.finish = report,
				.free_arg = delegate_free,
				.arg = d};
	return daimon_fanout_spawn(daimon_ctx_rt(ctx), &o, DAIMON_SPAWN_CHILD);
}
