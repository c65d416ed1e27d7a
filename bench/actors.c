/*
 * actors.c — the C side of `bench/run actors`: the four workloads of the
 * actor runtime benchmark, on daimon's runtime, printed as c_* key=value
 * lines (bench/actors.erl runs the same four on the BEAM).
 *
 *   1. spawn 1,000,000 idle actors: bytes of memory (RSS) per actor, µs per spawn
 *   2. ping-pong between two actors, 1,000,000 round trips: ns per round trip
 *   3. fan-in, 4 senders x 1,000,000 messages into one actor: messages/s
 *   4. a supervisor restarting a crashing child 100,000 times: µs per restart
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/actor.h"
#include "core/buf.h"
#include "core/supervisor.h"
#include "core/timefmt.h"

static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static int done;

static void finish(void)
{
	pthread_mutex_lock(&done_mu);
	done = 1;
	pthread_cond_signal(&done_cv);
	pthread_mutex_unlock(&done_mu);
}

static void wait_done(void)
{
	pthread_mutex_lock(&done_mu);
	while (!done)
		pthread_cond_wait(&done_cv, &done_mu);
	done = 0;
	pthread_mutex_unlock(&done_mu);
}

static long rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f && fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	if (f)
		fclose(f);
	return rss * sysconf(_SC_PAGESIZE);
}

/* 1. idle actors */

static int idle_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	(void)ctx, (void)state, (void)m;
	return DAIMON_CONTINUE;
}
static const daimon_behaviour idle_b = {.name = "idle", .handle = idle_handle};

static void bench_spawn(daimon_rt *rt, long n)
{
	daimon_spawn_opts o = {.behaviour = &idle_b};
	long before = rss_bytes();
	uint64_t t0 = daimon_mono_ns();
	for (long i = 0; i < n; i++)
		if (!daimon_spawn(rt, &o))
			abort();
	uint64_t t1 = daimon_mono_ns();
	long after = rss_bytes();
	printf("c_bytes_per_actor=%ld\nc_spawn_us=%.3f\n", (after - before) / n, (double)(t1 - t0) / 1e3 / (double)n);
	fflush(stdout);
}

/* 2. ping-pong */

struct pp {
	daimon_aid peer;
	long left;
};

static int pp_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct pp *p = state;
	(void)m;
	if (p->left == 0) { /* the pinger is done */
		finish();
		return DAIMON_EXIT_NORMAL;
	}
	if (p->left > 0)
		p->left--;
	daimon_send(daimon_ctx_rt(ctx), p->peer ? p->peer : m->from, 1, NULL, 0);
	return DAIMON_CONTINUE;
}
static const daimon_behaviour pp_b = {.name = "pingpong", .handle = pp_handle};

static void bench_pingpong(daimon_rt *rt, long n)
{
	struct pp pong = {0, -1}, ping = {0, n};
	daimon_spawn_opts o = {.behaviour = &pp_b, .state = &pong};
	daimon_aid b = daimon_spawn(rt, &o);
	o.state = &ping;
	ping.peer = b;
	daimon_aid a = daimon_spawn(rt, &o);
	uint64_t t0 = daimon_mono_ns();
	daimon_send(rt, a, 1, NULL, 0);
	wait_done();
	uint64_t t1 = daimon_mono_ns();
	daimon_kill(rt, b);
	printf("c_pingpong_ns=%.1f\n", (double)(t1 - t0) / (double)n);
	fflush(stdout);
}

/* 3. fan-in */

struct sink {
	long left;
};

static int sink_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	(void)ctx, (void)m;
	struct sink *s = state;
	if (--s->left == 0) {
		finish();
		return DAIMON_EXIT_NORMAL;
	}
	return DAIMON_CONTINUE;
}
static const daimon_behaviour sink_b = {.name = "sink", .handle = sink_handle};

struct sender {
	daimon_aid to;
	long left;
};

/* Sends in chunks and re-sends itself "go": a handler runs to completion,
 * so one that sent a million messages at once would hold its thread. */
static int sender_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	(void)m;
	struct sender *s = state;
	daimon_rt *rt = daimon_ctx_rt(ctx);
	for (int i = 0; i < 1000 && s->left > 0; i++, s->left--)
		daimon_send(rt, s->to, 1, NULL, 0);
	if (s->left == 0)
		return DAIMON_EXIT_NORMAL;
	daimon_send(rt, daimon_self(ctx), 0, NULL, 0);
	return DAIMON_CONTINUE;
}
static const daimon_behaviour sender_b = {.name = "sender", .handle = sender_handle};

static void bench_fanin(daimon_rt *rt, int senders, long each)
{
	struct sink sk = {senders * each};
	daimon_spawn_opts o = {.behaviour = &sink_b, .state = &sk};
	daimon_aid sink = daimon_spawn(rt, &o);
	struct sender *s = daimon_xcalloc((size_t)senders, sizeof(*s));
	daimon_aid *ids = daimon_xcalloc((size_t)senders, sizeof(*ids));
	for (int i = 0; i < senders; i++) {
		s[i] = (struct sender){sink, each};
		daimon_spawn_opts so = {.behaviour = &sender_b, .state = &s[i]};
		ids[i] = daimon_spawn(rt, &so);
	}
	uint64_t t0 = daimon_mono_ns();
	for (int i = 0; i < senders; i++)
		daimon_send(rt, ids[i], 0, NULL, 0);
	wait_done();
	uint64_t t1 = daimon_mono_ns();
	printf("c_fanin_msgs_per_s=%.0f\n", (double)senders * (double)each / ((double)(t1 - t0) / 1e9));
	fflush(stdout);
	free(s);
	free(ids);
}

/* 4. restarts */

static _Atomic long restarts_left;

static int crasher_init(daimon_ctx *ctx, void *state)
{
	(void)ctx, (void)state;
	if (atomic_fetch_sub(&restarts_left, 1) > 0)
		return DAIMON_EXIT_CRASHED;
	finish();
	return DAIMON_CONTINUE;
}
static const daimon_behaviour crasher_b = {.name = "crasher", .init = crasher_init, .handle = idle_handle};

static void bench_restarts(daimon_rt *rt, long n)
{
	atomic_store(&restarts_left, n + 1); /* the first start is not a restart */
	daimon_child_spec child = {NULL, &crasher_b, NULL, NULL, DAIMON_PERMANENT};
	daimon_sup_spec spec = {DAIMON_ONE_FOR_ONE, (int)(n * 10), 3600 * 1000, &child, 1};
	uint64_t t0 = daimon_mono_ns();
	daimon_aid sup = daimon_supervisor_start(rt, &spec, 0);
	wait_done();
	uint64_t t1 = daimon_mono_ns();
	daimon_kill(rt, sup);
	printf("c_restart_us=%.3f\n", (double)(t1 - t0) / 1e3 / (double)n);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	long spawn_n = argc > 1 ? atol(argv[1]) : 1000000;
	daimon_rt *rt;
	if (daimon_rt_new(&rt, NULL) < 0)
		return 1;
	bench_spawn(rt, spawn_n);
	daimon_rt_free(rt); /* a fresh runtime for each workload, as the BEAM's are separate processes' */
	daimon_rt_new(&rt, NULL);
	bench_pingpong(rt, 1000000);
	bench_fanin(rt, 4, 1000000);
	bench_restarts(rt, 100000);
	daimon_rt_free(rt);
	return 0;
}
