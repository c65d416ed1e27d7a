/*
 * turns.c — the C side of `bench/run turns`: daimon's own cost per turn
 * against aimock on loopback (bench/run starts the mock).
 *
 *   daimon_bench_turns URL CHUNKS LATENCY_MS
 *
 * 1. overhead: 200 sequential turns in one session; each turn's wall time
 *    minus the mock's configured streaming time (CHUNKS x LATENCY_MS) —
 *    median and p99 of what daimon adds (prompt, request, SSE decoding,
 *    two committed log writes, the messages between actors);
 * 2. load: 1,000 sessions x 10 turns at once: turns/s and peak RSS;
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

/* The baseline: the same streamed request through the http actor alone,
 * so what remains of a turn's time is the session's own work. */
struct raw {
	daimon_aid http;
	daimon_llm_request *req;
	int left;
	uint64_t started;
	double *lat;
	int n;
	_Atomic int done;
};

static int raw_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct raw *r = state;
	if (m->type == DAIMON_MSG_HTTP_DONE)
		r->lat[r->n++] = (double)(daimon_mono_ns() - r->started) / 1e6;
	if (m->type == DAIMON_MSG_HTTP_CHUNK)
		return DAIMON_CONTINUE;
	if (r->left-- == 0) {
		atomic_store(&r->done, 1);
		return DAIMON_EXIT_NORMAL;
	}
	r->started = daimon_mono_ns();
	daimon_http_request(ctx, r->http, &r->req->http);
	return DAIMON_CONTINUE;
}

static const daimon_behaviour raw_b = {.name = "raw", .handle = raw_handle};

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
	if (argc != 4) {
		fprintf(stderr, "usage: daimon_bench_turns URL CHUNKS LATENCY_MS\n");
		return 2;
	}
	const char *url = argv[1];
	double mock_ms = atof(argv[2]) * atof(argv[3]);
	char home[] = "/tmp/daimon-bench-turns.XXXXXX";
	if (!mkdtemp(home))
		return 1;
	static const char soul[] = "You are daimon, a personal assistant that lives on this computer.\n";
	char *p = daimon_home_path(home, "SOUL.md");
	daimon_write_file_atomic(p, soul, strlen(soul), 0600);
	free(p);
	daimon_store st;
	daimon_store_open(&st, home);
	daimon_llm_config cfg = {
		.provider = DAIMON_LLM_OPENAI, .base_url = url, .api_key = NULL, .model = "m", .max_tokens = 256};
	daimon_rt *rt;
	daimon_rt_new(&rt, NULL);
	daimon_aid http = daimon_http_start(rt, 0);

	/* 1. overhead */
	int n = 200;
	double *lat = daimon_xcalloc((size_t)n, sizeof(*lat)), *base = daimon_xcalloc((size_t)n, sizeof(*base));
	run(rt, &st, http, &cfg, "seq", 1, n, lat);
	daimon_llm_request rq;
	cJSON *one = cJSON_Parse("[{\"role\":\"user\",\"content\":\"hello\"}]");
	daimon_llm_build(&rq, &cfg, soul, one, NULL);
	struct raw r = {http, &rq, n, 0, base, 0, 0};
	daimon_spawn_opts ro = {.behaviour = &raw_b, .state = &r};
	daimon_send(rt, daimon_spawn(rt, &ro), 1, NULL, 0);
	while (!atomic_load(&r.done))
		usleep(1000);
	qsort(lat, (size_t)n, sizeof(*lat), cmp);
	qsort(base, (size_t)n, sizeof(*base), cmp);
	printf("turn_mock_streaming_ms=%.1f\nturn_ms_median=%.3f\nhttp_only_ms_median=%.3f\n", mock_ms, lat[n / 2],
	       base[n / 2]);
	printf("overhead_ms_median=%.3f\noverhead_ms_p99=%.3f\n", lat[n / 2] - base[n / 2],
	       lat[(int)((n - 1) * 0.99)] - base[(int)((n - 1) * 0.99)]);
	daimon_llm_request_release(&rq);
	cJSON_Delete(one);
	free(base);
	fflush(stdout);
	free(lat);

	/* 2. load */
	uint64_t t0 = daimon_mono_ns();
	run(rt, &st, http, &cfg, "load", 1000, 10, NULL);
	double secs = (double)(daimon_mono_ns() - t0) / 1e9;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("sessions=1000\nturns=10000\nturns_per_s=%.0f\npeak_rss_kb=%ld\n", 10000 / secs, ru.ru_maxrss);
	fflush(stdout);
	daimon_rt_free(rt);

	/* 3. the fixed prompt */
	daimon_llm_request req;
	cJSON *msgs = cJSON_Parse("[{\"role\":\"user\",\"content\":\"hello\"}]");
	cJSON *tools = daimon_tools_json(daimon_builtin_tools, 0);
	daimon_buf sys = DAIMON_BUF_INIT;
	daimon_buf_adds(&sys, soul);
	daimon_llm_build(&req, &cfg, sys.ptr, msgs, tools);
	printf("prompt_fixed_bytes=%zu\nprompt_fixed_tokens=%zu\n", req.body.len - 5, (req.body.len - 5) / 4);
	daimon_llm_request_release(&req);
	cJSON_Delete(msgs);
	cJSON_Delete(tools);
	daimon_buf_release(&sys);
	daimon_store_release(&st);
	char *rm = daimon_xasprintf("rm -rf '%s'", home);
	if (system(rm) != 0)
		fprintf(stderr, "could not remove %s\n", home);
	free(rm);
	return 0;
}
