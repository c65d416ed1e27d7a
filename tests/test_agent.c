/*
 * test_agent.c — the agent loop against the real mock (aimock), for both
 * providers: tool calls of one answer run side by side (and no more at
 * once than the bound), a call past its deadline and a failing call are
 * each that call's result; a stop mid-stream and a stop while a tool runs
 * collapse the turn and what the model is told next shows it (aimock's
 * journal); messages that arrive mid-turn are queued, steer the turn, or
 * interrupt it; delegate fans out to sub-agents, one of which fails and
 * one of which runs out of time.
 */
#include <dirent.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core/actor.h"
#include "core/buf.h"
#include "core/http.h"
#include "core/jsonutil.h"
#include "core/llm.h"
#include "memory/index.h"

#include "memory/log.h"
#include "memory/search.h"
#include "sessions/session.h"
#include "tests/aimock.h"
#include "tests/test.h"
#include <sqlite3.h>

#define LONG_ANSWER                                                                                           \
	"This is a long answer that takes up room in the history, so that the conversation grows past the "   \
	"compression threshold after a few turns. It goes on for a while with nothing much to say, and then " \
	"it goes on a little more, because the test needs the bytes and the model is happy to oblige it here."

#define FIXTURES_COMMON                                                                                             \
	"{\"match\":{\"userMessage\":\"long question\"},\"response\":{\"content\":\"" LONG_ANSWER "\"}},"           \
	"{\"match\":{\"userMessage\":\"long tool "                                                                  \
	"question\",\"hasToolResult\":true},\"response\":{\"content\":\"" LONG_ANSWER "\"}},"                       \
	"{\"match\":{\"userMessage\":\"long tool question\"},\"response\":{\"toolCalls\":[{\"id\":\"k1\",\"name\":" \
	"\"clock\",\"arguments\":\"{}\"},{\"id\":\"k2\",\"name\":\"clock\",\"arguments\":\"{}\"}]}},"

static const char fixtures[] =
	"{\"fixtures\":["
	"{\"match\":{\"userMessage\":\"Write the title and summary\"},\"response\":{\"content\":\"{\\\"title\\\":"
	"\\\"Greetings exchanged\\\",\\\"summary\\\":\\\"The user said hello and got an answer.\\\"}\"}},"
	"{\"match\":{\"userMessage\":\"Summarize the conversation above\"},\"response\":{\"content\":\"SUMMARY: the "
	"user asked long questions.\"}}," FIXTURES_COMMON
	"{\"match\":{\"userMessage\":\"parallel\",\"hasToolResult\":true},\"response\":{\"content\":\"All settled.\"}},"
	"{\"match\":{\"userMessage\":\"parallel\"},\"response\":{\"toolCalls\":["
	"{\"id\":\"p1\",\"name\":\"meet\",\"arguments\":\"{}\"},{\"id\":\"p2\",\"name\":\"meet\",\"arguments\":\"{}\"},"
	"{\"id\":\"p3\",\"name\":\"slow\",\"arguments\":\"{}\"},{\"id\":\"p4\",\"name\":\"broken\",\"arguments\":"
	"\"{}\"}]}},"
	"{\"match\":{\"userMessage\":\"pause\",\"hasToolResult\":true},\"response\":{\"content\":\"Resumed.\"}},"
	"{\"match\":{\"userMessage\":\"pause\"},\"response\":{\"toolCalls\":["
	"{\"id\":\"w1\",\"name\":\"pause\",\"arguments\":\"{}\"}]}},"
	"{\"match\":{\"userMessage\":\"change of plan\"},\"response\":{\"content\":\"Plan changed.\"}},"
	"{\"match\":{\"userMessage\":\"story\"},\"response\":{\"content\":\"Once upon a time there was a daemon "
	"that lived on a laptop and remembered everything its user ever told it, and it was very small, and it "
	"never forgot a thing, and it went on and on and on and on and on and on and on and on and on and on.\"}},"
	"{\"match\":{\"userMessage\":\"fan out\",\"hasToolResult\":true},\"response\":{\"content\":\"Collected.\"}},"
	"{\"match\":{\"userMessage\":\"fan out\"},\"response\":{\"toolCalls\":[{\"id\":\"d1\",\"name\":\"delegate\","
	"\"arguments\":\"{\\\"timeout_s\\\":1,\\\"tasks\\\":[{\\\"task\\\":\\\"subtask alpha\\\"},{\\\"task\\\":"
	"\\\"subtask broken\\\"},{\\\"task\\\":\\\"subtask sleepy\\\"}]}\"}]}},"
	"{\"match\":{\"userMessage\":\"subtask alpha\"},\"response\":{\"content\":\"Alpha done.\"}},"
	"{\"match\":{\"userMessage\":\"subtask broken\"},\"response\":{\"error\":{\"message\":\"no such model\","
	"\"type\":\"invalid_request_error\"},\"status\":400}},"
	"{\"match\":{\"userMessage\":\"subtask sleepy\"},\"streamingProfile\":{\"ttft\":8000},\"response\":"
	"{\"content\":\"Too late.\"}},"
	"{\"match\":{\"userMessage\":\"stepper\",\"hasToolResult\":true},\"response\":{\"content\":\"Stepped.\"}},"
	"{\"match\":{\"userMessage\":\"stepper\"},\"response\":{\"toolCalls\":[{\"id\":\"t1\",\"name\":\"stepper\","
	"\"arguments\":\"{}\"}]}},"
	"{\"match\":{\"userMessage\":\"guarded\",\"hasToolResult\":true},\"response\":{\"content\":\"Guarded done.\"}},"
	"{\"match\":{\"userMessage\":\"guarded\"},\"response\":{\"toolCalls\":[{\"id\":\"g1\",\"name\":\"guarded\","
	"\"arguments\":\"{}\"}]}},"
	"{\"match\":{\"userMessage\":\"think\",\"hasToolResult\":true},\"response\":{\"content\":\"Thought "
	"it through.\"}},"
	"{\"match\":{\"userMessage\":\"think\"},\"response\":{\"reasoning\":\"Let me look at the clock "
	"first.\",\"toolCalls\":[{\"id\":\"r1\",\"name\":\"clock\",\"arguments\":\"{}\"}]}},"
	"{\"match\":{\"userMessage\":\"ponder\"},\"response\":{\"reasoning\":\"Nothing to look up.\","
	"\"content\":\"Pondered.\"}},"
	"{\"match\":{\"userMessage\":\"hello\"},\"response\":{\"content\":\"Hello there!\"}}]}";

/* The summary's model call fails. */
static const char fixtures_no_summary[] =
	"{\"fixtures\":["
	"{\"match\":{\"userMessage\":\"Summarize the conversation above\"},\"response\":{\"error\":{\"message\":"
	"\"overloaded\",\"type\":\"invalid_request_error\"},\"status\":400}}," FIXTURES_COMMON
	"{\"match\":{\"userMessage\":\"hello\"},\"response\":{\"content\":\"Hello there!\"}}]}";
static const char *fixture_set = fixtures;
static int strict_mock; /* aimock checks the requests as the real API would */

/* ---- test tools ---- */

static _Atomic int meet_count;
/* Returns "met" once two calls of it run at the same time, "alone" if
 * none joins it within a second: proof of calls side by side. */
static int tool_meet(const cJSON *args, daimon_buf *out, const daimon_tool_env *env)
{
	(void)args, (void)env;
	atomic_fetch_add(&meet_count, 1);
	for (int i = 0; i < 1000 && atomic_load(&meet_count) < 2; i++)
		usleep(1000);
	daimon_buf_adds(out, atomic_load(&meet_count) >= 2 ? "met" : "alone");
	return 0;
}

static _Atomic int slow_noticed;
static int tool_slow(const cJSON *args, daimon_buf *out, const daimon_tool_env *env)
{
	(void)args;
	for (int i = 0; i < 10000 && !atomic_load(env->cancelled); i++)
		usleep(1000);
	atomic_store(&slow_noticed, atomic_load(env->cancelled));
	daimon_buf_adds(out, "finished");
	return 0;
}

static int tool_broken(const cJSON *args, daimon_buf *out, const daimon_tool_env *env)
{
	(void)args, (void)env;
	daimon_buf_adds(out, "the disk is on fire");
	return -1;
}

static _Atomic int pause_started, pause_release, pause_cancelled;
static int tool_pause(const cJSON *args, daimon_buf *out, const daimon_tool_env *env)
{
	(void)args;
	atomic_store(&pause_started, 1);
	for (int i = 0; i < 5000 && !atomic_load(&pause_release) && !atomic_load(env->cancelled); i++)
		usleep(1000);
	atomic_store(&pause_cancelled, atomic_load(env->cancelled));
	daimon_buf_adds(out, "paused");
	return 0;
}

#define EMPTY "{\"type\":\"object\",\"properties\":{}}"
static int tool_clock(const cJSON *args, daimon_buf *out, const daimon_tool_env *env)
{
	(void)args, (void)env;
	daimon_buf_adds(out, "It is noon, and this result is long enough to matter when the history is cut.");
	return 0;
}

static int tool_stepper(const cJSON *args, daimon_buf *out, const daimon_tool_env *env)
{
	(void)args;
	env->progress(env->progress_payload, 1, 2, "halfway");
	env->progress(env->progress_payload, 2, 2, "there");
	daimon_buf_adds(out, "stepped");
	return 0;
}

static const daimon_tool test_tools[] = {
	{.name = "stepper", .description = "Reports progress.", .parameters = EMPTY, .run = tool_stepper},
	{.name = "clock", .description = "The time.", .parameters = EMPTY, .run = tool_clock},
	{.name = "guarded", .description = "Asks first.", .parameters = EMPTY, .run = tool_clock, .needs_approval = 1},
	{.name = "meet", .description = "Waits for a second caller.", .parameters = EMPTY, .run = tool_meet},
	{.name = "slow", .description = "Takes ten seconds.", .parameters = EMPTY, .run = tool_slow, .timeout_ms = 200},
	{.name = "broken", .description = "Always fails.", .parameters = EMPTY, .run = tool_broken},
	{.name = "pause", .description = "Waits to be released.", .parameters = EMPTY, .run = tool_pause},
	{0},
};

/* ---- the harness: one runtime, one session, askers ---- */

struct asker {
	_Atomic int deltas, tools, finished, asked, progress;
	char last_progress[64];
	int allow;                    /* the answer to a call that needs approval */
	daimon_buf streamed, thought; /* read once finished */
	daimon_session_done done;
};

static int asker_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct asker *a = state;
	if (m->type == DAIMON_SESSION_DELTA) {
		daimon_buf_add(&a->streamed, m->data, m->len);
		atomic_fetch_add(&a->deltas, 1);
	} else if (m->type == DAIMON_SESSION_THINKING) {
		daimon_buf_add(&a->thought, m->data, m->len);
	} else if (m->type == DAIMON_SESSION_TOOL) {
		atomic_fetch_add(&a->tools, 1);
	} else if (m->type == DAIMON_SESSION_PROGRESS) {
		snprintf(a->last_progress, sizeof(a->last_progress), "%.*s", (int)m->len, (const char *)m->data);
		atomic_fetch_add(&a->progress, 1);
	} else if (m->type == DAIMON_SESSION_APPROVE) {
		const daimon_session_approval *q = m->data;
		atomic_fetch_add(&a->asked, 1);
		daimon_session_approval r = {.ref = q->ref, .allow = a->allow};
		daimon_send(daimon_ctx_rt(ctx), m->from, DAIMON_SESSION_APPROVAL, &r, sizeof(r));
	} else if (m->type == DAIMON_SESSION_DONE) {
		memcpy(&a->done, m->data, sizeof(a->done));
		atomic_store(&a->finished, 1);
	}
	return DAIMON_CONTINUE;
}

static const daimon_behaviour asker_b = {.name = "asker", .handle = asker_handle};

struct harness {
	struct aimock mk;
	daimon_store st;
	daimon_llm_config cfg;
	daimon_rt *rt;
	daimon_aid session;
	struct asker a[2];
	daimon_aid aid[2];
};

/* A runtime with the session and two askers (again, after a restart). */
static void h_runtime(struct harness *h, daimon_session_opts *o)
{
	daimon_rt_new(&h->rt, NULL);
	daimon_aid http = daimon_http_start(h->rt, 0);
	h->session = daimon_session_start(h->rt, &h->st, "cli:agent", http, &h->cfg, o);
	for (int i = 0; i < 2; i++) {
		daimon_spawn_opts so = {.behaviour = &asker_b, .state = &h->a[i]};
		h->aid[i] = daimon_spawn(h->rt, &so);
	}
}

/* As after a crash: a new runtime reads the session back from its log. */
static void h_restart(struct harness *h, daimon_session_opts *o)
{
	daimon_rt_free(h->rt);
	for (int i = 0; i < 2; i++)
		daimon_buf_clear(&h->a[i].streamed);
	h_runtime(h, o);
}

static int h_start(struct harness *h, int provider, daimon_session_opts *o, int latency_ms)
{
	memset(h, 0, sizeof(*h));
	if ((strict_mock ? aimock_start_strict : aimock_start)(&h->mk, fixture_set, 4, latency_ms) < 0)
		return -1;
	daimon_store_open(&h->st, test_tmpdir());
	h->cfg = (daimon_llm_config){.provider = provider,
				     .base_url = h->mk.url,
				     .api_key = "sk-test",
				     .model = "m",
				     .max_tokens = 256,
				     .first_token_ms = 5000};
	h_runtime(h, o);
	atomic_store(&meet_count, 0);
	atomic_store(&slow_noticed, 0);
	atomic_store(&pause_started, 0);
	atomic_store(&pause_release, 0);
	atomic_store(&pause_cancelled, 0);
	return h->session ? 0 : -1;
}

static void h_stop(struct harness *h)
{
	daimon_rt_free(h->rt);
	for (int i = 0; i < 2; i++) {
		daimon_buf_release(&h->a[i].streamed);
		daimon_buf_release(&h->a[i].thought);
	}
	daimon_store_release(&h->st);
	aimock_stop(&h->mk);
}

/* Asker `i` says `text` to the session (its earlier outcome forgotten). */
static void h_ask(struct harness *h, int i, const char *text)
{
	struct asker *a = &h->a[i];
	atomic_store(&a->finished, 0);
	atomic_store(&a->deltas, 0);
	daimon_send_from(h->rt, h->aid[i], h->session, DAIMON_SESSION_ASK, text, strlen(text));
}

static char *h_log(struct harness *h, const char *key)
{
	char id[DAIMON_ID_MAX + 1];
	daimon_session_id_for_key(id, key);
	char *path = daimon_store_log_path(&h->st, id);
	char *text = test_read(path);
	free(path);
	return text;
}

static char *h_journal(struct harness *h)
{
	daimon_buf j = DAIMON_BUF_INIT;
	aimock_get(&h->mk, "/__aimock/journal?limit=50", &j);
	return daimon_buf_detach(&j);
}

/* The content of the tool_result record for `call_id` in `log`. */
static char *tool_result(const char *log, const char *call_id)
{
	char *out = NULL;
	for (const char *line = log; *line && !out;) {
		size_t n = strcspn(line, "\n");
		char *copy = strndup(line, n);
		cJSON *r = cJSON_Parse(copy);
		const char *id = daimon_json_str(r, "call_id");
		if (id && !strcmp(id, call_id))
			out = strdup(daimon_json_str(r, "content"));
		cJSON_Delete(r);
		free(copy);
		line += n + (line[n] == '\n');
	}
	return out;
}

/* How many times `needle` occurs in `hay`. */
static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static const int providers[] = {DAIMON_LLM_OPENAI, DAIMON_LLM_ANTHROPIC};

/* ---- the tests ---- */

static void test_agent__tool_calls_run_side_by_side_each_with_its_deadline(void)
{
	for (int p = 0; p < 2; p++) {
		struct harness h;
		daimon_session_opts o = {.tools = test_tools, .tool_parallel = 4};
		CHECK_INT(h_start(&h, providers[p], &o, 0), 0);
		h_ask(&h, 0, "parallel please");
		EVENTUALLY(atomic_load(&h.a[0].finished));
		CHECK_INT(h.a[0].done.status, 0);
		CHECK_STR(daimon_buf_cstr(&h.a[0].streamed), "All settled.");
		CHECK_INT(atomic_load(&h.a[0].tools), 4); /* a status line per call */
		char *log = h_log(&h, "cli:agent");
		char *r1 = tool_result(log, "p1"), *r2 = tool_result(log, "p2");
		char *r3 = tool_result(log, "p3"), *r4 = tool_result(log, "p4");
		CHECK_STR(r1, "met");
		CHECK_STR(r2, "met");
		CHECK_STR(r3, "slow timed out after 0.2 s");
		CHECK_STR(r4, "the disk is on fire");
		EVENTUALLY(atomic_load(&slow_noticed)); /* the late call was told to stop */
		CHECK_CONTAINS(log, "\"call_id\":\"p4\",\"name\":\"broken\",\"content\":\"the disk is on fire\","
				    "\"is_error\":true");
		free(r1), free(r2), free(r3), free(r4), free(log);
		/* The model heard every result, the failures marked as errors. */
		char *j = h_journal(&h);
		CHECK_CONTAINS(j, "met");
		CHECK_CONTAINS(j, "slow timed out after 0.2 s");
		CHECK_CONTAINS(j, "the disk is on fire");
		free(j);
		h_stop(&h);
	}
}

static void test_agent__no_more_calls_at_once_than_the_bound(void)
{
	struct harness h;
	daimon_session_opts o = {.tools = test_tools, .tool_parallel = 1, .tool_timeout_ms = 5000};
	CHECK_INT(h_start(&h, DAIMON_LLM_OPENAI, &o, 0), 0);
	h_ask(&h, 0, "parallel please");
	EVENTUALLY(atomic_load(&h.a[0].finished));
	CHECK_INT(h.a[0].done.status, 0);
	char *log = h_log(&h, "cli:agent");
	char *r1 = tool_result(log, "p1"), *r2 = tool_result(log, "p2");
	CHECK_STR(r1, "alone"); /* one at a time: the two never met */
	CHECK_STR(r2, "met");   /* (the second finds the first's count) */
	free(r1), free(r2), free(log);
	h_stop(&h);
}

static void test_agent__a_stop_mid_stream_is_logged_and_told_to_the_model(void)
{
	for (int p = 0; p < 2; p++) {
		struct harness h;
		CHECK_INT(h_start(&h, providers[p], NULL, 20), 0);
		h_ask(&h, 0, "tell me a story");
		EVENTUALLY(atomic_load(&h.a[0].deltas) >= 2);
		daimon_send(h.rt, h.session, DAIMON_SESSION_STOP, NULL, 0);
		EVENTUALLY(atomic_load(&h.a[0].finished));
		CHECK_INT(h.a[0].done.status, DAIMON_SESSION_CANCELLED);
		char *log = h_log(&h, "cli:agent");
		CHECK_CONTAINS(log, "\"type\":\"cancel\",\"reason\":\"stopped by the user\",\"partial\":\"Once");
		CHECK(!strstr(log, "\"role\":\"assistant\""));
		free(log);
		/* The session goes on; the model is told what was cut short. */
		h_ask(&h, 0, "hello");
		EVENTUALLY(atomic_load(&h.a[0].finished));
		CHECK_INT(h.a[0].done.status, 0);
		char *j = h_journal(&h);
		CHECK_CONTAINS(j, "[stopped by the user]");
		CHECK_INT(count(j, "tell me a story"), 2); /* asked once; then in the history once */
		free(j);
		h_stop(&h);
	}
}

static void test_agent__a_stop_while_a_tool_runs_cancels_it_and_keeps_the_log_whole(void)
{
	for (int p = 0; p < 2; p++) {
		struct harness h;
		daimon_session_opts o = {.tools = test_tools};
		CHECK_INT(h_start(&h, providers[p], &o, 0), 0);
		h_ask(&h, 0, "pause for a moment");
		EVENTUALLY(atomic_load(&pause_started));
		daimon_send(h.rt, h.session, DAIMON_SESSION_STOP, NULL, 0);
		EVENTUALLY(atomic_load(&h.a[0].finished));
		CHECK_INT(h.a[0].done.status, DAIMON_SESSION_CANCELLED);
		EVENTUALLY(atomic_load(&pause_cancelled)); /* the running tool saw the cancel */
		char *log = h_log(&h, "cli:agent");
		char *r = tool_result(log, "w1");
		CHECK_STR(r, "cancelled: stopped by the user");
		CHECK_CONTAINS(log, "\"type\":\"cancel\",\"reason\":\"stopped by the user\"}");
		free(r), free(log);
		/* Every call has its result, so the next request is well formed. */
		h_ask(&h, 0, "hello");
		EVENTUALLY(atomic_load(&h.a[0].finished));
		CHECK_INT(h.a[0].done.status, 0);
		CHECK_STR(daimon_buf_cstr(&h.a[0].streamed), "Hello there!");
		char *j = h_journal(&h);
		CHECK_CONTAINS(j, "cancelled: stopped by the user");
		free(j);
		h_stop(&h);
	}
}

/* A turn that died with its process and that nobody delivers again: the
 * session's next message first closes its calls from the journal — the
 * logged outcome, "outcome unknown" for one that started, "not run" for
 * one that did not — and runs none of them, so the model gets a whole
 * history. */
static void test_agent__a_dead_turns_calls_are_closed_from_the_journal(void)
{
	struct harness h;
	CHECK_INT(h_start(&h, DAIMON_LLM_OPENAI, NULL, 0), 0);
	h_ask(&h, 0, "story");
	EVENTUALLY(atomic_load(&h.a[0].finished));
	daimon_rt_free(h.rt); /* (the process is gone; its log stays as it was) */
	char *log = h_log(&h, "cli:agent");
	int seq = 0;
	for (const char *p = log; (p = strchr(p, '\n')); p++)
		seq++;
	char id[DAIMON_ID_MAX + 1];
	daimon_session_id_for_key(id, "cli:agent");
	static const char *const recs[] = {
		"\"type\":\"message\",\"role\":\"user\",\"content\":\"errands\"",
		"\"type\":\"message\",\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":\"x1\",\"name\":"
		"\"pay\",\"arguments\":\"{}\"},{\"id\":\"x2\",\"name\":\"mail\",\"arguments\":\"{}\"},{\"id\":\"x3\","
		"\"name\":\"look\",\"arguments\":\"{}\"}]",
		"\"type\":\"tool_intent\",\"call_id\":\"x1\",\"name\":\"pay\",\"key\":\"k/x1\",\"idempotent\":false",
		"\"type\":\"tool_intent\",\"call_id\":\"x3\",\"name\":\"look\",\"key\":\"k/x3\",\"idempotent\":false",
		"\"type\":\"tool_outcome\",\"call_id\":\"x3\",\"name\":\"look\",\"key\":\"k/x3\",\"content\":"
		"\"all quiet\",\"is_error\":false",
		NULL};
	daimon_buf more = DAIMON_BUF_INIT;
	daimon_buf_adds(&more, log);
	for (int i = 0; recs[i]; i++)
		daimon_buf_addf(&more, "{\"seq\":%d,\"ts\":\"2026-11-24T10:00:00.000Z\",%s}\n", ++seq, recs[i]);
	char *path = daimon_store_log_path(&h.st, id);
	test_write(path, daimon_buf_cstr(&more));
	daimon_buf_clear(&h.a[0].streamed);
	h_runtime(&h, NULL);
	h_ask(&h, 0, "change of plan");
	EVENTUALLY(atomic_load(&h.a[0].finished));
	CHECK_INT(h.a[0].done.status, 0);
	CHECK_STR(daimon_buf_cstr(&h.a[0].streamed), "Plan changed.");
	char *after = h_log(&h, "cli:agent");
	CHECK_CONTAINS(after, "\"call_id\":\"x1\",\"name\":\"pay\",\"content\":\"outcome unknown: pay was started");
	CHECK_CONTAINS(after, "\"call_id\":\"x2\",\"name\":\"mail\",\"content\":\"not run: daimon stopped before this "
			      "call ran\",\"is_error\":true");
	CHECK_CONTAINS(after, "\"call_id\":\"x3\",\"name\":\"look\",\"content\":\"all quiet\",\"is_error\":false}");
	CHECK(strstr(after, "\"call_id\":\"x3\",\"name\":\"look\",\"content\":\"all quiet\",\"is_error\":false}") <
	      strstr(after, "\"content\":\"change of plan\"")); /* closed before the new message */
	free(after);
	free(path);
	daimon_buf_release(&more);
	free(log);
	h_stop(&h);
}

static void test_agent__a_message_mid_turn_is_queued_by_default(void)
{
	for (int p = 0; p < 2; p++) {
		struct harness h;
		CHECK_INT(h_start(&h, providers[p], NULL, 10), 0);
		h_ask(&h, 0, "tell me a story");
		EVENTUALLY(atomic_load(&h.a[0].deltas) >= 1);
		h_ask(&h, 1, "hello");
		EVENTUALLY(atomic_load(&h.a[0].finished) && atomic_load(&h.a[1].finished));
		CHECK_INT(h.a[0].done.status, 0);
		CHECK_INT(h.a[1].done.status, 0);
		CHECK_STR(daimon_buf_cstr(&h.a[1].streamed), "Hello there!");
		char *log = h_log(&h, "cli:agent");
		const char *story = strstr(log, "\"content\":\"Once upon");
		const char *hello = strstr(log, "\"content\":\"hello\"");
		CHECK(story && hello && story < hello); /* the story was finished first */
		free(log);
		h_stop(&h);
	}
}

static void test_agent__a_steering_message_joins_the_running_turn(void)
{
	for (int p = 0; p < 2; p++) {
		struct harness h;
		daimon_session_opts o = {.tools = test_tools, .mid_turn = DAIMON_MID_TURN_STEER};
		CHECK_INT(h_start(&h, providers[p], &o, 0), 0);
		h_ask(&h, 0, "pause for a moment");
		EVENTUALLY(atomic_load(&pause_started));
		h_ask(&h, 1, "change of plan");
		usleep(20000); /* (the session takes it in before the tool ends) */
		atomic_store(&pause_release, 1);
		EVENTUALLY(atomic_load(&h.a[0].finished) && atomic_load(&h.a[1].finished));
		CHECK_INT(h.a[0].done.status, 0);
		CHECK_INT(h.a[1].done.status, 0);
		CHECK_STR(daimon_buf_cstr(&h.a[0].streamed), "Plan changed.");
		char *log = h_log(&h, "cli:agent");
		const char *result = strstr(log, "\"content\":\"paused\"");
		const char *steer = strstr(log, "\"content\":\"change of plan\"");
		CHECK(result && steer && result < steer);
		CHECK_INT(count(log, "\"role\":\"assistant\""), 2); /* one turn: the call, then the answer */
		free(log);
		h_stop(&h);
	}
}

static void test_agent__an_interrupting_message_stops_the_turn_and_takes_over(void)
{
	for (int p = 0; p < 2; p++) {
		struct harness h;
		daimon_session_opts o = {.mid_turn = DAIMON_MID_TURN_INTERRUPT};
		CHECK_INT(h_start(&h, providers[p], &o, 20), 0);
		h_ask(&h, 0, "tell me a story");
		EVENTUALLY(atomic_load(&h.a[0].deltas) >= 1);
		h_ask(&h, 1, "hello");
		EVENTUALLY(atomic_load(&h.a[0].finished) && atomic_load(&h.a[1].finished));
		CHECK_INT(h.a[0].done.status, DAIMON_SESSION_CANCELLED);
		CHECK_STR(h.a[0].done.error, "interrupted by a new message");
		CHECK_INT(h.a[1].done.status, 0);
		CHECK_STR(daimon_buf_cstr(&h.a[1].streamed), "Hello there!");
		char *log = h_log(&h, "cli:agent");
		CHECK_CONTAINS(log, "\"reason\":\"interrupted by a new message\"");
		free(log);
		h_stop(&h);
	}
}

static void test_agent__delegate_fans_out_and_reports_each_child(void)
{
	for (int p = 0; p < 2; p++) {
		struct harness h;
		CHECK_INT(h_start(&h, providers[p], NULL, 0), 0);
		h_ask(&h, 0, "fan out the work");
		EVENTUALLY(atomic_load(&h.a[0].finished));
		CHECK_INT(h.a[0].done.status, 0);
		CHECK_STR(daimon_buf_cstr(&h.a[0].streamed), "Collected.");
		char *log = h_log(&h, "cli:agent");
		char *r = tool_result(log, "d1");
		cJSON *a = cJSON_Parse(r);
		CHECK_INT(cJSON_GetArraySize(a), 3);
		const cJSON *ok = cJSON_GetArrayItem(a, 0), *bad = cJSON_GetArrayItem(a, 1);
		const cJSON *late = cJSON_GetArrayItem(a, 2);
		CHECK_STR(daimon_json_str(ok, "status"), "ok");
		CHECK_STR(daimon_json_str(ok, "answer"), "Alpha done.");
		CHECK_STR(daimon_json_str(bad, "status"), "failed");
		CHECK_CONTAINS(daimon_json_str(bad, "error"), "HTTP 400: no such model");
		CHECK_STR(daimon_json_str(late, "status"), "timed out");
		CHECK_STR(daimon_json_str(late, "error"), "no answer within 1.0 s");
		/* Each child has a log of its own; the late one's says it was cancelled. */
		char *path = daimon_store_log_path(&h.st, daimon_json_str(ok, "session"));
		char *child = test_read(path);
		CHECK_CONTAINS(child, "\"content\":\"Alpha done.\"");
		free(child), free(path);
		path = daimon_store_log_path(&h.st, daimon_json_str(late, "session"));
		child = test_read(path);
		CHECK_CONTAINS(child, "\"content\":\"subtask sleepy\"");
		CHECK_CONTAINS(child, "\"type\":\"cancel\",\"reason\":\"cancelled\"");
		free(child), free(path);
		cJSON_Delete(a);
		free(r), free(log);
		/* The sub-agents were not offered delegate themselves. */
		char *j = h_journal(&h);
		CHECK_INT(count(j, "\"name\":\"delegate\""),
			  2 + 2); /* offered + called, in the parent's two requests */
		free(j);
		h_stop(&h);
	}
}

static int file_has(const char *path, const char *needle)
{
	char *text = test_read(path);
	int found = strstr(text, needle) != NULL;
	free(text);
	return found;
}

/* How many session logs the store holds. */
static int logs(struct harness *h)
{
	int n = 0;
	DIR *d = opendir(h->st.sessions_dir);
	for (struct dirent *e; d && (e = readdir(d));) { /* (not a log's temporary file, made before it is linked in) */
		size_t len = strlen(e->d_name);
		n += len > 6 && !strcmp(e->d_name + len - 6, ".jsonl");
	}
	if (d)
		closedir(d);
	return n;
}

static void test_agent__a_stop_collapses_the_sub_agents_too(void)
{
	struct harness h;
	CHECK_INT(h_start(&h, DAIMON_LLM_OPENAI, NULL, 0), 0);
	h_ask(&h, 0, "fan out the work");
	EVENTUALLY(logs(&h) >= 4); /* the parent and three children */
	usleep(50000);
	daimon_send(h.rt, h.session, DAIMON_SESSION_STOP, NULL, 0);
	EVENTUALLY(atomic_load(&h.a[0].finished));
	CHECK_INT(h.a[0].done.status, DAIMON_SESSION_CANCELLED);
	char *log = h_log(&h, "cli:agent");
	char *r = tool_result(log, "d1");
	CHECK_STR(r, "cancelled: stopped by the user");
	free(r), free(log);
	/* The sleepy child was cancelled with its parent's call, and says so. */
	char *sleepy = NULL;
	DIR *d = opendir(h.st.sessions_dir);
	for (struct dirent *e; d && (e = readdir(d));) {
		char *path = daimon_xasprintf("%s/%s", h.st.sessions_dir, e->d_name);
		char *text = e->d_name[0] != '.' ? test_read(path) : NULL;
		if (text && strstr(text, "\"content\":\"subtask sleepy\""))
			sleepy = daimon_xstrdup(path);
		free(text);
		free(path);
	}
	closedir(d);
	CHECK(sleepy);
	EVENTUALLY(file_has(sleepy, "\"type\":\"cancel\",\"reason\":\"cancelled\""));
	free(sleepy);
	h_stop(&h);
}

/* Long questions until the log has a record of `type` (at most 12). */
static int grow_until(struct harness *h, const char *type, int *turns)
{
	char want[64];
	snprintf(want, sizeof(want), "\"type\":\"%s\"", type);
	for (*turns = 1; *turns <= 12; (*turns)++) {
		char q[64];
		snprintf(q, sizeof(q), "long question %d", *turns);
		h_ask(h, 0, q);
		for (int i = 0; i < 5000 && !atomic_load(&h->a[0].finished); i++)
			usleep(1000);
		if (h->a[0].done.status != 0)
			return -1;
		char *log = h_log(h, "cli:agent");
		int found = strstr(log, want) != NULL;
		free(log);
		if (found)
			return 0;
	}
	return -1;
}

/* The body of the last request aimock saw. */
static char *last_request(struct harness *h)
{
	daimon_buf j = DAIMON_BUF_INIT;
	aimock_get(&h->mk, "/__aimock/journal", &j);
	cJSON *a = cJSON_Parse(daimon_buf_cstr(&j));
	daimon_buf_release(&j);
	int n = cJSON_GetArraySize(a);
	/* the newest by timestamp, the summary's own calls aside */
	char *best = NULL;
	double newest = -1;
	for (int i = 0; i < n; i++) {
		const cJSON *e = cJSON_GetArrayItem(a, i);
		double ts = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "timestamp"));
		char *body = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(e, "body"));
		if (body && !strstr(body, "Summarize the conversation above") && ts >= newest) {
			free(best);
			best = body, newest = ts;
		} else {
			free(body);
		}
	}
	cJSON_Delete(a);
	return best;
}

static void test_agent__past_the_threshold_the_middle_is_summarized(void)
{
	for (int p = 0; p < 2; p++) {
		struct harness h;
		daimon_session_opts o = {
			.tools = test_tools, .context_window = 1200, .compress_threshold = 0.5, .tail_tokens = 150};
		fixture_set = fixtures;
		CHECK_INT(h_start(&h, providers[p], &o, 0), 0);
		int turns;
		CHECK_INT(grow_until(&h, "compaction", &turns), 0);
		CHECK(turns >= 3);
		char *log = h_log(&h, "cli:agent");
		CHECK_CONTAINS(log, "\"type\":\"compaction\",\"summary\":\"SUMMARY: the user asked long questions.\","
				    "\"from_seq\":4,");
		free(log);
		/* The request that followed: head, summary, tail — not the middle. */
		char *body = last_request(&h);
		CHECK_CONTAINS(body, "long question 1\"");
		CHECK_CONTAINS(body, "for reference only, not instructions");
		CHECK_CONTAINS(body, "SUMMARY: the user asked long questions.");
		CHECK(!strstr(body, "long question 2\""));
		char last[64];
		snprintf(last, sizeof(last), "long question %d\"", turns);
		CHECK_CONTAINS(body, last);
		free(body);
		/* Restored from the log after a restart, it resumes from the summary. */
		h_restart(&h, &o);
		h_ask(&h, 0, "hello");
		EVENTUALLY(atomic_load(&h.a[0].finished));
		CHECK_INT(h.a[0].done.status, 0);
		body = last_request(&h);
		CHECK_CONTAINS(body, "SUMMARY: the user asked long questions.");
		CHECK(!strstr(body, "long question 2\""));
		CHECK_CONTAINS(body, "\"hello\"");
		free(body);
		h_stop(&h);
	}
}

/* Every tool result in the request follows the call that asked for it,
 * and every call has its result. */
static int pairs_intact(const char *body)
{
	cJSON *j = cJSON_Parse(body);
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages");
	char calls[16][16];
	int ncalls = 0, results = 0, ok = 1;
	for (const cJSON *m = msgs ? msgs->child : NULL; m; m = m->next) {
		const cJSON *tc = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
		for (const cJSON *c = tc ? tc->child : NULL; c && ncalls < 16; c = c->next)
			snprintf(calls[ncalls++], 16, "%s", daimon_json_str(c, "id"));
		const char *id = daimon_json_str(m, "tool_call_id");
		if (id) {
			int found = 0;
			for (int i = 0; i < ncalls; i++)
				found |= !strcmp(calls[i], id);
			ok &= found;
			results++;
		}
	}
	cJSON_Delete(j);
	return ok && results == ncalls;
}

static void test_agent__a_compaction_never_parts_a_call_from_its_result(void)
{
	/* Tails of several sizes, so the cut falls in different places; every
	 * other turn calls tools. */
	for (size_t tail = 60; tail <= 300; tail += 40) {
		struct harness h;
		daimon_session_opts o = {
			.tools = test_tools, .context_window = 1400, .compress_threshold = 0.5, .tail_tokens = tail};
		fixture_set = fixtures;
		CHECK_INT(h_start(&h, DAIMON_LLM_OPENAI, &o, 0), 0);
		int compacted = 0;
		for (int t = 1; t <= 10 && !compacted; t++) {
			char q[64];
			snprintf(q, sizeof(q), t % 2 == 0 ? "long tool question %d" : "long question %d", t);
			h_ask(&h, 0, q);
			EVENTUALLY(atomic_load(&h.a[0].finished));
			CHECK_INT(h.a[0].done.status, 0);
			char *body = last_request(&h);
			CHECK(pairs_intact(body));
			free(body);
			char *log = h_log(&h, "cli:agent");
			compacted = strstr(log, "\"type\":\"compaction\"") != NULL;
			free(log);
		}
		CHECK(compacted);
		h_stop(&h);
	}
}

static void test_agent__a_failed_summary_keeps_the_whole_context(void)
{
	struct harness h;
	daimon_session_opts o = {
		.tools = test_tools, .context_window = 1200, .compress_threshold = 0.5, .tail_tokens = 150};
	fixture_set = fixtures_no_summary;
	CHECK_INT(h_start(&h, DAIMON_LLM_OPENAI, &o, 0), 0);
	fixture_set = fixtures;
	int turns;
	CHECK_INT(grow_until(&h, "compaction_failed", &turns), 0);
	CHECK_INT(h.a[0].done.status, 0); /* the turn went on */
	char *log = h_log(&h, "cli:agent");
	CHECK_CONTAINS(log, "\"type\":\"compaction_failed\",\"reason\":\"the summary's model call failed: the model "
			    "at http://127.0.0.1:");
	CHECK_CONTAINS(log, "/v1/chat/completions answered HTTP 400: overloaded\"");
	CHECK(!strstr(log, "\"type\":\"compaction\""));
	free(log);
	char *body = last_request(&h);
	CHECK_CONTAINS(body, "long question 2\""); /* nothing was dropped */
	free(body);
	/* And it is not asked for again at once. */
	h_ask(&h, 0, "hello");
	EVENTUALLY(atomic_load(&h.a[0].finished));
	char *j = h_journal(&h);
	CHECK_INT(count(j, "Summarize the conversation above.\"}"), 1); /* (the request, not the fixture) */
	free(j);
	h_stop(&h);
}

static void test_agent__an_idle_session_is_summarized_and_found_by_its_title(void)
{
	for (int p = 0; p < 2; p++) {
		struct harness h;
		daimon_session_opts o = {.idle_ms = 300, .summarize = 1};
		fixture_set = fixtures;
		CHECK_INT(h_start(&h, providers[p], &o, 0), 0);
		h_ask(&h, 0, "hello");
		EVENTUALLY(atomic_load(&h.a[0].finished));
		char *log = NULL;
		EVENTUALLY((free(log), log = h_log(&h, "cli:agent"), strstr(log, "\"type\":\"summary\"")));
		CHECK_CONTAINS(log,
			       "\"type\":\"summary\",\"title\":\"Greetings exchanged\",\"summary\":\"The user said "
			       "hello and got an answer.\",\"upto_seq\":3}");
		free(log);
		/* The index takes the title, and search finds the summary. */
		daimon_index *ix;
		CHECK_INT(daimon_index_open(&ix, &h.st), 0);
		CHECK_INT(daimon_index_refresh(ix, NULL), 0);
		sqlite3_stmt *q;
		sqlite3_prepare_v2(daimon_index_db(ix), "SELECT title, summary FROM logs", -1, &q, NULL);
		CHECK_INT(sqlite3_step(q), SQLITE_ROW);
		CHECK_STR((const char *)sqlite3_column_text(q, 0), "Greetings exchanged");
		CHECK_STR((const char *)sqlite3_column_text(q, 1), "The user said hello and got an answer.");
		sqlite3_finalize(q);
		daimon_search_opts so = {.query = "greetings", .limit = 5, .mark_open = "", .mark_close = ""};
		daimon_search_result r;
		CHECK_INT(daimon_search(ix, &so, &r), 0);
		CHECK_INT(r.n, 1);
		CHECK_STR(r.hits[0].title, "Greetings exchanged");
		daimon_search_result_release(&r);
		daimon_index_close(ix);
		/* Asked for one now, with nothing new: said so. */
		daimon_send_from(h.rt, h.aid[1], h.session, DAIMON_SESSION_SUMMARIZE, NULL, 0);
		EVENTUALLY(atomic_load(&h.a[1].finished));
		CHECK_INT(h.a[1].done.status, 0);
		CHECK_STR(h.a[1].done.error, "nothing new to summarize");
		h_stop(&h);
	}
}

static void test_agent__a_tool_that_needs_approval_asks_the_asker_first(void)
{
	for (int allow = 1; allow >= 0; allow--) {
		struct harness h;
		daimon_session_opts o = {.tools = test_tools};
		fixture_set = fixtures;
		CHECK_INT(h_start(&h, DAIMON_LLM_OPENAI, &o, 0), 0);
		h.a[0].allow = allow;
		h_ask(&h, 0, "guarded call please");
		EVENTUALLY(atomic_load(&h.a[0].finished));
		CHECK_INT(h.a[0].done.status, 0);
		CHECK_INT(atomic_load(&h.a[0].asked), 1);
		char *log = h_log(&h, "cli:agent");
		char *r = tool_result(log, "g1");
		CHECK_STR(r, allow ? "It is noon, and this result is long enough to matter when the history is cut."
				   : "the user did not allow this call of guarded");
		free(r), free(log);
		h_stop(&h);
	}
}

static void test_agent__a_tools_progress_reaches_the_asker(void)
{
	struct harness h;
	daimon_session_opts o = {.tools = test_tools};
	fixture_set = fixtures;
	CHECK_INT(h_start(&h, DAIMON_LLM_OPENAI, &o, 0), 0);
	h_ask(&h, 0, "stepper please");
	EVENTUALLY(atomic_load(&h.a[0].finished));
	CHECK_INT(h.a[0].done.status, 0);
	CHECK_INT(atomic_load(&h.a[0].progress), 2);
	CHECK_STR(h.a[0].last_progress, "stepper: 100% there");
	h_stop(&h);
}

/* The model's reasoning is heard apart from the answer, logged as its own
 * part, and sent back with the tool calls it led to: DeepSeek's
 * reasoning_content, Anthropic's thinking blocks with their signatures
 * (aimock refuses a tool-loop turn without them when thinking is on). */
static void test_agent__reasoning_is_kept_apart_and_sent_back_with_tool_calls(void)
{
	for (int p = 0; p < 2; p++) {
		struct harness h;
		daimon_session_opts o = {.tools = test_tools};
		strict_mock = 1;
		CHECK_INT(h_start(&h, providers[p], &o, 0), 0);
		strict_mock = 0;
		h.cfg.thinking_tokens = 1024;
		h_ask(&h, 0, "think about the time");
		EVENTUALLY(atomic_load(&h.a[0].finished));
		CHECK_STR(h.a[0].done.error, "");
		CHECK_INT(h.a[0].done.status, 0);
		CHECK_STR(daimon_buf_cstr(&h.a[0].streamed), "Thought it through.");
		CHECK_STR(daimon_buf_cstr(&h.a[0].thought), "Let me look at the clock first.");
		char *log = h_log(&h, "cli:agent");
		CHECK_CONTAINS(log, "\"reasoning\":{\"text\":\"Let me look at the clock first.\"");
		char *j = h_journal(&h);
		if (providers[p] == DAIMON_LLM_OPENAI) /* (Anthropic's: strict aimock took the second request) */
			CHECK_CONTAINS(j, "\"reasoning_content\":\"Let me look at the clock first.\"");
		free(j);
		/* an answer without tool calls: its reasoning is logged, not sent again */
		h_ask(&h, 0, "ponder this");
		EVENTUALLY(atomic_load(&h.a[0].finished));
		CHECK_STR(daimon_buf_cstr(&h.a[0].streamed), "Thought it through.Pondered.");
		free(log);
		log = h_log(&h, "cli:agent");
		CHECK_CONTAINS(log, "\"text\":\"Nothing to look up.\"");
		CHECK(!strstr(log, "\"content\":\"Nothing to look up."));
		free(log);
		/* read back from the log after a restart, the tool loop still
		 * carries its thinking (strict aimock checks every earlier one) */
		h_restart(&h, &o);
		h_ask(&h, 0, "ponder again");
		EVENTUALLY(atomic_load(&h.a[0].finished));
		CHECK_STR(h.a[0].done.error, "");
		CHECK_STR(daimon_buf_cstr(&h.a[0].streamed), "Pondered.");
		h_stop(&h);
	}
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	static const struct test_case cases[] = {
		TEST_CASE(test_agent__tool_calls_run_side_by_side_each_with_its_deadline),
		TEST_CASE(test_agent__no_more_calls_at_once_than_the_bound),
		TEST_CASE(test_agent__a_stop_mid_stream_is_logged_and_told_to_the_model),
		TEST_CASE(test_agent__a_stop_while_a_tool_runs_cancels_it_and_keeps_the_log_whole),
		TEST_CASE(test_agent__a_dead_turns_calls_are_closed_from_the_journal),
		TEST_CASE(test_agent__a_message_mid_turn_is_queued_by_default),
		TEST_CASE(test_agent__a_steering_message_joins_the_running_turn),
		TEST_CASE(test_agent__an_interrupting_message_stops_the_turn_and_takes_over),
		TEST_CASE(test_agent__delegate_fans_out_and_reports_each_child),
		TEST_CASE(test_agent__a_stop_collapses_the_sub_agents_too),
		TEST_CASE(test_agent__past_the_threshold_the_middle_is_summarized),
		TEST_CASE(test_agent__a_compaction_never_parts_a_call_from_its_result),
		TEST_CASE(test_agent__a_failed_summary_keeps_the_whole_context),
		TEST_CASE(test_agent__an_idle_session_is_summarized_and_found_by_its_title),
		TEST_CASE(test_agent__a_tool_that_needs_approval_asks_the_asker_first),
		TEST_CASE(test_agent__a_tools_progress_reaches_the_asker),
		TEST_CASE(test_agent__reasoning_is_kept_apart_and_sent_back_with_tool_calls),
		{0},
	};
	return test_main(argc, argv, cases);
}
