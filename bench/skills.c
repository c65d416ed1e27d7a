/*
 * skills.c — the C side of `bench/run skills`:
 *
 *   daimon_bench_skills DAIMON_EXE
 *
 * 1. swaps: 1,000 hot swaps (two versions, alternately) while two threads
 *    call the skill without pause: calls that failed, the longest single
 *    call a caller saw (max_pause_us) and how many took over 100 us —
 *    next to the longest call the same two threads see with no swap at
 *    all (on a machine with as many cores as busy threads, that is the
 *    kernel's preemption, not daimon's); the same with one caller; and
 *    the floor: the longest stall of a bare loop reading the clock, with
 *    nothing else running and with another thread unmapping a few pages
 *    1,000 times (as dlclose does) — no daimon code in either;
 * 2. inproc_call_ns: a call through the registry to a tool that does
 *    nothing — all of it is daimon's overhead (pin, find, context, unpin);
 * 3. host_call_us: the round trip of the same call through a skill host
 *    (MCP over pipes to `daimon skill serve`) as sessions make it — an
 *    actor asks the host's port actor — median of 2,000; next to it
 *    pipe_rtt_us, a byte to a child process and back over two pipes and
 *    nothing else, both ends blocking in read: what one wake-up on each
 *    side costs on this machine (the host and an idle scheduler wait a
 *    moment, busy, before they block, so a call that follows another
 *    pays neither);
 * 4. edit_to_live_ms: a change to the scaffolded skill's source, then
 *    build (compile + tests + commit) and the swap into a registry —
 *    median of 5.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/actor.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/port.h"
#include "core/timefmt.h"
#include "core/work.h"
#include "skills/mcp.h"
#include "skills/skills.h"
#include "skills/workspace.h"

static const char noop_src[] =
	"#include <daimon/skill.h>\n"
	"static int noop(daimon_skill_ctx *c, const char *a) { (void)c; (void)a; return 0; }\n"
	"static int add(daimon_skill_ctx *c, const char *a) { (void)a;\n"
	"  return daimon_skill_host_of(c)->reply(c, VERSION, 2); }\n"
	"static const daimon_skill_tool tools[] = {{\"noop\", \"Nothing.\", \"{}\", 0, noop},\n"
	"  {\"add\", \"Version.\", \"{}\", 0, add}};\n"
	"DAIMON_SKILL(.name = \"bench\", .version = VERSION, .description = \"Bench.\", .tools = tools,\n"
	"  .ntools = 2);\n";

/* Asks the port for the noop tool, one call after another, timing each. */
struct pinger {
	daimon_aid port;
	int left, n;
	uint64_t t0;
	double lat[2001];
	_Atomic int done;
};

static int pinger_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct pinger *p = state;
	if (m->type == DAIMON_MSG_JOB_DONE)
		p->lat[p->n++] = (double)(daimon_mono_ns() - p->t0) / 1e3;
	if (p->left-- == 0) {
		atomic_store(&p->done, 1);
		return DAIMON_EXIT_NORMAL;
	}
	p->t0 = daimon_mono_ns();
	daimon_port_call_send(ctx, p->port, (uint64_t)p->n + 1, "tools/call", "{\"name\":\"noop\",\"arguments\":{}}",
			      5000);
	return DAIMON_CONTINUE;
}

static const daimon_behaviour pinger_b = {.name = "pinger", .handle = pinger_handle};

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The median round trip of one byte to a child process and back. */
static double pipe_rtt_us(void)
{
	int to[2], from[2];
	if (pipe(to) < 0 || pipe(from) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(to[1]), close(from[0]); /* (its end of file is the parent closing to[1]) */
		while (read(to[0], &c, 1) == 1 && write(from[1], &c, 1) == 1)
			;
		_exit(0);
	}
	static double lat[2000];
	char c = 'x';
	for (int i = 0; i < 2000; i++) {
		uint64_t t0 = daimon_mono_ns();
		if (write(to[1], &c, 1) != 1 || read(from[0], &c, 1) != 1)
			break;
		lat[i] = (double)(daimon_mono_ns() - t0) / 1e3;
	}
	close(to[1]);
	close(to[0]), close(from[0]), close(from[1]);
	waitpid(pid, NULL, 0);
	qsort(lat, 2000, sizeof(double), cmp);
	return lat[1000];
}

/* The longest pause one thread saw, and how many went over 100 us. */
struct pauses {
	double max_us;
	long over_100us;
};

static void pause_seen(struct pauses *p, double us)
{
	if (us > p->max_us)
		p->max_us = us;
	p->over_100us += us > 100;
}

struct caller {
	daimon_skills *sk;
	_Atomic int *stop;
	long calls, failed;
	struct pauses p;
};

static void *call_loop(void *arg)
{
	struct caller *c = arg;
	daimon_buf out = DAIMON_BUF_INIT;
	while (!atomic_load(c->stop)) {
		daimon_buf_clear(&out);
		uint64_t t0 = daimon_mono_ns();
		int rc = daimon_skills_call(c->sk, "bench", "add", "{}", &out, NULL);
		double us = (double)(daimon_mono_ns() - t0) / 1e3;
		pause_seen(&c->p, us);
		c->failed += rc < 0 || out.len != 2;
		c->calls++;
	}
	daimon_buf_release(&out);
	return NULL;
}

/* A bare loop reading the clock: the longest gap between two readings is
 * a stall the machine gave a thread running no daimon code at all. */
struct stall {
	_Atomic int *stop;
	struct pauses p;
};

static void *stall_loop(void *arg)
{
	struct stall *st = arg;
	uint64_t prev = daimon_mono_ns();
	while (!atomic_load_explicit(st->stop, memory_order_relaxed)) {
		uint64_t now = daimon_mono_ns();
		double us = (double)(now - prev) / 1e3;
		prev = now;
		pause_seen(&st->p, us);
	}
	return NULL;
}

/* The bare loop for `secs`, with another thread of this process unmapping
 * a few pages it wrote `unmaps` times meanwhile (what dlclose does to a
 * version's pages, without dlclose or anything of daimon's). */
static struct stall machine_stall(double secs, int unmaps)
{
	_Atomic int stop = 0;
	struct stall st = {.stop = &stop};
	pthread_t t;
	pthread_create(&t, NULL, stall_loop, &st);
	if (!unmaps)
		usleep((useconds_t)(secs * 1e6));
	for (int i = 0; i < unmaps; i++) {
		size_t len = 8 * 4096;
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED) {
			for (size_t k = 0; k < len; k += 4096)
				p[k] = 1;
			munmap(p, len);
		}
		usleep((useconds_t)(secs * 1e6 / unmaps));
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	return st;
}

/* Builds `src` with -DVERSION into dir/name.so (the same flags a skill build uses). */
static char *compile(const char *dir, const char *inc, const char *name, const char *version)
{
	char *c = daimon_xasprintf("%s/%s.c", dir, name), *so = daimon_xasprintf("%s/%s.so", dir, name);
	daimon_write_file_atomic(c, noop_src, strlen(noop_src), 0600);
	char *cmd =
		daimon_xasprintf("cc -std=c11 -O2 -fPIC -shared -fvisibility=hidden -I%s -DVERSION='\"%s\"' %s -o %s",
				 inc, version, c, so);
	if (system(cmd) != 0) {
		fprintf(stderr, "daimon_bench_skills: cannot compile\n");
		exit(1);
	}
	free(cmd);
	free(c);
	return so;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: daimon_bench_skills DAIMON_EXE\n");
		return 2;
	}
	char home[] = "/tmp/daimon-bench-skills.XXXXXX";
	if (!mkdtemp(home))
		return 1;
	setenv("DAIMON_HOME", home, 1);
	daimon_skillws *ws;
	if (daimon_skillws_open(&ws, home, NULL) < 0) {
		fprintf(stderr, "daimon_bench_skills: %s\n", daimon_error_last());
		return 1;
	}
	char *inc = daimon_xasprintf("%s/.include", daimon_skillws_root(ws));
	char *v[2] = {compile(home, inc, "v1", "v1"), compile(home, inc, "v2", "v2")};

	/* 1. swaps under load — first the same calls with no swap, for the
	 * pauses this machine gives a busy thread anyway */
	daimon_skills *sk = daimon_skills_new(home, NULL);
	daimon_skills_load(sk, v[0], NULL);
	_Atomic int stop = 0;
	{
		struct caller q[2] = {{.sk = sk, .stop = &stop}, {.sk = sk, .stop = &stop}};
		pthread_t qt[2];
		for (int i = 0; i < 2; i++)
			pthread_create(&qt[i], NULL, call_loop, &q[i]);
		usleep(2500000);
		atomic_store(&stop, 1);
		for (int i = 0; i < 2; i++)
			pthread_join(qt[i], NULL);
		atomic_store(&stop, 0);
		printf("max_pause_us_without_swaps=%.1f\n",
		       q[0].p.max_us > q[1].p.max_us ? q[0].p.max_us : q[1].p.max_us);
	}
	struct caller c[2] = {{.sk = sk, .stop = &stop}, {.sk = sk, .stop = &stop}};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, call_loop, &c[i]);
	int swaps = 0, refused = 0;
	uint64_t t0 = daimon_mono_ns();
	while (swaps < 1000) {
		if (daimon_skills_load(sk, v[swaps % 2], NULL) == 0)
			swaps++;
		else if (++refused > 100000)
			break;
	}
	double swap_s = (double)(daimon_mono_ns() - t0) / 1e9;
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("swaps=%d\nswaps_refused_busy=%d\nswap_us_mean=%.1f\ncalls_during_swaps=%ld\nfailed_calls=%ld\n"
	       "max_pause_us=%.1f\ncalls_over_100us=%ld\n",
	       swaps, refused, swap_s * 1e6 / (swaps ? swaps : 1), c[0].calls + c[1].calls, c[0].failed + c[1].failed,
	       c[0].p.max_us > c[1].p.max_us ? c[0].p.max_us : c[1].p.max_us, c[0].p.over_100us + c[1].p.over_100us);
	fflush(stdout);

	/* The same with one caller: on two cores the caller and the swapper
	 * each have one, so what a caller waits for is daimon's doing — next
	 * to one caller alone for as long, what the machine does to it. */
	{
		atomic_store(&stop, 0);
		struct caller alone = {.sk = sk, .stop = &stop};
		pthread_t at;
		pthread_create(&at, NULL, call_loop, &alone);
		usleep((useconds_t)(swap_s * 1e6));
		atomic_store(&stop, 1);
		pthread_join(at, NULL);
		printf("one_caller_max_pause_us_without_swaps=%.1f\none_caller_calls_over_100us_without_swaps=%ld\n",
		       alone.p.max_us, alone.p.over_100us);
		atomic_store(&stop, 0);
		struct caller one = {.sk = sk, .stop = &stop};
		pthread_t ot;
		pthread_create(&ot, NULL, call_loop, &one);
		int n1 = 0;
		while (n1 < 1000)
			n1 += daimon_skills_load(sk, v[n1 % 2], NULL) == 0;
		atomic_store(&stop, 1);
		pthread_join(ot, NULL);
		printf("one_caller_failed_calls=%ld\none_caller_max_pause_us=%.1f\none_caller_calls_over_100us=%ld\n",
		       one.failed, one.p.max_us, one.p.over_100us);
		/* the floor: what this machine does to a loop with no daimon in it */
		struct stall bare = machine_stall(swap_s, 0), unmapping = machine_stall(swap_s, 1000);
		printf("machine_max_stall_us=%.1f\nmachine_stalls_over_100us=%ld\n"
		       "machine_max_stall_us_unmapping=%.1f\nmachine_stalls_over_100us_unmapping=%ld\n",
		       bare.p.max_us, bare.p.over_100us, unmapping.p.max_us, unmapping.p.over_100us);
	}
	fflush(stdout);

	/* 2. in-process call overhead */
	daimon_buf out = DAIMON_BUF_INIT;
	long n = 2000000;
	t0 = daimon_mono_ns();
	for (long i = 0; i < n; i++)
		daimon_skills_call(sk, "bench", "noop", "{}", &out, NULL);
	printf("inproc_call_ns=%.1f\n", (double)(daimon_mono_ns() - t0) / (double)n);
	fflush(stdout);
	daimon_skills_free(sk);

	/* 3. through a skill host: the scaffolded layout, built and served */
	daimon_skill_new(ws, "bench");
	char *src = daimon_xasprintf("%s/bench/skill.c", daimon_skillws_root(ws));
	char *tests = daimon_xasprintf("%s/bench/tests.json", daimon_skillws_root(ws));
	char *vsrc = daimon_xasprintf("#define VERSION \"h1\"\n%s", noop_src);
	daimon_write_file_atomic(src, vsrc, strlen(vsrc), 0600);
	daimon_write_file_atomic(tests, "[]", 2, 0600);
	daimon_skill_built b;
	daimon_buf report = DAIMON_BUF_INIT;
	if (daimon_skill_build(ws, "bench", NULL, DAIMON_SKILL_COMMIT, &b, &report) < 0) {
		fprintf(stderr, "daimon_bench_skills: %s\n", daimon_error_last());
		return 1;
	}
	daimon_skill_built_release(&b);
	/* through the port the sessions use: an actor asks, the port answers */
	daimon_rt *rt;
	daimon_rt_new(&rt, NULL);
	const char *pargv[] = {argv[1], "skill", "serve", "bench", "--memory-mb", "256", NULL};
	daimon_port_opts po = {.name = "skill-bench",
			       .argv = pargv,
			       .protocol = &daimon_mcp_protocol,
			       .hello = "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
					"\"clientInfo\":{\"name\":\"bench\",\"version\":\"1\"}}"};
	struct pinger pg = {.port = daimon_port_start(rt, &po), .left = 2001};
	daimon_spawn_opts so = {.behaviour = &pinger_b, .state = &pg};
	daimon_send(rt, daimon_spawn(rt, &so), 1, NULL, 0);
	while (!atomic_load(&pg.done))
		usleep(1000);
	qsort(pg.lat + 1, 2000, sizeof(double), cmp); /* (the first started the host) */
	printf("host_call_us=%.1f\nhost_call_us_p99=%.1f\npipe_rtt_us=%.1f\n", pg.lat[1 + 1000], pg.lat[1 + 1980],
	       pipe_rtt_us());
	fflush(stdout);
	daimon_rt_free(rt);

	/* 4. edit to live: change the source, build (compile, test, commit), swap */
	daimon_write_file_atomic(tests, "[{\"tool\":\"noop\"}]", 17, 0600);
	sk = daimon_skills_new(home, NULL);
	double e2l[5];
	for (int i = 0; i < 5; i++) {
		free(vsrc);
		vsrc = daimon_xasprintf("#define VERSION \"e%d\"\n%s", i, noop_src);
		t0 = daimon_mono_ns();
		daimon_write_file_atomic(src, vsrc, strlen(vsrc), 0600);
		daimon_buf_clear(&report);
		if (daimon_skill_build(ws, "bench", NULL, DAIMON_SKILL_COMMIT, &b, &report) < 0 ||
		    daimon_skills_load(sk, b.so, NULL) < 0) {
			fprintf(stderr, "daimon_bench_skills: %s\n", daimon_error_last());
			return 1;
		}
		e2l[i] = (double)(daimon_mono_ns() - t0) / 1e6;
		if (i == 4)
			printf("edit_build_ms=%.0f\nedit_test_ms=%.0f\n", b.build_ms, b.test_ms);
		daimon_skill_built_release(&b);
	}
	qsort(e2l, 5, sizeof(double), cmp);
	printf("edit_to_live_ms=%.0f\n", e2l[2]);
	daimon_skills_free(sk);
	daimon_buf_release(&out);
	daimon_buf_release(&report);
	daimon_skillws_close(ws);
	char *rm = daimon_xasprintf("rm -rf '%s'", home);
	if (system(rm) != 0)
		fprintf(stderr, "could not remove %s\n", home);
	free(rm);
	free(src), free(tests), free(vsrc), free(inc), free(v[0]), free(v[1]);
	return 0;
}
