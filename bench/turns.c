/*
 * turns.c — the C side of `bench/run turns`: daimon's own cost per turn
 * against aimock on loopback (bench/run starts the mock).
 *
 *   daimon_bench_turns URL CHUNKS LATENCY_MS ANSWER
 *
 * 1. overhead: 200 sequential turns in one session, each timed from the
 *    question to "done" (the answer streamed and durable), next to the
 *    same 200 requests — byte for byte the bodies the session sends, its
 *    history growing alike — made through the http actor alone. The
 *    difference is what daimon adds: prompt, SSE decoding, the log's
 *    writes and syncs, the messages between actors. Measured twice: with
 *    the sessions on the disk ($TMPDIR), and on tmpfs (/dev/shm), where a
 *    sync costs nothing — so the disk's fdatasync is seen apart from
 *    daimon's own work;
 * 2. load: 1,000 sessions x 10 turns at once: turns/s and peak RSS, next
 *    to what the mock serves 1,000 bare request loops (its own bound);
 * 3. the fixed prompt: tokens (bytes / 4) of the request for a one-line
 *    message with the default setup (SOUL.md, empty USER.md and
 *    MEMORY.md, the built-in tools), minus the message itself.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/actor.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/home.h"
#include "core/http.h"
#include "core/llm.h"
#include "core/timefmt.h"
#include "sessions/session.h"
#include "sessions/tools.h"

struct driver {
	daimon_aid session;
	int left;
	uint64_t started;
	double *lat; /* ms per turn, when measured */
	int nlat;
	_Atomic int *sessions_done;
	_Atomic long *failures;
};

static int driver_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct driver *d = state;
	if (m->type == DAIMON_SESSION_DONE) {
		const daimon_session_done *r = m->data;
		if (r->status < 0)
			atomic_fetch_add(d->failures, 1);
		if (d->lat)
			d->lat[d->nlat++] = (double)(daimon_mono_ns() - d->started) / 1e6;
		if (--d->left == 0) {
			atomic_fetch_add(d->sessions_done, 1);
			return DAIMON_EXIT_NORMAL;
		}
	} else if (m->type != 1) {
		return DAIMON_CONTINUE; /* deltas */
	}
	d->started = daimon_mono_ns();
	daimon_send(daimon_ctx_rt(ctx), d->session, DAIMON_SESSION_ASK, "hello", 5);
	return DAIMON_CONTINUE;
}

static const daimon_behaviour driver_b = {.name = "driver", .handle = driver_handle};

/* The overhead, measured in pairs so the mock's drift hits both alike:
 * the same streamed request through the http actor alone (the history
 * growing as the session's does, so the bytes are the same), then the
 * session's turn; per pair, the difference is what the session adds. */
struct pair {
	daimon_aid http, session;
	const daimon_llm_config *cfg;
	const char *system, *answer;
	cJSON *history;
	daimon_llm_request req;
	int i, n;
	uint64_t started;
	double *base, *diff;
	_Atomic int done;
};

static void pair_raw(daimon_ctx *ctx, struct pair *p)
{
	cJSON *q = cJSON_CreateObject();
	cJSON_AddStringToObject(q, "role", "user");
	cJSON_AddStringToObject(q, "content", "hello");
	cJSON_AddItemToArray(p->history, q);
	daimon_llm_request_release(&p->req);
	cJSON *tools = daimon_tools_json(daimon_builtin_tools, 0, NULL);
	daimon_llm_build(&p->req, p->cfg, p->system, p->history, tools);
	cJSON_Delete(tools);
	p->started = daimon_mono_ns();
	daimon_http_request(ctx, p->http, &p->req.http);
}

static int pair_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct pair *p = state;
	if (m->type == DAIMON_MSG_HTTP_DONE) {
		p->base[p->i] = (double)(daimon_mono_ns() - p->started) / 1e6;
		cJSON *a = cJSON_CreateObject();
		cJSON_AddStringToObject(a, "role", "assistant");
		cJSON_AddStringToObject(a, "content", p->answer);
		cJSON_AddItemToArray(p->history, a);
		p->started = daimon_mono_ns();
		daimon_send(daimon_ctx_rt(ctx), p->session, DAIMON_SESSION_ASK, "hello", 5);
	} else if (m->type == DAIMON_SESSION_DONE) {
		p->diff[p->i] = (double)(daimon_mono_ns() - p->started) / 1e6 - p->base[p->i];
		if (++p->i == p->n) {
			atomic_store(&p->done, 1);
			return DAIMON_EXIT_NORMAL;
		}
		pair_raw(ctx, p);
	} else if (m->type == 1) {
		pair_raw(ctx, p);
	}
	return DAIMON_CONTINUE;
}

static const daimon_behaviour pair_b = {.name = "pair", .handle = pair_handle};

/* A bare request loop: the mock's own throughput, for the load figure. */
struct loop {
	daimon_aid http;
	const daimon_llm_request *req;
	int left;
	_Atomic int *done;
};

static int loop_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct loop *l = state;
	if (m->type == DAIMON_MSG_HTTP_CHUNK)
		return DAIMON_CONTINUE;
	if (m->type == DAIMON_MSG_HTTP_DONE && --l->left == 0) {
		atomic_fetch_add(l->done, 1);
		return DAIMON_EXIT_NORMAL;
	}
	daimon_http_request(ctx, l->http, &l->req->http);
	return DAIMON_CONTINUE;
}

static const daimon_behaviour loop_b = {.name = "loop", .handle = loop_handle};

static void remove_tree(const char *dir)
{
	char *rm = daimon_xasprintf("rm -rf '%s'", dir);
	if (system(rm) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	free(rm);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void run(daimon_rt *rt, daimon_store *st, daimon_aid http, const daimon_llm_config *cfg, const char *prefix,
		int sessions, int turns, double *lat)
{
	_Atomic int done = 0;
	_Atomic long failures = 0;
	struct driver *d = daimon_xcalloc((size_t)sessions, sizeof(*d));
	for (int i = 0; i < sessions; i++) {
		char key[64];
		snprintf(key, sizeof(key), "%s:%d", prefix, i);
		d[i] = (struct driver){
			daimon_session_start(rt, st, key, http, cfg, NULL), turns, 0, lat, 0, &done, &failures};
		if (!d[i].session) {
			fprintf(stderr, "daimon_bench_turns: %s\n", daimon_error_last());
			exit(1);
		}
	}
	for (int i = 0; i < sessions; i++) {
		daimon_spawn_opts o = {.behaviour = &driver_b, .state = &d[i]};
		daimon_send(rt, daimon_spawn(rt, &o), 1, NULL, 0);
	}
	while (atomic_load(&done) < sessions)
		usleep(1000);
	if (atomic_load(&failures))
		fprintf(stderr, "daimon_bench_turns: %ld turns failed\n", (long)atomic_load(&failures));
	free(d);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: daimon_bench_turns URL CHUNKS LATENCY_MS ANSWER\n");
		return 2;
	}
	const char *url = argv[1], *answer = argv[4];
	double mock_ms = atof(argv[2]) * atof(argv[3]);
	static const char soul[] = "You are daimon, a personal assistant that lives on this computer.\n";
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char *home = daimon_xasprintf("%s/daimon-bench-turns.XXXXXX", tmp);
	char shm[] = "/dev/shm/daimon-bench-turns.XXXXXX";
	if (!mkdtemp(home) || !mkdtemp(shm))
		return 1;
	const char *homes[2] = {home, shm};
	daimon_store stores[2];
	for (int i = 0; i < 2; i++) {
		char *p = daimon_home_path(homes[i], "SOUL.md");
		daimon_write_file_atomic(p, soul, strlen(soul), 0600);
		free(p);
		daimon_store_open(&stores[i], homes[i]);
	}
	daimon_store st = stores[0];
	daimon_llm_config cfg = {
		.provider = DAIMON_LLM_OPENAI, .base_url = url, .api_key = NULL, .model = "m", .max_tokens = 256};
	daimon_rt *rt;
	daimon_rt_new(&rt, NULL);
	daimon_aid http = daimon_http_start(rt, 0);

	/* 1. overhead: on disk, then on tmpfs */
	int n = 300;
	static const char *const where[2] = {"", "_tmpfs"};
	printf("turn_mock_streaming_ms=%.1f\n", mock_ms);
	for (int i = 0; i < 2; i++) {
		struct pair p = {.http = http,
				 .cfg = &cfg,
				 .system = soul,
				 .answer = answer,
				 .history = cJSON_CreateArray(),
				 .n = n};
		p.base = daimon_xcalloc((size_t)n, sizeof(double));
		p.diff = daimon_xcalloc((size_t)n, sizeof(double));
		p.session = daimon_session_start(rt, &stores[i], "seq:0", http, &cfg, NULL);
		daimon_spawn_opts po = {.behaviour = &pair_b, .state = &p};
		daimon_send(rt, daimon_spawn(rt, &po), 1, NULL, 0);
		while (!atomic_load(&p.done))
			usleep(1000);
		qsort(p.base, (size_t)n, sizeof(double), cmp);
		qsort(p.diff, (size_t)n, sizeof(double), cmp);
		printf("http_only%s_ms_median=%.3f\noverhead%s_ms_median=%.3f\noverhead%s_ms_p99=%.3f\n", where[i],
		       p.base[n / 2], where[i], p.diff[n / 2], where[i], p.diff[(int)((n - 1) * 0.99)]);
		daimon_cancel(rt, p.session, 1000);
		daimon_llm_request_release(&p.req);
		cJSON_Delete(p.history);
		free(p.base);
		free(p.diff);
	}
	fflush(stdout);
	daimon_store_release(&stores[1]);
	remove_tree(shm);

	/* 2. load: 1,000 sessions */
	uint64_t t0 = daimon_mono_ns();
	run(rt, &st, http, &cfg, "load", 1000, 10, NULL);
	double secs = (double)(daimon_mono_ns() - t0) / 1e9;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("sessions=1000\nturns=10000\nturns_per_s=%.0f\npeak_rss_kb=%ld\n", 10000 / secs, ru.ru_maxrss);
	/* and what the mock serves 1,000 bare request loops: its own bound */
	struct loop *loops = daimon_xcalloc(1000, sizeof(*loops));
	_Atomic int loops_done = 0;
	daimon_llm_request one;
	cJSON *hello = cJSON_Parse("[{\"role\":\"user\",\"content\":\"hello\"}]");
	daimon_llm_build(&one, &cfg, soul, hello, NULL);
	t0 = daimon_mono_ns();
	for (int i = 0; i < 1000; i++) {
		loops[i] = (struct loop){.http = http, .req = &one, .left = 10, .done = &loops_done};
		daimon_spawn_opts lo = {.behaviour = &loop_b, .state = &loops[i]};
		daimon_send(rt, daimon_spawn(rt, &lo), 1, NULL, 0);
	}
	while (atomic_load(&loops_done) < 1000)
		usleep(1000);
	printf("mock_alone_requests_per_s=%.0f\n", 10000 / ((double)(daimon_mono_ns() - t0) / 1e9));
	daimon_llm_request_release(&one);
	cJSON_Delete(hello);
	free(loops);
	fflush(stdout);
	daimon_rt_free(rt);

	/* 3. the fixed prompt */
	daimon_llm_request req;
	cJSON *msgs = cJSON_Parse("[{\"role\":\"user\",\"content\":\"hello\"}]");
	cJSON *tools = daimon_tools_json(daimon_builtin_tools, 0, NULL);
	daimon_buf sys = DAIMON_BUF_INIT;
	daimon_buf_adds(&sys, soul);
	daimon_llm_build(&req, &cfg, sys.ptr, msgs, tools);
	printf("prompt_fixed_bytes=%zu\nprompt_fixed_tokens=%zu\n", req.body.len - 5, (req.body.len - 5) / 4);
	daimon_llm_request_release(&req);
	cJSON_Delete(msgs);
	cJSON_Delete(tools);
	daimon_buf_release(&sys);
	daimon_store_release(&st);
	remove_tree(home);
	free(home);
	return 0;
}
