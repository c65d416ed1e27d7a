/*
 * delegate.c — the delegate tool: sub-agents, Task.Supervisor.async_stream
 * for conversations.
 *
 * One delegate actor per call, the calling session's child. Each task
 * becomes a child session of its own (its own key and log, no delegate
 * tool of its own), at most `max_parallel` running at once, each with a
 * deadline. A child that answers is stopped and its answer kept; one that
 * fails or runs out of time is reported as such and the rest go on. When
 * every task is settled the actor sends one DAIMON_MSG_JOB_DONE to the
 * session — a JSON array with a result per task, in the tasks' order —
 * and exits. Cancelling it (a stop, the call's own deadline) cancels the
 * child sessions with it: they are its subtree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"
#include "core/work.h"
#include "sessions/session.h"

const char daimon_delegate_schema[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"tasks\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":16,\"items\":{\"type\":\"object\","
	"\"properties\":{\"task\":{\"type\":\"string\"},\"context\":{\"type\":\"string\"}},\"required\":[\"task\"]}},"
	"\"timeout_s\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":3600},"
	"\"max_parallel\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":8}},"
	"\"required\":[\"tasks\"]}";

struct task {
	char *text; /* what the sub-agent is asked: the task, then any context */
	char *key;
	daimon_aid session;
	uint64_t timer;
	enum { TASK_WAITING, TASK_RUNNING, TASK_DONE } state;
	const char *outcome; /* "ok", "failed", "timed out" */
	daimon_buf answer;
	char error[256];
	char id[DAIMON_ID_MAX + 1];
};

struct delegate {
	daimon_store *store;
	daimon_aid http;
	const daimon_llm_config *cfg;
	uint64_t ref;
	struct task *tasks;
	int n, running, max_parallel;
	long timeout_ms;
};

static void report(daimon_ctx *ctx, struct delegate *d)
{
	cJSON *a = cJSON_CreateArray();
	int failed = 0;
	for (int i = 0; i < d->n; i++) {
		struct task *t = &d->tasks[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "status", t->outcome);
		cJSON_AddStringToObject(o, "session", t->id);
		if (!strcmp(t->outcome, "ok"))
			cJSON_AddStringToObject(o, "answer", daimon_buf_cstr(&t->answer));
		else
			cJSON_AddStringToObject(o, "error", t->error), failed++;
		cJSON_AddItemToArray(a, o);
	}
	daimon_buf out = DAIMON_BUF_INIT;
	daimon_json_print(&out, a);
	cJSON_Delete(a);
	size_t n = sizeof(daimon_job_done) + out.len + 1;
	daimon_job_done *done = daimon_xmalloc(n);
	done->ref = d->ref;
	done->status = failed == d->n ? -1 : 0; /* the call failed only if every task did */
	done->len = out.len;
	memcpy(done->text, daimon_buf_cstr(&out), out.len + 1);
	daimon_send(daimon_ctx_rt(ctx), daimon_parent(ctx), DAIMON_MSG_JOB_DONE, done, n);
	free(done);
	daimon_buf_release(&out);
}

static void settle(daimon_ctx *ctx, struct delegate *d, struct task *t, const char *outcome, const char *error)
{
	t->state = TASK_DONE;
	t->outcome = outcome;
	snprintf(t->error, sizeof(t->error), "%s", error ? error : "");
	d->running--;
	if (t->timer)
		daimon_timer_cancel(ctx, t->timer);
	t->timer = 0;
	if (t->session) /* its turn is over or abandoned: the log keeps it */
		daimon_cancel(daimon_ctx_rt(ctx), t->session, 1000);
	t->session = 0;
}

/* Starts tasks while there is room; 1 once every task is settled. */
static int pump(daimon_ctx *ctx, struct delegate *d)
{
	int settled = 0;
	for (int i = 0; i < d->n; i++) {
		struct task *t = &d->tasks[i];
		if (t->state == TASK_WAITING && d->running < d->max_parallel) {
			t->state = TASK_RUNNING;
			d->running++;
			daimon_session_opts o = {.idle_ms = -1, .depth = 1, .child = 1};
			t->session = daimon_session_start(daimon_ctx_rt(ctx), d->store, t->key, d->http, d->cfg, &o);
			daimon_session_id_for_key(t->id, t->key);
			if (!t->session) {
				settle(ctx, d, t, "failed", daimon_error_last());
			} else {
				daimon_send(daimon_ctx_rt(ctx), t->session, DAIMON_SESSION_ASK, t->text, strlen(t->text));
				t->timer = daimon_timer_start(ctx, d->timeout_ms, 0);
			}
		}
		settled += t->state == TASK_DONE;
	}
	if (settled < d->n)
		return 0;
	report(ctx, d);
	return 1;
}

static struct task *task_of(struct delegate *d, daimon_aid session, uint64_t timer)
{
	for (int i = 0; i < d->n; i++)
		if (d->tasks[i].state == TASK_RUNNING &&
		    ((session && d->tasks[i].session == session) || (timer && d->tasks[i].timer == timer)))
			return &d->tasks[i];
	return NULL;
}

static int delegate_init(daimon_ctx *ctx, void *state)
{
	daimon_set_op(ctx, "waiting for sub-agents");
	return pump(ctx, state) ? DAIMON_EXIT_NORMAL : DAIMON_CONTINUE;
}

static int delegate_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct delegate *d = state;
	struct task *t;
	if (m->type == DAIMON_SESSION_DELTA && (t = task_of(d, m->from, 0))) {
		daimon_buf_add(&t->answer, m->data, m->len);
	} else if (m->type == DAIMON_SESSION_DONE && (t = task_of(d, m->from, 0))) {
		const daimon_session_done *r = m->data;
		settle(ctx, d, t, r->status == 0 ? "ok" : "failed", r->error);
	} else if (m->type == DAIMON_MSG_TIMER && (t = task_of(d, 0, m->ref))) {
		char why[64];
		snprintf(why, sizeof(why), "no answer within %.1f s", (double)d->timeout_ms / 1000);
		t->timer = 0;
		settle(ctx, d, t, "timed out", why);
	} else {
		return DAIMON_CONTINUE;
	}
	return pump(ctx, d) ? DAIMON_EXIT_NORMAL : DAIMON_CONTINUE;
}

static void delegate_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)ctx, (void)reason;
	struct delegate *d = state;
	for (int i = 0; i < d->n; i++) {
		free(d->tasks[i].text);
		free(d->tasks[i].key);
		daimon_buf_release(&d->tasks[i].answer);
	}
	free(d->tasks);
	free(d);
}

static const daimon_behaviour delegate_behaviour = {
	.name = "delegate",
	.init = delegate_init,
	.handle = delegate_handle,
	.terminate = delegate_terminate,
};

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
	d->ref = ref;
	int64_t v = 300;
	daimon_json_int(args, "timeout_s", &v);
	d->timeout_ms = (long)v * 1000;
	v = 3;
	daimon_json_int(args, "max_parallel", &v);
	d->max_parallel = (int)v;
	const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(args, "tasks");
	d->n = cJSON_GetArraySize(tasks);
	d->tasks = daimon_xcalloc((size_t)d->n, sizeof(*d->tasks));
	int64_t now = daimon_now_ms();
	int i = 0;
	for (const cJSON *j = tasks->child; j; j = j->next, i++) {
		const char *ctxt = daimon_json_str(j, "context");
		d->tasks[i].text = daimon_xasprintf("%s%s%s", daimon_json_str(j, "task"), ctxt ? "\n\nContext:\n" : "",
						    ctxt ? ctxt : "");
		/* A key of its own: the parent's, the moment, the task's place. */
		d->tasks[i].key = daimon_xasprintf("%s/sub/%llx-%llu-%d", host->key, (unsigned long long)now,
						   (unsigned long long)ref, i);
	}
	daimon_spawn_opts o = {.behaviour = &delegate_behaviour, .state = d, .flags = DAIMON_SPAWN_CHILD};
	daimon_aid id = daimon_spawn(daimon_ctx_rt(ctx), &o);
	if (!id)
		delegate_terminate(NULL, d, 0);
	return id;
}
