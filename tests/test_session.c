/*
 * test_session.c — the session actor against the real mock (aimock):
 * an answer streamed and logged, the history intact across a restart
 * (a new runtime reading the log, as after a crash), a stream cut
 * mid-answer reported and not logged as an answer, an HTTP error named.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/actor.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "core/http.h"
#include "core/llm.h"
#include "core/timefmt.h"
#include "memory/log.h"
#include "sessions/session.h"
#include "tests/aimock.h"
#include "tests/test.h"

static const char fixtures[] =
	"{\"fixtures\":["
	"{\"match\":{\"userMessage\":\"time\",\"hasToolResult\":true},\"response\":{\"content\":\"Done with tools.\"}},"
	"{\"match\":{\"userMessage\":\"time\"},\"response\":{\"toolCalls\":["
	"{\"id\":\"c1\",\"name\":\"current_time\",\"arguments\":\"{}\"},"
	"{\"id\":\"c2\",\"name\":\"session_search\",\"arguments\":\"{\\\"query\\\":\\\"hello\\\",\\\"limit\\\":"
	"\\\"ten\\\"}\"},"
	"{\"id\":\"c3\",\"name\":\"session_search\",\"arguments\":\"{\\\"query\\\":\\\"hello\\\"}\"},"
	"{\"id\":\"c4\",\"name\":\"launch_rockets\",\"arguments\":\"{}\"}]}},"
	"{\"match\":{\"userMessage\":\"cut\"},\"truncateAfterChunks\":3,\"response\":{\"content\":\"This answer will "
	"never "
	"be finished because the connection drops\"}},"
	"{\"match\":{\"userMessage\":\"snip\"},\"truncateAfterChunks\":6,\"response\":{\"content\":\"This answer "
	"will never be finished either, because the connection drops\"}},"
	"{\"match\":{\"userMessage\":\"limit\"},\"response\":{\"error\":{\"message\":\"bad model name\",\"type\":"
	"\"invalid_request_error\"},\"status\":400}},"
	"{\"match\":{\"userMessage\":\"flaky\",\"sequenceIndex\":0},\"response\":{\"error\":{\"message\":\"slow "
	"down\",\"type\":\"rate_limit_error\"},\"status\":429}},"
	"{\"match\":{\"userMessage\":\"flaky\"},\"response\":{\"content\":\"Worth the wait.\"}},"
	"{\"match\":{\"userMessage\":\"sleepy\",\"sequenceIndex\":0},\"streamingProfile\":{\"ttft\":5000},\"response\":"
	"{\"content\":\"Too late.\"}},"
	"{\"match\":{\"userMessage\":\"sleepy\"},\"response\":{\"content\":\"Awake now.\"}},"
	"{\"match\":{\"userMessage\":\"again\"},\"response\":{\"content\":\"Still here.\"}},"
	"{\"match\":{\"userMessage\":\"hello\"},\"response\":{\"content\":\"Hello there!\"}}]}";

struct asker {
	daimon_buf streamed;
	daimon_session_done done;
	_Atomic int finished;
};

static int asker_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	(void)ctx;
	struct asker *a = state;
	if (m->type == DAIMON_SESSION_DELTA)
		daimon_buf_add(&a->streamed, m->data, m->len);
	else if (m->type == DAIMON_SESSION_DONE) {
		memcpy(&a->done, m->data, sizeof(a->done));
		atomic_store(&a->finished, 1);
	}
	return DAIMON_CONTINUE;
}

static const daimon_behaviour asker_b = {.name = "asker", .handle = asker_handle};

/* One turn in a fresh runtime (as one `daimon ask` process would). */
static void turn_with(daimon_store *st, const daimon_llm_config *cfg, const char *data, size_t len, struct asker *a)
{
	memset(a, 0, sizeof(*a));
	daimon_rt *rt;
	daimon_rt_new(&rt, NULL);
	daimon_aid http = daimon_http_start(rt, 0);
	daimon_aid s = daimon_session_start(rt, st, "cli:test", http, cfg, NULL);
	daimon_spawn_opts o = {.behaviour = &asker_b, .state = a};
	daimon_aid me = daimon_spawn(rt, &o);
	daimon_send_from(rt, me, s, DAIMON_SESSION_ASK, data, len);
	for (int i = 0; i < 5000 && !atomic_load(&a->finished); i++)
		usleep(1000);
	daimon_rt_free(rt);
}

static void turn(daimon_store *st, const daimon_llm_config *cfg, const char *text, struct asker *a)
{
	turn_with(st, cfg, text, strlen(text), a);
}

static char *log_text(daimon_store *st)
{
	char id[DAIMON_ID_MAX + 1];
	daimon_session_id_for_key(id, "cli:test");
	char *path = daimon_store_log_path(st, id);
	char *text = test_read(path);
	free(path);
	return text;
}

static void test_session__answers_and_keeps_history_across_restarts(void)
{
	struct aimock mk;
	CHECK_INT(aimock_start(&mk, fixtures, 4, 0), 0);
	daimon_store st;
	daimon_store_open(&st, test_tmpdir());
	daimon_llm_config cfg = {.provider = DAIMON_LLM_OPENAI,
				 .base_url = mk.url,
				 .api_key = "sk-test",
				 .model = "m",
				 .max_tokens = 256};
	struct asker a;
	turn(&st, &cfg, "hello", &a);
	CHECK(atomic_load(&a.finished));
	CHECK_INT(a.done.status, 0);
	CHECK_STR(daimon_buf_cstr(&a.streamed), "Hello there!");
	daimon_buf_release(&a.streamed);
	/* A new runtime: the session starts again from its log. */
	cfg.provider = DAIMON_LLM_ANTHROPIC;
	turn(&st, &cfg, "and again", &a);
	CHECK_INT(a.done.status, 0);
	CHECK_STR(daimon_buf_cstr(&a.streamed), "Still here.");
	daimon_buf_release(&a.streamed);
	char *log = log_text(&st);
	CHECK_CONTAINS(log, "\"role\":\"user\",\"content\":\"hello\"");
	CHECK_CONTAINS(log, "\"role\":\"assistant\",\"content\":\"Hello there!\"");
	CHECK_CONTAINS(log, "\"role\":\"assistant\",\"content\":\"Still here.\"");
	free(log);
	/* The second request carried the first exchange. */
	daimon_buf j = DAIMON_BUF_INIT;
	CHECK_INT(aimock_get(&mk, "/__aimock/journal?limit=10", &j), 200);
	CHECK_CONTAINS(j.ptr, "\"path\":\"/v1/messages\"");
	CHECK_CONTAINS(j.ptr, "[{\"role\":\"user\",\"content\":\"hello\"},{\"role\":\"assistant\",\"content\":\"Hello "
			      "there!\"},{\"role\":\"user\",\"content\":\"and again\"}]");
	daimon_buf_release(&j);
	daimon_store_release(&st);
	aimock_stop(&mk);
}

static void test_session__a_cut_stream_and_an_http_error_are_reported_not_logged(void)
{
	struct aimock mk;
	CHECK_INT(aimock_start(&mk, fixtures, 4, 5), 0); /* truncation needs latency */
	static const int providers[] = {DAIMON_LLM_OPENAI, DAIMON_LLM_ANTHROPIC};
	for (int p = 0; p < 2; p++) {
		daimon_store st;
		daimon_store_open(&st, test_tmpdir());
		daimon_llm_config cfg = {
			.provider = providers[p], .base_url = mk.url, .api_key = NULL, .model = "m", .max_tokens = 256};
		struct asker a;
		/* (Anthropic's stream opens with two events before any text) */
		const char *q = p ? "snip" : "cut";
		turn(&st, &cfg, q, &a);
		CHECK(atomic_load(&a.finished));
		CHECK(a.done.status < 0);
		CHECK(a.done.error[0]);
		CHECK(a.streamed.len > 0); /* part of it had streamed ... */
		daimon_buf_release(&a.streamed);
		turn(&st, &cfg, "limit", &a);
		CHECK(a.done.status < 0);
		CHECK_CONTAINS(a.done.error, "HTTP 400");
		CHECK_CONTAINS(a.done.error, p ? "/v1/messages answered" : "/v1/chat/completions answered");
		CHECK_CONTAINS(a.done.error, "bad model name");
		daimon_buf_release(&a.streamed);
		char *log = log_text(&st);
		CHECK_CONTAINS(log, p ? "\"content\":\"snip\"" : "\"content\":\"cut\""); /* the question is kept ... */
		CHECK(!strstr(log, "\"role\":\"assistant\""));                           /* ... no partial answer is */
		CHECK_CONTAINS(log, "\"type\":\"failure\",\"error\":\"the model at ");   /* ... the failure is */
		free(log);
		/* the next request is well-formed: each question has its (missing) answer */
		turn(&st, &cfg, "hello", &a);
		CHECK_INT(a.done.status, 0);
		daimon_buf_release(&a.streamed);
		daimon_buf j = DAIMON_BUF_INIT;
		CHECK_INT(aimock_get(&mk, "/__aimock/journal?limit=50", &j), 200);
		CHECK_CONTAINS(
			j.ptr,
			"{\"role\":\"user\",\"content\":\"limit\"},{\"role\":\"assistant\",\"content\":\"[no answer: ");
		CHECK(!strstr(j.ptr, "\"content\":\"limit\"},{\"role\":\"user\""));
		daimon_buf_release(&j);
		daimon_store_release(&st);
	}
	aimock_stop(&mk);
}

static void test_session__tool_calls_run_validated_and_loop_back_to_the_model(void)
{
	struct aimock mk;
	CHECK_INT(aimock_start(&mk, fixtures, 7, 0), 0);
	daimon_store st;
	daimon_store_open(&st, test_tmpdir());
	daimon_llm_config cfg = {
		.provider = DAIMON_LLM_OPENAI, .base_url = mk.url, .api_key = NULL, .model = "m", .max_tokens = 256};
	struct asker a;
	turn(&st, &cfg, "hello", &a); /* something for session_search to find */
	daimon_buf_release(&a.streamed);
	turn(&st, &cfg, "what time is it", &a);
	CHECK_INT(a.done.status, 0);
	CHECK_STR(daimon_buf_cstr(&a.streamed), "Done with tools.");
	daimon_buf_release(&a.streamed);
	char *log = log_text(&st);
	/* Four calls in one answer, each with its own result. */
	CHECK_CONTAINS(log, "\"tool_calls\":[{\"id\":\"c1\",\"name\":\"current_time\"");
	CHECK_CONTAINS(log, "\"call_id\":\"c1\",\"name\":\"current_time\",\"content\":\"20");
	CHECK_CONTAINS(log, "\"call_id\":\"c2\",\"name\":\"session_search\",\"content\":\"invalid call of "
			    "session_search: arguments.limit must be an integer\",\"is_error\":true");
	CHECK_CONTAINS(log, "\"call_id\":\"c3\",\"name\":\"session_search\",\"content\":\"[cli-");
	CHECK_CONTAINS(log, "\"call_id\":\"c4\",\"name\":\"launch_rockets\",\"content\":\"there is no tool "
			    "'launch_rockets'\",\"is_error\":true");
	CHECK_CONTAINS(log, "\"role\":\"assistant\",\"content\":\"Done with tools.\"");
	free(log);
	/* The model was offered the tools and got the results back. */
	daimon_buf j = DAIMON_BUF_INIT;
	CHECK_INT(aimock_get(&mk, "/__aimock/journal?limit=10", &j), 200);
	CHECK_CONTAINS(j.ptr, "\"name\":\"session_search\"");
	CHECK_CONTAINS(j.ptr, "\"tool_call_id\":\"c4\"");
	daimon_buf_release(&j);
	daimon_store_release(&st);
	aimock_stop(&mk);
}

static void test_session__a_429_is_retried_after_retry_after(void)
{
	struct aimock mk;
	CHECK_INT(aimock_start(&mk, fixtures, 7, 0), 0);
	daimon_store st;
	daimon_store_open(&st, test_tmpdir());
	for (int p = 0; p < 2; p++) {
		daimon_llm_config cfg = {.provider = p ? DAIMON_LLM_ANTHROPIC : DAIMON_LLM_OPENAI,
					 .base_url = mk.url,
					 .api_key = NULL,
					 .model = "m",
					 .max_tokens = 256};
		struct asker a;
		uint64_t t0 = daimon_mono_ns();
		turn(&st, &cfg, p ? "flaky again" : "flaky", &a);
		CHECK_INT(a.done.status, 0);
		CHECK_STR(daimon_buf_cstr(&a.streamed), "Worth the wait.");
		daimon_buf_release(&a.streamed);
		if (!p) /* aimock's Retry-After is 1 s; the retry honoured it */
			CHECK(daimon_mono_ns() - t0 >= 900000000ull);
		if (p) /* the fixture was used up by the first provider: no second 429 */
			CHECK(daimon_mono_ns() - t0 < 900000000ull);
	}
	daimon_buf j = DAIMON_BUF_INIT;
	CHECK_INT(aimock_get(&mk, "/__aimock/journal?limit=10", &j), 200);
	CHECK_CONTAINS(j.ptr, "\"status\":429");
	daimon_buf_release(&j);
	daimon_store_release(&st);
	aimock_stop(&mk);
}

static void test_session__no_first_token_in_time_is_abandoned_and_retried(void)
{
	struct aimock mk;
	CHECK_INT(aimock_start(&mk, fixtures, 7, 0), 0);
	daimon_store st;
	daimon_store_open(&st, test_tmpdir());
	daimon_llm_config cfg = {
		.provider = DAIMON_LLM_OPENAI, .base_url = mk.url, .model = "m", .first_token_ms = 300};
	struct asker a;
	uint64_t t0 = daimon_mono_ns();
	turn(&st, &cfg, "sleepy", &a);
	CHECK_INT(a.done.status, 0);
	CHECK_STR(daimon_buf_cstr(&a.streamed), "Awake now."); /* the second call's answer only */
	CHECK(daimon_mono_ns() - t0 < 3000000000ull);          /* not the 5 s first token */
	daimon_buf_release(&a.streamed);
	daimon_store_release(&st);
	aimock_stop(&mk);
}

static void test_session__an_idle_session_hibernates_and_wakes_with_its_history(void)
{
	struct aimock mk;
	CHECK_INT(aimock_start(&mk, fixtures, 7, 0), 0);
	daimon_store st;
	daimon_store_open(&st, test_tmpdir());
	daimon_llm_config cfg = {.provider = DAIMON_LLM_OPENAI, .base_url = mk.url, .model = "m"};
	daimon_session_opts so = {.idle_ms = 100};
	daimon_rt *rt;
	daimon_rt_new(&rt, NULL);
	daimon_aid http = daimon_http_start(rt, 0);
	daimon_aid s = daimon_session_start(rt, &st, "cli:sleepy", http, &cfg, &so);
	struct asker a = {0};
	daimon_spawn_opts o = {.behaviour = &asker_b, .state = &a};
	daimon_aid me = daimon_spawn(rt, &o);
	daimon_send_from(rt, me, s, DAIMON_SESSION_ASK, "hello", 5);
	EVENTUALLY(atomic_load(&a.finished));
	/* Idle: it lets go of its log (another writer may open it) and history. */
	char id[DAIMON_ID_MAX + 1];
	daimon_session_id_for_key(id, "cli:sleepy");
	char *path = daimon_store_log_path(&st, id);
	daimon_log *other = NULL;
	int opened = -1;
	for (int i = 0; i < 2000 && opened != 0; i++) {
		opened = daimon_log_open(&other, path, 0, NULL);
		if (opened != 0)
			usleep(1000);
	}
	CHECK_INT(opened, 0);
	daimon_log_close(other);
	/* (it says so once it is done letting go: just after the log) */
	daimon_actor_info *v;
	size_t n = 0;
	int hibernated = 0;
	for (int k = 0; k < 5000 && !hibernated; k++) {
		n = daimon_rt_snapshot(rt, &v);
		for (size_t i = 0; i < n; i++)
			hibernated |= v[i].id == s && !strcmp(v[i].state, "hibernated");
		free(v);
		if (!hibernated)
			usleep(1000);
	}
	CHECK(hibernated);
	/* The next message wakes it, history and all. */
	atomic_store(&a.finished, 0);
	daimon_buf_clear(&a.streamed);
	daimon_send_from(rt, me, s, DAIMON_SESSION_ASK, "and again", 9);
	EVENTUALLY(atomic_load(&a.finished));
	CHECK_INT(a.done.status, 0);
	CHECK_STR(daimon_buf_cstr(&a.streamed), "Still here.");
	daimon_buf j = DAIMON_BUF_INIT;
	CHECK_INT(aimock_get(&mk, "/__aimock/journal?limit=10", &j), 200);
	CHECK_CONTAINS(j.ptr, "[{\"role\":\"user\",\"content\":\"hello\"},{\"role\":\"assistant\",\"content\":\"Hello "
			      "there!\"},{\"role\":\"user\",\"content\":\"and again\"}]");
	daimon_buf_release(&j);
	/* Asleep again it keeps only its settings and name (thousands of
	 * sessions fit in a few megabytes); cancelled so, it just goes. */
	size_t mem = 0;
	for (int i = 0; i < 5000 && !(mem > 0 && mem < 600); i++) {
		n = daimon_rt_snapshot(rt, &v);
		for (size_t k = 0; k < n; k++)
			if (v[k].id == s && !strcmp(v[k].state, "hibernated"))
				mem = v[k].mem;
		free(v);
		usleep(1000);
	}
	if (!(mem > 0 && mem < 600))
		fprintf(stderr, "hibernated session holds %zu bytes\n", mem);
	CHECK(mem > 0 && mem < 600);
	daimon_cancel(rt, s, 1000);
	EVENTUALLY(!daimon_alive(rt, s));
	daimon_buf_release(&a.streamed);
	free(path);
	daimon_rt_free(rt);
	daimon_store_release(&st);
	aimock_stop(&mk);
}

/* ---- a misbehaving server (aimock cannot misbehave this way): shaped
 * like OpenAI's streaming API, it answers by what the question asks ---- */

struct rogue {
	int fd;
	_Atomic int stop;
	pthread_t thread;
	char url[64];
};

static int send_all(int c, const char *s, size_t n)
{
	while (n) {
		ssize_t k = send(c, s, n, MSG_NOSIGNAL);
		if (k <= 0)
			return -1;
		s += k, n -= (size_t)k;
	}
	return 0;
}

/* The head of the last request the rogue took (its line and headers). */
static pthread_mutex_t rogue_mu = PTHREAD_MUTEX_INITIALIZER;
static char rogue_head[4096];

static void *rogue_conn(void *arg)
{
	int c = (int)(intptr_t)arg;
	char req[65536];
	ssize_t n = recv(c, req, sizeof(req) - 1, 0);
	req[n > 0 ? n : 0] = 0;
	pthread_mutex_lock(&rogue_mu);
	snprintf(rogue_head, sizeof(rogue_head), "%.*s", (int)strcspn(req, "{"), req);
	pthread_mutex_unlock(&rogue_mu);
	static const char sse[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
	static const char chunk[] = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"}}]}\n\n";
	char line[256];
	/* (the request carries the history: the newest question decides) */
	static const char *const asks[] = {"wait a day", "ping forever", "never stop", "one long line",
					   "latin-1",    "hello",        NULL};
	const char *newest = NULL, *at = NULL;
	for (int i = 0; asks[i]; i++)
		for (const char *p = req; (p = strstr(p, asks[i])); p++)
			if (p > at)
				at = p, newest = asks[i];
	if (!newest)
		newest = "";
	if (!strcmp(newest, "hello")) { /* (the primary that fails: a server error) */
		static const char r[] =
			"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
			"Content-Length: 34\r\nConnection: close\r\n\r\n{\"error\":{\"message\":\"overloaded\"}}";
		send_all(c, r, sizeof(r) - 1);
	} else if (!strcmp(newest, "wait a day")) { /* a Retry-After nobody should wait for */
		static const char r[] = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 100000\r\nContent-Type: "
					"application/json\r\nContent-Length: 39\r\nConnection: close\r\n\r\n"
					"{\"error\":{\"message\":\"come back later\"}}";
		send_all(c, r, sizeof(r) - 1);
	} else if (!strcmp(newest, "ping forever")) { /* a word, then keep-alive comments only */
		send_all(c, sse, sizeof(sse) - 1);
		snprintf(line, sizeof(line), chunk, "Hi");
		send_all(c, line, strlen(line));
		while (send_all(c, ": ping\n\n", 8) == 0)
			usleep(100000);
	} else if (!strcmp(newest, "never stop")) { /* words for ever */
		send_all(c, sse, sizeof(sse) - 1);
		snprintf(line, sizeof(line), chunk, "word ");
		while (send_all(c, line, strlen(line)) == 0)
			usleep(20000);
	} else if (!strcmp(newest, "one long line")) { /* a line with no end */
		send_all(c, sse, sizeof(sse) - 1);
		send_all(c, "data: {\"x\":\"", 12);
		char xs[4096];
		memset(xs, 'x', sizeof(xs));
		while (send_all(c, xs, sizeof(xs)) == 0)
			;
	} else { /* broken bytes in the answer (Latin-1 where UTF-8 belongs) */
		send_all(c, sse, sizeof(sse) - 1);
		snprintf(line, sizeof(line), chunk, "caf\xe9 ok");
		send_all(c, line, strlen(line));
		static const char end[] =
			"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
			"data: [DONE]\n\n";
		send_all(c, end, sizeof(end) - 1);
	}
	close(c);
	return NULL;
}

static void *rogue_serve(void *arg)
{
	struct rogue *r = arg;
	while (!atomic_load(&r->stop)) {
		struct pollfd p = {r->fd, POLLIN, 0};
		if (poll(&p, 1, 50) <= 0)
			continue;
		int c = accept(r->fd, NULL, NULL);
		if (c < 0)
			continue;
		pthread_t t;
		pthread_create(&t, NULL, rogue_conn, (void *)(intptr_t)c);
		pthread_detach(t);
	}
	return NULL;
}

static void rogue_start(struct rogue *r)
{
	memset(r, 0, sizeof(*r));
	r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	if (bind(r->fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(r->fd, 16) < 0 ||
	    getsockname(r->fd, (struct sockaddr *)&a, &len) < 0)
		abort();
	snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d/v1", ntohs(a.sin_port));
	pthread_create(&r->thread, NULL, rogue_serve, r);
}

static void rogue_stop(struct rogue *r)
{
	atomic_store(&r->stop, 1);
	pthread_join(r->thread, NULL);
	close(r->fd);
}

/* Every bound has a setting and a clear error, and what enters the log is
 * valid UTF-8. */
static void test_session__a_misbehaving_server_meets_every_bound(void)
{
	struct rogue r;
	rogue_start(&r);
	daimon_store st;
	daimon_store_open(&st, test_tmpdir());
	daimon_llm_config cfg = {.provider = DAIMON_LLM_OPENAI,
				 .base_url = r.url,
				 .model = "m",
				 .idle_ms = 500,
				 .max_stream_ms = 1500,
				 .max_answer_bytes = 16384,
				 .max_retry_after_ms = 5000};
	struct asker a;
	turn(&st, &cfg, "wait a day", &a);
	CHECK_STR(a.done.error,
		  "the model's server asked to wait 100000 s (Retry-After), more than model.max_retry_after_s (5 s)");
	daimon_buf_release(&a.streamed);
	int64_t t0 = daimon_mono_ms();
	turn(&st, &cfg, "ping forever", &a);
	CHECK_STR(a.done.error, "the model's answer brought nothing new for too long (model.idle_s); stopped");
	CHECK(daimon_mono_ms() - t0 < 3000);
	daimon_buf_release(&a.streamed);
	cfg.max_answer_bytes = 1 << 20;
	turn(&st, &cfg, "never stop", &a);
	CHECK_STR(a.done.error, "the model's answer took longer than model.max_stream_s (1 s); stopped");
	CHECK(a.streamed.len > 0);
	daimon_buf_release(&a.streamed);
	cfg.max_answer_bytes = 16384;
	turn(&st, &cfg, "one long line", &a);
	CHECK_STR(a.done.error, "the model's answer passed 16 KB (model.max_answer_kb); stopped");
	daimon_buf_release(&a.streamed);
	turn(&st, &cfg, "latin-1", &a);
	CHECK_INT(a.done.status, 0);
	CHECK_STR(daimon_buf_cstr(&a.streamed), "caf\xef\xbf\xbd ok");
	daimon_buf_release(&a.streamed);
	char *log = log_text(&st);
	CHECK(daimon_utf8_valid(log, strlen(log)));
	CHECK_CONTAINS(log, "caf\xef\xbf\xbd ok");
	free(log);
	daimon_store_release(&st);
	rogue_stop(&r);
}

/* A call that fails for good before anything streamed goes to the next
 * model of the fallbacks; the log says which model answered. */
static void test_session__a_failed_call_falls_back_to_the_next_model(void)
{
	struct aimock mk;
	CHECK_INT(aimock_start(&mk, fixtures, 4, 0), 0);
	struct rogue r;
	rogue_start(&r);
	daimon_llm_config fb = {.provider = DAIMON_LLM_OPENAI,
				.base_url = mk.url,
				.model = "fb",
				.provider_name = "ollama",
				.retries = -1};
	daimon_llm_config refused = {.provider = DAIMON_LLM_OPENAI,
				     .base_url = "http://127.0.0.1:1",
				     .model = "primary",
				     .provider_name = "openai",
				     .retries = -1,
				     .fallback = &fb};
	daimon_llm_config failing = refused;
	failing.base_url = r.url; /* a 500 */
	const daimon_llm_config *primaries[] = {&refused, &failing};
	for (int i = 0; i < 2; i++) {
		daimon_store st;
		daimon_store_open(&st, test_tmpdir());
		struct asker a;
		turn(&st, primaries[i], "hello", &a);
		CHECK_INT(a.done.status, 0);
		CHECK_STR(daimon_buf_cstr(&a.streamed), "Hello there!");
		daimon_buf_release(&a.streamed);
		char *log = log_text(&st);
		CHECK_CONTAINS(log, "\"usage\":{\"model\":\"fb\",\"provider\":\"ollama\"");
		CHECK(!strstr(log, "\"model\":\"primary\""));
		free(log);
		daimon_store_release(&st);
	}
	rogue_stop(&r);
	aimock_stop(&mk);
}

/* Base URLs whose version path is not /v1 (Gemini's OpenAI-compatible
 * endpoint, Z.ai's) are asked where their SDKs ask, with the key as a
 * bearer token: what the server received says so. */
static void test_session__other_version_paths_are_asked_where_they_are(void)
{
	struct rogue r;
	rogue_start(&r);
	static const char *const paths[] = {"/v1beta/openai", "/api/paas/v4"};
	for (int i = 0; i < 2; i++) {
		char base[128], line[160];
		snprintf(base, sizeof(base), "%.*s%s", (int)(strlen(r.url) - 3), r.url, paths[i]); /* (its host) */
		daimon_llm_config cfg = {
			.provider = DAIMON_LLM_OPENAI, .base_url = base, .api_key = "k-1", .model = "m", .retries = -1};
		daimon_store st;
		daimon_store_open(&st, test_tmpdir());
		struct asker a;
		turn(&st, &cfg, "latin-1 please", &a);
		CHECK_INT(a.done.status, 0);
		daimon_buf_release(&a.streamed);
		pthread_mutex_lock(&rogue_mu);
		snprintf(line, sizeof(line), "POST %s/chat/completions HTTP/1.1\r\n", paths[i]);
		CHECK_CONTAINS(rogue_head, line);
		CHECK_CONTAINS(rogue_head, "Authorization: Bearer k-1\r\n");
		pthread_mutex_unlock(&rogue_mu);
		daimon_store_release(&st);
	}
	rogue_stop(&r);
}

/* Summaries are written by model.summary_model when one is named. */
static void test_session__summaries_ask_the_summary_model(void)
{
	struct aimock mk;
	CHECK_INT(aimock_start(&mk, fixtures, 4, 0), 0);
	daimon_store st;
	daimon_store_open(&st, test_tmpdir());
	daimon_llm_config cheap = {.provider = DAIMON_LLM_OPENAI, .base_url = mk.url, .model = "cheap-one"};
	daimon_llm_config cfg = {
		.provider = DAIMON_LLM_OPENAI, .base_url = mk.url, .model = "the-big-one", .summarizer = &cheap};
	daimon_rt *rt;
	daimon_rt_new(&rt, NULL);
	daimon_aid http = daimon_http_start(rt, 0);
	daimon_session_opts so = {.summarize = 1};
	daimon_aid s = daimon_session_start(rt, &st, "cli:test", http, &cfg, &so);
	struct asker a = {0};
	daimon_spawn_opts o = {.behaviour = &asker_b, .state = &a};
	daimon_aid me = daimon_spawn(rt, &o);
	daimon_send_from(rt, me, s, DAIMON_SESSION_ASK, "hello", 5);
	EVENTUALLY(atomic_load(&a.finished));
	atomic_store(&a.finished, 0);
	daimon_send_from(rt, me, s, DAIMON_SESSION_SUMMARIZE, NULL, 0);
	EVENTUALLY(atomic_load(&a.finished));
	daimon_rt_free(rt);
	daimon_buf_release(&a.streamed);
	daimon_buf j = DAIMON_BUF_INIT;
	CHECK_INT(aimock_get(&mk, "/__aimock/journal?limit=10", &j), 200);
	CHECK_CONTAINS(j.ptr, "\"model\":\"the-big-one\""); /* the turn */
	CHECK_CONTAINS(j.ptr, "\"model\":\"cheap-one\"");   /* the summary */
	daimon_buf_release(&j);
	daimon_store_release(&st);
	aimock_stop(&mk);
}

static int count(const char *s, const char *what)
{
	int n = 0;
	for (; s && (s = strstr(s, what)); s++)
		n++;
	return n;
}

/* A turn's pictures ("text\0images\0"): kept in the log by their inbox
 * path (a path outside the inbox is dropped), the newest max_images read
 * and sent, the older named in their message; a model that takes none
 * is told of each instead. */
static void test_session__images_go_newest_first_and_only_from_the_inbox(void)
{
	struct aimock mk;
	CHECK_INT(aimock_start(&mk, fixtures, 4, 0), 0);
	daimon_store st;
	daimon_store_open(&st, test_tmpdir());
	char *dir = daimon_xasprintf("%s/inbox/d", st.home);
	CHECK_INT(daimon_mkdir_p(dir, 0700), 0);
	static const char *const names[] = {"a", "b"};
	for (int i = 0; i < 2; i++) {
		char *path = daimon_xasprintf("%s/%s.png", dir, names[i]),
		     *bytes = daimon_xasprintf("\x89PNG-%s", names[i]);
		CHECK_INT(daimon_write_file_atomic(path, bytes, strlen(bytes), 0600), 0);
		free(path);
		free(bytes);
	}
	free(dir);
	daimon_llm_config cfg = {.provider = DAIMON_LLM_OPENAI, .base_url = mk.url, .model = "m", .max_images = 1};
	static const char ask_a[] = "hello\0[{\"path\":\"inbox/d/a.png\",\"mime\":\"image/png\"},"
				    "{\"path\":\"inbox/../config.json\",\"mime\":\"image/png\"}]";
	static const char ask_b[] = "hello\0[{\"path\":\"inbox/d/b.png\",\"mime\":\"image/png\"}]";
	struct asker a;
	turn_with(&st, &cfg, ask_a, sizeof(ask_a), &a);
	CHECK_INT(a.done.status, 0);
	daimon_buf_release(&a.streamed);
	turn_with(&st, &cfg, ask_b, sizeof(ask_b), &a);
	CHECK_INT(a.done.status, 0);
	daimon_buf_release(&a.streamed);
	char *log = log_text(&st);
	CHECK_CONTAINS(log, "\"content\":\"hello\",\"images\":[{\"path\":\"inbox/d/a.png\",\"mime\":\"image/png\"}]}");
	CHECK(!strstr(log, "config.json"));
	free(log);
	daimon_buf j = DAIMON_BUF_INIT, b64 = DAIMON_BUF_INIT;
	CHECK_INT(aimock_get(&mk, "/__aimock/journal?limit=10", &j), 200);
	daimon_buf_add_base64(&b64, "\x89PNG-b", 6);
	CHECK_CONTAINS(j.ptr, daimon_buf_cstr(&b64)); /* the newest, sent */
	CHECK_CONTAINS(j.ptr, "hello\\n[image inbox/d/a.png: not sent again: only the newest go with a request "
			      "(model.max_images)]");
	CHECK_INT(count(j.ptr, "\"image_url\":{"), 2); /* a's in the first request, b's in the second */
	daimon_buf_release(&j);
	cfg.no_images = 1;
	turn(&st, &cfg, "again", &a);
	CHECK_INT(a.done.status, 0);
	daimon_buf_release(&a.streamed);
	CHECK_INT(aimock_get(&mk, "/__aimock/journal?limit=10", &j), 200);
	CHECK_INT(count(j.ptr, "\"image_url\":{"), 2); /* none more */
	CHECK_CONTAINS(j.ptr, "[image inbox/d/b.png: the model does not take images (model.images is false)]");
	daimon_buf_release(&j);
	daimon_buf_release(&b64);
	daimon_store_release(&st);
	aimock_stop(&mk);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	static const struct test_case cases[] = {
		TEST_CASE(test_session__answers_and_keeps_history_across_restarts),
		TEST_CASE(test_session__a_cut_stream_and_an_http_error_are_reported_not_logged),
		TEST_CASE(test_session__tool_calls_run_validated_and_loop_back_to_the_model),
		TEST_CASE(test_session__a_429_is_retried_after_retry_after),
		TEST_CASE(test_session__no_first_token_in_time_is_abandoned_and_retried),
		TEST_CASE(test_session__an_idle_session_hibernates_and_wakes_with_its_history),
		TEST_CASE(test_session__a_misbehaving_server_meets_every_bound),
		TEST_CASE(test_session__a_failed_call_falls_back_to_the_next_model),
		TEST_CASE(test_session__other_version_paths_are_asked_where_they_are),
		TEST_CASE(test_session__summaries_ask_the_summary_model),
		TEST_CASE(test_session__images_go_newest_first_and_only_from_the_inbox),
		{0},
	};
	return test_main(argc, argv, cases);
}
