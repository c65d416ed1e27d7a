/*
 * test_actor.c — the actor runtime: ordering, fairness, stale ids, links,
 * monitors, timers, cancellation of a large tree with timers, fds and
 * child processes, hibernation, bounded mailboxes, introspection.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/actor.h"
#include "core/buf.h"
#include "core/cold.h"
#include "core/error.h"
#include "core/supervisor.h"
#include "core/timefmt.h"
#include "tests/test.h"

static daimon_rt *rt_new(int threads)
{
	daimon_rt_opts o = {threads, 0};
	daimon_rt *rt;
	if (daimon_rt_new(&rt, &o) < 0)
		abort();
	return rt;
}

/* ---- ordering ---- */

struct seq_state {
	_Atomic int next;
	_Atomic int bad;
};

static int seq_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	(void)ctx;
	struct seq_state *s = state;
	int v;
	memcpy(&v, m->data, sizeof(v));
	if (v != atomic_load(&s->next))
		atomic_store(&s->bad, 1);
	atomic_store(&s->next, v + 1);
	return DAIMON_CONTINUE;
}

static const daimon_behaviour seq_b = {.name = "seq", .handle = seq_handle};

static void test_actor__messages_from_one_sender_arrive_in_order(void)
{
	daimon_rt *rt = rt_new(2);
	struct seq_state s = {0, 0};
	daimon_spawn_opts o = {.behaviour = &seq_b, .state = &s};
	daimon_aid a = daimon_spawn(rt, &o);
	CHECK(a != 0);
	for (int i = 0; i < 100000; i++)
		CHECK_INT(daimon_send(rt, a, 1, &i, sizeof(i)), 0);
	EVENTUALLY(atomic_load(&s.next) == 100000);
	CHECK_INT(atomic_load(&s.bad), 0);
	daimon_rt_free(rt);
}

/* ---- fairness ---- */

struct flood {
	_Atomic long count;
	_Atomic long seen_at; /* flooder's count when the other actor ran */
};

static int flood_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct flood *f = state;
	(void)m;
	if (atomic_fetch_add(&f->count, 1) < 2000000)
		daimon_send(daimon_ctx_rt(ctx), daimon_self(ctx), 1, NULL, 0);
	return DAIMON_CONTINUE;
}

static int ping_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	(void)ctx, (void)m;
	struct flood *f = state;
	atomic_store(&f->seen_at, atomic_load(&f->count));
	return DAIMON_CONTINUE;
}

static const daimon_behaviour flood_b = {.name = "flood", .handle = flood_handle};
static const daimon_behaviour ping_b = {.name = "ping", .handle = ping_handle};

static void test_actor__a_flooding_actor_does_not_starve_others(void)
{
	daimon_rt *rt = rt_new(1); /* one scheduler: only batching keeps it fair */
	struct flood f = {0, -1};
	daimon_spawn_opts fo = {.behaviour = &flood_b, .state = &f};
	daimon_aid flooder = daimon_spawn(rt, &fo);
	daimon_send(rt, flooder, 1, NULL, 0);
	EVENTUALLY(atomic_load(&f.count) > 1000);
	daimon_spawn_opts po = {.behaviour = &ping_b, .state = &f};
	daimon_aid p = daimon_spawn(rt, &po);
	daimon_send(rt, p, 1, NULL, 0);
	EVENTUALLY(atomic_load(&f.seen_at) >= 0);
	/* The ping ran long before the flood ended. */
	CHECK(atomic_load(&f.seen_at) < 1500000);
	daimon_rt_free(rt);
}

/* ---- stale ids ---- */

struct counter {
	_Atomic int n;
	_Atomic int terminated;
	_Atomic int last_reason;
};

static int count_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	(void)ctx;
	struct counter *c = state;
	atomic_fetch_add(&c->n, 1);
	if (m->type == 99)
		return DAIMON_EXIT_NORMAL;
	if (m->type == 98)
		return DAIMON_EXIT_CRASHED;
	return DAIMON_CONTINUE;
}

static void count_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)ctx;
	struct counter *c = state;
	atomic_store(&c->last_reason, reason);
	atomic_fetch_add(&c->terminated, 1);
}

static const daimon_behaviour count_b = {.name = "count", .handle = count_handle, .terminate = count_terminate};

static void test_actor__a_stale_id_never_reaches_a_new_actor(void)
{
	daimon_rt *rt = rt_new(2);
	struct counter old = {0}, fresh = {0};
	daimon_spawn_opts o = {.behaviour = &count_b, .state = &old};
	daimon_aid a = daimon_spawn(rt, &o);
	daimon_send(rt, a, 99, NULL, 0); /* exits */
	EVENTUALLY(atomic_load(&old.terminated) == 1);
	CHECK(!daimon_alive(rt, a));
	o.state = &fresh;
	daimon_aid b = daimon_spawn(rt, &o);
	CHECK((uint32_t)b == (uint32_t)a); /* the same slot, reused */
	CHECK(b != a);
	CHECK_INT(daimon_send(rt, a, 1, NULL, 0), DAIMON_ENOTFOUND);
	daimon_send(rt, b, 1, NULL, 0);
	EVENTUALLY(atomic_load(&fresh.n) == 1);
	usleep(20000);
	CHECK_INT(atomic_load(&fresh.n), 1);
	CHECK_INT(atomic_load(&old.n), 1);
	daimon_rt_free(rt);
}

/* ---- links and monitors ---- */

struct watcher {
	_Atomic int exits, downs;
	_Atomic long reason;
	daimon_aid target;
	int trap, link;
	_Atomic int terminated;
	_Atomic int term_reason;
};

static int watcher_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct watcher *w = state;
	if (m->type == 1) { /* start watching */
		daimon_trap_exit(ctx, w->trap);
		if (w->link) {
			daimon_link(ctx, w->target);
		} else {
			uint64_t ref = daimon_monitor(ctx, w->target);
			if (w->trap == 2) /* watched, then not: no DOWN */
				daimon_demonitor(ctx, w->target, ref);
		}
	} else if (m->type == DAIMON_MSG_EXIT) {
		atomic_store(&w->reason, m->arg);
		atomic_fetch_add(&w->exits, 1);
	} else if (m->type == DAIMON_MSG_DOWN) {
		atomic_store(&w->reason, m->arg);
		atomic_fetch_add(&w->downs, 1);
	}
	return DAIMON_CONTINUE;
}

static void watcher_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)ctx;
	struct watcher *w = state;
	atomic_store(&w->term_reason, reason);
	atomic_store(&w->terminated, 1);
}

static const daimon_behaviour watcher_b = {.name = "watcher", .handle = watcher_handle, .terminate = watcher_terminate};

static void link_case(int trap, int link, struct watcher *w, struct counter *c)
{
	daimon_rt *rt = rt_new(2);
	daimon_spawn_opts co = {.behaviour = &count_b, .state = c};
	daimon_aid target = daimon_spawn(rt, &co);
	w->target = target;
	w->trap = trap;
	w->link = link;
	daimon_spawn_opts wo = {.behaviour = &watcher_b, .state = w};
	daimon_aid watcher = daimon_spawn(rt, &wo);
	daimon_send(rt, watcher, 1, NULL, 0);
	usleep(20000);                        /* the link/monitor is set up */
	daimon_send(rt, target, 98, NULL, 0); /* crashes */
	daimon_rt_wait_idle(rt, 300);
	daimon_rt_free(rt);
}

static void test_actor__a_crash_propagates_over_links_unless_trapped(void)
{
	struct watcher w = {0};
	struct counter c = {0};
	link_case(0, 1, &w, &c);
	CHECK_INT(atomic_load(&w.terminated), 1);
	CHECK_INT(atomic_load(&w.term_reason), DAIMON_EXIT_CRASHED);
	CHECK_INT(atomic_load(&w.exits), 0);

	struct watcher t = {0};
	struct counter c2 = {0};
	link_case(1, 1, &t, &c2);
	CHECK_INT(atomic_load(&t.exits), 1);
	CHECK_INT(atomic_load(&t.reason), DAIMON_EXIT_CRASHED);
	CHECK_INT(atomic_load(&t.term_reason), DAIMON_EXIT_KILLED); /* only at daimon_rt_free */
}

static void test_actor__monitors_get_down_with_the_reason(void)
{
	struct watcher w = {0};
	struct counter c = {0};
	link_case(0, 0, &w, &c);
	CHECK_INT(atomic_load(&w.downs), 1);
	CHECK_INT(atomic_load(&w.reason), DAIMON_EXIT_CRASHED);
	CHECK_INT(atomic_load(&w.term_reason), DAIMON_EXIT_KILLED); /* it survived until the end */
}

static void test_actor__a_demonitored_actor_sends_no_down(void)
{
	struct watcher w = {0};
	struct counter c = {0};
	link_case(2, 0, &w, &c);
	CHECK_INT(atomic_load(&w.downs), 0);
	CHECK_INT(atomic_load(&w.term_reason), DAIMON_EXIT_KILLED);
}

/* Cold memory: packed in its own chunks, zeroed, reused after a free;
 * what is too big for a class is plain malloc. */
static void test_cold__objects_are_packed_reused_and_zeroed(void)
{
	daimon_cold *c = daimon_cold_new();
	char *v[2000];
	for (int i = 0; i < 2000; i++) {
		v[i] = daimon_cold_alloc(c, 100);
		CHECK(v[i][0] == 0 && v[i][99] == 0);
		memset(v[i], 0xab, 100);
	}
	size_t bytes = daimon_cold_bytes(c);
	CHECK(bytes >= 2000 * 128 && bytes <= 2000 * 128 + 2 * 65536); /* packed: 128 bytes each */
	for (int i = 0; i < 2000; i++)
		daimon_cold_free(c, v[i], 100);
	for (int i = 0; i < 2000; i++) {
		v[i] = daimon_cold_alloc(c, 120);
		CHECK(v[i][0] == 0 && v[i][119] == 0);
	}
	CHECK_INT(daimon_cold_bytes(c), bytes); /* the same chunks serve again */
	char *big = daimon_cold_alloc(c, 1000);
	CHECK(big && big[999] == 0);
	daimon_cold_free(c, big, 1000);
	daimon_cold_free_all(c);
}

/* ---- timers ---- */

struct tstate {
	_Atomic int ticks, once;
	uint64_t periodic, oneshot, cancelled;
};

static int timer_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct tstate *t = state;
	if (m->type == 1) {
		t->periodic = daimon_timer_start(ctx, 5, 5);
		t->oneshot = daimon_timer_start(ctx, 10, 0);
		t->cancelled = daimon_timer_start(ctx, 20, 0);
		daimon_timer_cancel(ctx, t->cancelled);
	} else if (m->type == DAIMON_MSG_TIMER) {
		if (m->ref == t->periodic && atomic_fetch_add(&t->ticks, 1) == 9)
			daimon_timer_cancel(ctx, t->periodic);
		if (m->ref == t->oneshot)
			atomic_fetch_add(&t->once, 1);
		if (m->ref == t->cancelled)
			atomic_fetch_add(&t->once, 100);
	}
	return DAIMON_CONTINUE;
}

static const daimon_behaviour timer_b = {.name = "timer", .handle = timer_handle};

static int canceller_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	(void)state;
	if (m->type == 1)
		for (int i = 0; i < 1000; i++)
			daimon_timer_cancel(ctx, daimon_timer_start(ctx, 60000, 0));
	return DAIMON_CONTINUE;
}

/* A cancelled timer is gone from the runtime at once, not at its
 * deadline: an idle actor leaves nothing behind. */
static void test_actor__a_cancelled_timer_leaves_nothing_behind(void)
{
	daimon_rt *rt = rt_new(2);
	static const daimon_behaviour b = {.name = "canceller", .handle = canceller_handle};
	daimon_spawn_opts o = {.behaviour = &b};
	daimon_aid id = daimon_spawn(rt, &o);
	daimon_send(rt, id, 1, NULL, 0);
	daimon_actor_info *v = NULL;
	int done = 0;
	for (int i = 0; i < 5000 && !done; i++) {
		size_t n = daimon_rt_snapshot(rt, &v);
		for (size_t k = 0; k < n; k++)
			done |= v[k].id == id && v[k].handled >= 1;
		free(v);
		usleep(1000);
	}
	daimon_rt_io_stats io;
	daimon_rt_io(rt, &io);
	CHECK_INT(io.timers, 0);
	daimon_rt_free(rt);
}

static void test_actor__timers_fire_repeat_and_cancel(void)
{
	daimon_rt *rt = rt_new(2);
	struct tstate t = {0};
	daimon_spawn_opts o = {.behaviour = &timer_b, .state = &t};
	daimon_aid a = daimon_spawn(rt, &o);
	daimon_send(rt, a, 1, NULL, 0);
	EVENTUALLY(atomic_load(&t.ticks) == 10);
	usleep(60000);
	CHECK_INT(atomic_load(&t.ticks), 10); /* cancelled after the tenth */
	CHECK_INT(atomic_load(&t.once), 1);   /* one-shot once; the cancelled one never */
	daimon_rt_io_stats io;
	daimon_rt_io(rt, &io);
	CHECK_INT(io.timers, 0);
	daimon_rt_free(rt);
}

/* The event thread sleeps until its earliest timer; one set later but
 * due sooner must wake it (it is told only of timers due before the
 * time it will wake anyway). */
struct soon {
	uint64_t soon;
	_Atomic int fired;
};

static int soon_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct soon *s = state;
	if (m->type == 1)
		daimon_timer_start(ctx, 30000, 0);
	else if (m->type == 2)
		s->soon = daimon_timer_start(ctx, 20, 0);
	else if (m->type == DAIMON_MSG_TIMER && m->ref == s->soon)
		atomic_store(&s->fired, 1);
	return DAIMON_CONTINUE;
}

static void test_actor__a_sooner_timer_wakes_a_sleeping_event_thread(void)
{
	daimon_rt *rt = rt_new(2);
	struct soon s = {0};
	static const daimon_behaviour b = {.name = "soon", .handle = soon_handle};
	daimon_spawn_opts o = {.behaviour = &b, .state = &s};
	daimon_aid a = daimon_spawn(rt, &o);
	daimon_send(rt, a, 1, NULL, 0);
	usleep(50000); /* the event thread asleep until the 30 s timer */
	uint64_t t0 = daimon_mono_ns();
	daimon_send(rt, a, 2, NULL, 0);
	EVENTUALLY(atomic_load(&s.fired));
	CHECK(daimon_mono_ns() - t0 < 10000000000ull);
	daimon_rt_free(rt);
}

/* ---- cancelling a tree ---- */

struct tree {
	_Atomic int started, cleaned;
	int fanout, depth_max;
	_Atomic int procs;
	pid_t pids[64];
	int fds[64];
	_Atomic int nfds;
};

struct node {
	struct tree *t;
	int depth;
};

extern const daimon_behaviour node_b;

static int node_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct node *n = state;
	struct tree *t = n->t;
	if (m->type != 1)
		return DAIMON_CONTINUE;
	daimon_timer_start(ctx, 60000, 60000); /* a timer that would outlive the test */
	int k = atomic_fetch_add(&t->procs, 1);
	if (k < 32) { /* some nodes own a child process ... */
		pid_t pid = fork();
		if (pid == 0) {
			execlp("sleep", "sleep", "60", (char *)NULL);
			_exit(127);
		}
		t->pids[k] = pid;
		daimon_adopt_child(ctx, pid);
	} else if (k < 64) { /* ... and some an fd */
		int p[2];
		if (pipe2(p, O_CLOEXEC) == 0) {
			t->fds[k - 32] = p[0];
			atomic_fetch_add(&t->nfds, 1);
			close(p[1]);
			daimon_watch_fd(ctx, p[0], EPOLLIN | EPOLLRDHUP);
		}
	}
	if (n->depth < t->depth_max) {
		for (int i = 0; i < t->fanout; i++) {
			struct node *c = daimon_xmalloc(sizeof(*c));
			c->t = t;
			c->depth = n->depth + 1;
			daimon_spawn_opts o = {.behaviour = &node_b, .state = c, .flags = DAIMON_SPAWN_CHILD};
			daimon_aid id = daimon_spawn(daimon_ctx_rt(ctx), &o);
			daimon_send(daimon_ctx_rt(ctx), id, 1, NULL, 0);
		}
	}
	atomic_fetch_add(&t->started, 1); /* last: everything above is in place */
	return DAIMON_CONTINUE;
}

static void node_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)ctx, (void)reason;
	struct node *n = state;
	atomic_fetch_add(&n->t->cleaned, 1);
	free(n);
}

const daimon_behaviour node_b = {.name = "node", .handle = node_handle, .terminate = node_terminate};

static void test_actor__cancelling_a_tree_of_10000_leaves_nothing_behind(void)
{
	daimon_rt *rt = rt_new(2);
	struct tree t = {0};
	t.fanout = 10;
	t.depth_max = 3; /* 1 + 10 + 100 + 1000 + 10000 = 11111 actors */
	struct node *root = daimon_xmalloc(sizeof(*root));
	root->t = &t;
	root->depth = -1;
	daimon_spawn_opts o = {.behaviour = &node_b, .state = root};
	daimon_aid r = daimon_spawn(rt, &o);
	daimon_send(rt, r, 1, NULL, 0);
	EVENTUALLY(atomic_load(&t.started) == 11111);
	CHECK_INT(daimon_rt_count(rt), 11111);
	daimon_rt_io_stats io;
	daimon_rt_io(rt, &io);
	CHECK_INT(io.timers, 11111);
	CHECK_INT(io.watches, 64);
	CHECK_INT(daimon_cancel(rt, r, 2000), 0);
	CHECK_INT(daimon_rt_wait_idle(rt, 5000), 0);
	CHECK_INT(atomic_load(&t.cleaned), 11111);
	EVENTUALLY((daimon_rt_io(rt, &io), io.timers == 0 && io.watches == 0));
	for (int i = 0; i < 32; i++) /* killed and reaped: not even a zombie */
		CHECK(kill(t.pids[i], 0) < 0 && errno == ESRCH);
	for (int i = 0; i < atomic_load(&t.nfds); i++)
		CHECK(fcntl(t.fds[i], F_GETFD) < 0 && errno == EBADF);
	daimon_rt_free(rt);
}

/* ---- hibernation ---- */

struct hib {
	_Atomic int hibernations, wakes, handled;
};

static int hib_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	(void)m;
	struct hib *h = state;
	atomic_fetch_add(&h->handled, 1);
	daimon_hibernate(ctx);
	return DAIMON_CONTINUE;
}

static struct hib hib_store; /* where the "log" keeps what the state would be reloaded from */

static void *hib_drop(daimon_ctx *ctx, void *state)
{
	(void)ctx, (void)state;
	atomic_fetch_add(&hib_store.hibernations, 1);
	return NULL;
}

static void *hib_wake(daimon_ctx *ctx, void *state)
{
	(void)ctx;
	if (state) /* woken with state still there would be a bug */
		abort();
	atomic_fetch_add(&hib_store.wakes, 1);
	return &hib_store;
}

static const daimon_behaviour hib_b = {.name = "hib", .handle = hib_handle, .hibernate = hib_drop, .wake = hib_wake};

static void test_actor__hibernate_drops_state_and_the_next_message_wakes_it(void)
{
	daimon_rt *rt = rt_new(2);
	daimon_spawn_opts o = {.behaviour = &hib_b, .state = &hib_store};
	daimon_aid a = daimon_spawn(rt, &o);
	daimon_send(rt, a, 1, NULL, 0);
	EVENTUALLY(atomic_load(&hib_store.hibernations) == 1);
	CHECK_INT(atomic_load(&hib_store.wakes), 0);
	daimon_send(rt, a, 1, NULL, 0);
	EVENTUALLY(atomic_load(&hib_store.handled) == 2);
	CHECK_INT(atomic_load(&hib_store.wakes), 1);
	EVENTUALLY(atomic_load(&hib_store.hibernations) == 2);
	daimon_rt_free(rt);
}

/* ---- bounded mailbox, registry, introspection ---- */

static int slow_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	(void)ctx, (void)state;
	if (m->type == 7)
		usleep(200000);
	daimon_set_op(ctx, "sleeping on purpose");
	return DAIMON_CONTINUE;
}

static const daimon_behaviour slow_b = {.name = "slow", .handle = slow_handle};

static void test_actor__bounded_mailbox_refuses_when_full(void)
{
	daimon_rt *rt = rt_new(1);
	daimon_spawn_opts o = {.behaviour = &slow_b, .mailbox_bound = 4, .overload = DAIMON_OVERLOAD_REFUSE};
	daimon_aid a = daimon_spawn(rt, &o);
	daimon_send(rt, a, 7, NULL, 0);
	usleep(20000); /* it is now busy for 200 ms */
	int ok = 0, busy = 0;
	for (int i = 0; i < 10; i++) {
		int rc = daimon_send(rt, a, 1, NULL, 0);
		ok += rc == 0;
		busy += rc == DAIMON_EBUSY;
	}
	CHECK_INT(ok, 4);
	CHECK_INT(busy, 6);
	CHECK_CONTAINS(daimon_error_last(), "is full");
	daimon_rt_free(rt);
}

static void test_actor__registry_and_snapshot(void)
{
	daimon_rt *rt = rt_new(2);
	daimon_spawn_opts o = {.behaviour = &slow_b};
	daimon_aid a = daimon_spawn(rt, &o);
	CHECK_INT(daimon_register(rt, "telegram:42", a), 0);
	CHECK(daimon_whereis(rt, "telegram:42") == a);
	daimon_aid b = daimon_spawn(rt, &o);
	CHECK_INT(daimon_register(rt, "telegram:42", b), DAIMON_EEXISTS);
	daimon_send(rt, a, 7, NULL, 0);
	daimon_send(rt, a, 1, NULL, 0);
	usleep(50000);
	daimon_actor_info *info;
	size_t n = daimon_rt_snapshot(rt, &info);
	CHECK_INT(n, 2);
	int found = 0;
	for (size_t i = 0; i < n; i++)
		if (info[i].id == a) {
			found = 1;
			CHECK_STR(info[i].name, "telegram:42");
			CHECK_STR(info[i].behaviour, "slow");
			CHECK_INT(info[i].mailbox, 1);
		}
	free(info);
	CHECK(found);
	daimon_kill(rt, a);
	EVENTUALLY(daimon_whereis(rt, "telegram:42") == 0);
	CHECK_INT(daimon_register(rt, "telegram:42", b), 0);
	daimon_rt_free(rt);
}

static void test_actor__bounded_mailbox_can_slow_the_sender_instead(void)
{
	daimon_rt *rt = rt_new(1);
	daimon_spawn_opts o = {.behaviour = &slow_b, .mailbox_bound = 2, .overload = DAIMON_OVERLOAD_SLOW};
	daimon_aid a = daimon_spawn(rt, &o);
	daimon_send(rt, a, 7, NULL, 0); /* busy for 200 ms */
	usleep(20000);
	uint64_t t0 = daimon_mono_ns();
	for (int i = 0; i < 5; i++)
		CHECK_INT(daimon_send(rt, a, 1, NULL, 0), 0); /* none refused ... */
	CHECK(daimon_mono_ns() - t0 > 100000000ull);          /* ... the sender waited for room */
	daimon_rt_free(rt);
}

/* An actor that ignores cancellation is stopped at the deadline. */
static _Atomic int stubborn_asked;

static int stubborn_cancel(daimon_ctx *ctx, void *state)
{
	(void)ctx, (void)state;
	atomic_fetch_add(&stubborn_asked, 1);
	return DAIMON_CONTINUE; /* "I'll finish on my own" — and never does */
}

static const daimon_behaviour stubborn_b = {
	.name = "stubborn", .handle = count_handle, .terminate = count_terminate, .on_cancel = stubborn_cancel};

static void test_actor__cancel_deadline_stops_an_actor_that_does_not_finish(void)
{
	daimon_rt *rt = rt_new(2);
	struct counter c = {0};
	daimon_spawn_opts o = {.behaviour = &stubborn_b, .state = &c};
	daimon_aid a = daimon_spawn(rt, &o);
	uint64_t t0 = daimon_mono_ns();
	CHECK_INT(daimon_cancel(rt, a, 100), 0);
	EVENTUALLY(atomic_load(&c.terminated) == 1);
	uint64_t took = daimon_mono_ns() - t0;
	CHECK_INT(atomic_load(&stubborn_asked), 1);
	CHECK_INT(atomic_load(&c.last_reason), DAIMON_EXIT_CANCELLED);
	CHECK(took >= 90000000ull && took < 1000000000ull); /* at the deadline, not before */
	daimon_rt_free(rt);
}

/* A child process's exit arrives as a message, with its status. */
static _Atomic int child_status = -1;

static int parent_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	(void)state;
	if (m->type == 1) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(3);
		daimon_adopt_child(ctx, pid);
	} else if (m->type == DAIMON_MSG_CHILD) {
		atomic_store(&child_status, (int)m->arg);
	}
	return DAIMON_CONTINUE;
}

static const daimon_behaviour parent_b = {.name = "parent", .handle = parent_handle};

static void test_actor__a_child_process_exit_is_a_message(void)
{
	daimon_rt *rt = rt_new(2);
	daimon_spawn_opts o = {.behaviour = &parent_b};
	daimon_aid a = daimon_spawn(rt, &o);
	daimon_send(rt, a, 1, NULL, 0);
	EVENTUALLY(atomic_load(&child_status) >= 0);
	CHECK(WIFEXITED(atomic_load(&child_status)));
	CHECK_INT(WEXITSTATUS(atomic_load(&child_status)), 3);
	daimon_rt_io_stats io;
	EVENTUALLY((daimon_rt_io(rt, &io), io.watches == 0)); /* reaped and forgotten */
	daimon_rt_free(rt);
}

/* A runtime freed while an actor's child still runs: the child is killed,
 * reaped, and its watch freed (ASan's leak check holds us to it). */
static _Atomic int sleeper_pid;

static int sleeper_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	(void)state, (void)m;
	pid_t pid = fork();
	if (pid == 0) {
		execlp("sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	daimon_adopt_child(ctx, pid);
	atomic_store(&sleeper_pid, pid);
	return DAIMON_CONTINUE;
}

static const daimon_behaviour sleeper_b = {.name = "sleeper", .handle = sleeper_handle};

static void test_actor__freeing_the_runtime_reaps_children_still_running(void)
{
	daimon_rt *rt = rt_new(2);
	daimon_spawn_opts o = {.behaviour = &sleeper_b};
	daimon_send(rt, daimon_spawn(rt, &o), 1, NULL, 0);
	EVENTUALLY(atomic_load(&sleeper_pid) > 0);
	daimon_rt_free(rt);
	CHECK(kill(atomic_load(&sleeper_pid), 0) < 0 && errno == ESRCH); /* gone, not a zombie */
}

/* ---- supervision ---- */

static _Atomic int starts[3];

struct worker {
	int index;
};

static void *worker_state(void *arg)
{
	int i = (int)(intptr_t)arg;
	atomic_fetch_add(&starts[i], 1);
	struct worker *w = daimon_xmalloc(sizeof(*w));
	w->index = i;
	return w;
}

static int worker_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	(void)ctx, (void)state;
	if (m->type == 98)
		return DAIMON_EXIT_CRASHED;
	if (m->type == 99)
		return DAIMON_EXIT_NORMAL;
	return DAIMON_CONTINUE;
}

static void worker_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)ctx, (void)reason;
	free(state);
}

static const daimon_behaviour worker_b = {.name = "worker", .handle = worker_handle, .terminate = worker_terminate};
static const char *const worker_names[3] = {"w0", "w1", "w2"};

static daimon_aid start_sup(daimon_rt *rt, enum daimon_strategy strategy, enum daimon_restart restart, int max)
{
	static daimon_child_spec specs[3];
	for (int i = 0; i < 3; i++) {
		atomic_store(&starts[i], 0);
		specs[i] = (daimon_child_spec){worker_names[i], &worker_b, worker_state, (void *)(intptr_t)i, restart};
	}
	daimon_sup_spec spec = {strategy, max, 10000, specs, 3};
	return daimon_supervisor_start(rt, &spec, 0);
}

/* Crashes child `i` and waits until its replacement (if any) is named. */
static int crash_child(daimon_rt *rt, int i, int msg)
{
	daimon_aid old = daimon_whereis(rt, worker_names[i]);
	if (!old)
		return -1;
	daimon_send(rt, old, msg, NULL, 0);
	uint64_t t0 = daimon_mono_ns();
	while (daimon_mono_ns() - t0 < 2000000000ull) {
		daimon_aid now = daimon_whereis(rt, worker_names[i]); /* (0: gone, not yet back) */
		if (now && now != old && !daimon_alive(rt, old))
			return 0;
		usleep(1000);
	}
	return -1;
}

static void test_supervisor__one_for_one_restarts_only_the_crashed_child(void)
{
	daimon_rt *rt = rt_new(2);
	start_sup(rt, DAIMON_ONE_FOR_ONE, DAIMON_PERMANENT, 5);
	EVENTUALLY(daimon_whereis(rt, "w2") != 0);
	CHECK_INT(crash_child(rt, 1, 98), 0);
	EVENTUALLY(daimon_whereis(rt, "w1") != 0);
	CHECK_INT(atomic_load(&starts[0]), 1);
	CHECK_INT(atomic_load(&starts[1]), 2);
	CHECK_INT(atomic_load(&starts[2]), 1);
	CHECK_INT(daimon_rt_count(rt), 4);
	daimon_rt_free(rt);
}

static void test_supervisor__one_for_all_restarts_every_child(void)
{
	daimon_rt *rt = rt_new(2);
	start_sup(rt, DAIMON_ONE_FOR_ALL, DAIMON_PERMANENT, 5);
	EVENTUALLY(daimon_whereis(rt, "w2") != 0);
	CHECK_INT(crash_child(rt, 1, 98), 0);
	EVENTUALLY(atomic_load(&starts[0]) == 2 && atomic_load(&starts[2]) == 2);
	CHECK_INT(atomic_load(&starts[1]), 2);
	EVENTUALLY(daimon_rt_count(rt) == 4);
	daimon_rt_free(rt);
}

static void test_supervisor__rest_for_one_restarts_it_and_those_after(void)
{
	daimon_rt *rt = rt_new(2);
	start_sup(rt, DAIMON_REST_FOR_ONE, DAIMON_PERMANENT, 5);
	EVENTUALLY(daimon_whereis(rt, "w2") != 0);
	CHECK_INT(crash_child(rt, 1, 98), 0);
	EVENTUALLY(atomic_load(&starts[2]) == 2);
	CHECK_INT(atomic_load(&starts[0]), 1);
	CHECK_INT(atomic_load(&starts[1]), 2);
	EVENTUALLY(daimon_rt_count(rt) == 4);
	daimon_rt_free(rt);
}

static void test_supervisor__transient_and_temporary_children(void)
{
	daimon_rt *rt = rt_new(2);
	start_sup(rt, DAIMON_ONE_FOR_ONE, DAIMON_TRANSIENT, 5);
	EVENTUALLY(daimon_whereis(rt, "w2") != 0);
	daimon_send(rt, daimon_whereis(rt, "w0"), 99, NULL, 0); /* a normal exit: stays down */
	EVENTUALLY(daimon_rt_count(rt) == 3);
	CHECK_INT(crash_child(rt, 1, 98), 0); /* a crash: restarted */
	EVENTUALLY(atomic_load(&starts[1]) == 2);
	CHECK_INT(atomic_load(&starts[0]), 1);
	daimon_rt_free(rt);

	rt = rt_new(2);
	start_sup(rt, DAIMON_ONE_FOR_ONE, DAIMON_TEMPORARY, 5);
	EVENTUALLY(daimon_whereis(rt, "w2") != 0);
	daimon_send(rt, daimon_whereis(rt, "w1"), 98, NULL, 0);
	EVENTUALLY(daimon_rt_count(rt) == 3);
	usleep(20000);
	CHECK_INT(atomic_load(&starts[1]), 1);
	daimon_rt_free(rt);
}

static void test_supervisor__too_many_restarts_escalate(void)
{
	daimon_rt *rt = rt_new(2);
	daimon_aid sup = start_sup(rt, DAIMON_ONE_FOR_ONE, DAIMON_PERMANENT, 3);
	struct watcher w = {0};
	w.target = sup;
	daimon_spawn_opts wo = {.behaviour = &watcher_b, .state = &w};
	daimon_aid watcher = daimon_spawn(rt, &wo);
	daimon_send(rt, watcher, 1, NULL, 0); /* monitors the supervisor */
	EVENTUALLY(daimon_whereis(rt, "w2") != 0);
	usleep(10000);
	for (int k = 0; k < 3; k++)
		CHECK_INT(crash_child(rt, 0, 98), 0);
	CHECK_INT(atomic_load(&starts[0]), 4);
	daimon_send(rt, daimon_whereis(rt, "w0"), 98, NULL, 0); /* the fourth in 10 s: too many */
	EVENTUALLY(atomic_load(&w.downs) == 1);
	CHECK_INT(atomic_load(&w.reason), DAIMON_EXIT_SHUTDOWN);
	EVENTUALLY(daimon_rt_count(rt) == 1); /* only the watcher: the children went with it */
	daimon_rt_free(rt);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	static const struct test_case cases[] = {
		TEST_CASE(test_actor__messages_from_one_sender_arrive_in_order),
		TEST_CASE(test_actor__a_flooding_actor_does_not_starve_others),
		TEST_CASE(test_actor__a_stale_id_never_reaches_a_new_actor),
		TEST_CASE(test_actor__a_crash_propagates_over_links_unless_trapped),
		TEST_CASE(test_actor__monitors_get_down_with_the_reason),
		TEST_CASE(test_actor__a_demonitored_actor_sends_no_down),
		TEST_CASE(test_cold__objects_are_packed_reused_and_zeroed),
		TEST_CASE(test_actor__a_cancelled_timer_leaves_nothing_behind),
		TEST_CASE(test_actor__timers_fire_repeat_and_cancel),
		TEST_CASE(test_actor__a_sooner_timer_wakes_a_sleeping_event_thread),
		TEST_CASE(test_actor__cancelling_a_tree_of_10000_leaves_nothing_behind),
		TEST_CASE(test_actor__hibernate_drops_state_and_the_next_message_wakes_it),
		TEST_CASE(test_actor__bounded_mailbox_refuses_when_full),
		TEST_CASE(test_actor__registry_and_snapshot),
		TEST_CASE(test_actor__bounded_mailbox_can_slow_the_sender_instead),
		TEST_CASE(test_actor__cancel_deadline_stops_an_actor_that_does_not_finish),
		TEST_CASE(test_actor__a_child_process_exit_is_a_message),
		TEST_CASE(test_actor__freeing_the_runtime_reaps_children_still_running),
		TEST_CASE(test_supervisor__one_for_one_restarts_only_the_crashed_child),
		TEST_CASE(test_supervisor__one_for_all_restarts_every_child),
		TEST_CASE(test_supervisor__rest_for_one_restarts_it_and_those_after),
		TEST_CASE(test_supervisor__transient_and_temporary_children),
		TEST_CASE(test_supervisor__too_many_restarts_escalate),
		{0},
	};
	return test_main(argc, argv, cases);
}
