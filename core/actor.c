/*
 * actor.c — the actor runtime (see actor.h for the model).
 *
 * MAILBOX. Each actor's mailbox is Vyukov's intrusive MPSC queue with the
 * Pony runtime's twist: the head pointer carries an "empty" tag bit. A
 * sender does one atomic exchange; if the previous head was tagged, the
 * actor was idle and the sender schedules it. The actor, finding its
 * queue empty, tags the head with a CAS that fails if a message arrived
 * meanwhile, in which case it stays scheduled. So an actor is on a run
 * queue exactly when its mailbox is untagged.
 *
 * MEMORY AND IDENTITY. Actor structs are allocated in chunks and never
 * freed while the runtime lives: a slot is reused by later actors. Every
 * message carries the generation its sender saw; the receiving side drops
 * messages whose generation is not the current one. So a sender racing
 * with an exit can push into a recycled mailbox, but its message never
 * reaches the new actor. daimon_aid = generation << 32 | slot index + 1.
 *
 * OWNERSHIP. An actor's links, monitors, children and resources are only
 * touched on the thread running that actor; other actors ask through
 * system messages (link, monitor, exit signal, cancel, child gone), which
 * the runtime handles in the target's turn before the behaviour sees them.
 *
 * SCHEDULERS. N threads, each with its own run queue (a mutex-protected
 * list, almost never contended); an actor made runnable from a handler
 * goes onto the running thread's queue (so a ping-pong pair stays on one
 * core), from outside onto a round-robin one; idle threads steal, then
 * one of them spins a moment (looking at epoll too, as the BEAM's
 * schedulers poll for I/O), then they sleep. The event thread owns the
 * timer heap and sleeps in epoll: watched fds and child processes
 * (pidfds); what happens there arrives as messages.
 */
#include "core/actor.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/cold.h"
#include "core/error.h"
#include "core/timefmt.h"

/* ---- messages and mailboxes ---- */

struct msg {
	_Atomic(struct msg *) next;
	int type;
	uint32_t to_gen; /* the generation of the actor it was sent to */
	daimon_aid from;
	uint64_t ref;
	int64_t arg;
	size_t len;
	unsigned char data[];
};

struct mailbox {
	_Atomic uintptr_t head; /* last pushed message; bit 0: empty and idle */
	struct msg *tail;       /* last taken message (or the stub) */
};

static struct msg *msg_new(int type, const void *data, size_t len)
{
	struct msg *m = daimon_xmalloc(sizeof(*m) + len);
	atomic_store_explicit(&m->next, NULL, memory_order_relaxed);
	m->type = type;
	m->to_gen = 0;
	m->from = 0;
	m->ref = 0;
	m->arg = 0;
	m->len = len;
	if (len)
		memcpy(m->data, data, len);
	return m;
}

/* The stub that starts every mailbox is not a message the mailbox may
 * free: stubs are allocated a chunk at a time, next to their actors. */
#define MSG_STUB INT32_MIN

static void mailbox_init(struct mailbox *q, struct msg *stub)
{
	atomic_store_explicit(&stub->next, NULL, memory_order_relaxed);
	stub->type = MSG_STUB;
	q->tail = stub;
	atomic_store_explicit(&q->head, (uintptr_t)stub | 1, memory_order_relaxed);
}

/* Returns 1 if the mailbox was empty and idle: the caller schedules. */
static int mailbox_push(struct mailbox *q, struct msg *m)
{
	atomic_store_explicit(&m->next, NULL, memory_order_relaxed);
	uintptr_t prev = atomic_exchange_explicit(&q->head, (uintptr_t)m, memory_order_acq_rel);
	struct msg *p = (struct msg *)(prev & ~(uintptr_t)1);
	atomic_store_explicit(&p->next, m, memory_order_release);
	return (int)(prev & 1);
}

/* The next message, or NULL. The message stays the tail (owned by the
 * queue) until the next pop, which frees it. */
static struct msg *mailbox_pop(struct mailbox *q)
{
	struct msg *tail = q->tail;
	struct msg *next = atomic_load_explicit(&tail->next, memory_order_acquire);
	if (!next)
		return NULL;
	q->tail = next;
	if (tail->type != MSG_STUB)
		free(tail);
	return next;
}

/* Tags the mailbox empty if nothing was pushed since the last pop. */
static int mailbox_mark_empty(struct mailbox *q)
{
	uintptr_t expect = (uintptr_t)q->tail;
	return atomic_compare_exchange_strong_explicit(&q->head, &expect, expect | 1, memory_order_acq_rel,
						       memory_order_relaxed);
}

/* ---- actors ---- */

struct idset {
	daimon_aid *v;
	uint32_t n, cap;
};

struct monitor {
	daimon_aid watcher;
	uint64_t ref;
};

struct timer;
struct watch;

struct daimon_actor {
	struct mailbox mb;
	struct daimon_actor *run_next;
	_Atomic uint32_t gen; /* current generation; bumped when the actor exits */
	_Atomic int live;
	uint32_t index;
	daimon_rt *rt;
	const daimon_behaviour *b;
	void *state;
	daimon_aid parent;
	_Atomic(const daimon_behaviour *) shown_b; /* copies for introspection */
	_Atomic daimon_aid shown_parent;
	_Atomic uint32_t nchildren;
	int flags; /* DAIMON_SPAWN_* */
	int trap_exit, cancelling, hibernated, want_hibernate, exiting;
	_Atomic int named; /* names registered for it (exit skips the registry when 0) */
	struct idset links, children;
	struct monitor *monitors;
	uint32_t nmonitors, capmonitors;
	struct timer **timers;
	uint32_t ntimers, captimers;
	struct watch **watches;
	uint32_t nwatches, capwatches;
	struct timer *deadline; /* cancellation deadline */
	size_t bound;
	enum daimon_overload overload;
	/* introspection: written by the owner, read by snapshots */
	_Atomic size_t queued;
	_Atomic uint64_t handled;
	_Atomic(const char *) op;
	_Atomic int64_t op_since;
	_Atomic(const char *) label;
	_Atomic size_t mem;
	char *name;
};

struct daimon_ctx {
	daimon_actor *a;
};

/* ---- runtime ---- */

#define CHUNK_BITS 12
#define CHUNK (1u << CHUNK_BITS)
#define MAX_CHUNKS 65536

struct sched {
	pthread_t thread;
	pthread_mutex_t mu;
	daimon_actor *head, *tail; /* the shared run queue (others may steal) */
	daimon_actor *runnext;     /* this thread's own: made runnable by its last turn */
	int runnext_streak;        /* turns in a row taken from runnext */
	daimon_rt *rt;
	int index;
};

struct timer {
	int64_t due;      /* monotonic ns */
	int64_t interval; /* ns, 0: one-shot */
	daimon_aid owner;
	uint64_t id;
	_Atomic int refs; /* the heap's and the owner's */
	_Atomic int cancelled;
	size_t slot; /* its index in the heap (under ev_mu); NOT_IN_HEAP once out */
};

#define NOT_IN_HEAP ((size_t)-1)

struct watch {
	uint64_t id;
	int fd;
	uint32_t events;  /* what the owner waits for (armed one-shot) */
	pid_t pid;        /* a child process: fd is its pidfd */
	int borrowed;     /* the fd is not the runtime's to close */
	daimon_aid owner; /* 0: a child to reap silently (its owner has gone) */
	int closed;
	struct watch *next_dead;
};

struct name_entry { /* in cold memory (cold.h): names live as long as their actors */
	daimon_aid id;
	struct name_entry *next;
	char name[];
};

static size_t name_size(const char *name)
{
	return sizeof(struct name_entry) + strlen(name) + 1;
}

struct daimon_rt {
	int nsched, batch;
	struct sched *scheds;
	_Atomic unsigned rr;
	_Atomic int stop;
	_Atomic int sleeping;
	_Atomic int runnable; /* actors on the shared run queues */
	_Atomic int spinning; /* an idle scheduler is spinning (one at a time) */
	int64_t ev_deadline;  /* (ev_mu) when the event thread wakes at the latest */
	pthread_mutex_t sleep_mu;
	pthread_cond_t sleep_cv;
	/* actor slots */
	pthread_mutex_t slot_mu;
	_Atomic(daimon_actor *) chunks[MAX_CHUNKS];
	unsigned char *stubs[MAX_CHUNKS]; /* each chunk's mailbox stubs (under slot_mu) */
	uint32_t nslots;
	uint32_t *free_slots;
	uint32_t nfree, capfree;
	_Atomic size_t live;
	pthread_mutex_t idle_mu;
	pthread_cond_t idle_cv;
	/* registry */
	pthread_mutex_t reg_mu;
	struct name_entry *names[1024];
	daimon_cold *cold; /* names and hibernated states (cold.h) */
	/* event thread */
	pthread_t event_thread;
	int epfd, evfd;
	pthread_mutex_t ev_mu;
	struct timer **heap;
	size_t nheap, capheap;
	_Atomic uint64_t next_id;
	_Atomic size_t nwatch_live; /* watches not yet freed */
	struct watch *graveyard;
	/* services the runtime owns (daimon_rt_service) */
	pthread_mutex_t svc_mu;
	void *svc[DAIMON_RT_SERVICES];
	void (*svc_destroy[DAIMON_RT_SERVICES])(void *);
	int svc_closed; /* (under svc_mu) the runtime is going: no service is made */
};

static _Thread_local struct sched *this_sched;
static _Thread_local daimon_actor *this_actor;

static daimon_actor *slot(daimon_rt *rt, uint32_t index)
{
	daimon_actor *chunk = atomic_load_explicit(&rt->chunks[index >> CHUNK_BITS], memory_order_acquire);
	return chunk ? &chunk[index & (CHUNK - 1)] : NULL;
}

static daimon_aid make_aid(uint32_t index, uint32_t gen)
{
	return ((uint64_t)gen << 32) | (uint64_t)(index + 1);
}

/* The actor `id` names, or NULL if it is not alive. */
static daimon_actor *lookup(daimon_rt *rt, daimon_aid id)
{
	uint32_t lo = (uint32_t)id;
	if (!lo || (lo - 1) >= (uint32_t)MAX_CHUNKS * CHUNK)
		return NULL;
	daimon_actor *a = slot(rt, lo - 1);
	if (!a || atomic_load_explicit(&a->gen, memory_order_acquire) != (uint32_t)(id >> 32) ||
	    !atomic_load_explicit(&a->live, memory_order_acquire))
		return NULL;
	return a;
}

static daimon_aid aid_of(daimon_actor *a)
{
	return make_aid(a->index, atomic_load_explicit(&a->gen, memory_order_relaxed));
}

/* ---- scheduling ---- */

/* An idle scheduler looks for work (and ready fds) this long before it
 * sleeps, as the BEAM's schedulers busy-wait: a reply that comes back
 * within it is handled without two thread wake-ups (the event thread's,
 * then a scheduler's), which cost more than the reply's own round trip.
 * One scheduler spins at a time, so the others leave the cores free. */
#define SPIN_NS 20000

static void wake_one(daimon_rt *rt)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&rt->sleeping, memory_order_relaxed) > 0) {
		pthread_mutex_lock(&rt->sleep_mu);
		pthread_cond_signal(&rt->sleep_cv);
		pthread_mutex_unlock(&rt->sleep_mu);
	}
}

static void push_queue(struct sched *s, daimon_actor *a)
{
	pthread_mutex_lock(&s->mu);
	atomic_fetch_add_explicit(&s->rt->runnable, 1, memory_order_relaxed);
	a->run_next = NULL;
	if (s->tail)
		s->tail->run_next = a;
	else
		s->head = a;
	s->tail = a;
	pthread_mutex_unlock(&s->mu);
}

/* An actor made runnable by a handler goes to its thread's runnext slot:
 * no lock, no wake-up, and it runs right after the current turn (a
 * ping-pong pair stays on one core, as on the BEAM). What it displaces
 * goes to the shared queue, where an idle thread may steal it. */
static void schedule(daimon_rt *rt, daimon_actor *a)
{
	struct sched *s = this_sched;
	if (s && s->rt == rt) {
		daimon_actor *old = s->runnext;
		s->runnext = a;
		if (!old)
			return;
		a = old;
	} else {
		s = &rt->scheds[atomic_fetch_add_explicit(&rt->rr, 1, memory_order_relaxed) % rt->nsched];
	}
	push_queue(s, a);
	wake_one(rt);
}

static daimon_actor *take(struct sched *s)
{
	pthread_mutex_lock(&s->mu);
	daimon_actor *a = s->head;
	if (a) {
		atomic_fetch_sub_explicit(&s->rt->runnable, 1, memory_order_relaxed);
		s->head = a->run_next;
		if (!s->head)
			s->tail = NULL;
	}
	pthread_mutex_unlock(&s->mu);
	return a;
}

static daimon_actor *find_work(struct sched *s)
{
	daimon_rt *rt = s->rt;
	daimon_actor *a = s->runnext;
	if (a) {
		s->runnext = NULL;
		/* A pair ping-ponging through runnext must not starve the queue. */
		if (++s->runnext_streak < 64)
			return a;
		push_queue(s, a);
	}
	s->runnext_streak = 0;
	a = take(s);
	for (int i = 1; !a && i < rt->nsched; i++)
		a = take(&rt->scheds[(s->index + i) % rt->nsched]);
	return a;
}

/* ---- sending ---- */

static void enqueue(daimon_rt *rt, daimon_actor *a, uint32_t gen, struct msg *m)
{
	m->to_gen = gen;
	atomic_fetch_add_explicit(&a->queued, 1, memory_order_relaxed);
	if (mailbox_push(&a->mb, m))
		schedule(rt, a);
}

/* Sends a message built by the runtime. Frees it and returns
 * DAIMON_ENOTFOUND if the target has gone. */
static int post(daimon_rt *rt, daimon_aid to, struct msg *m)
{
	daimon_actor *a = lookup(rt, to);
	if (!a) {
		free(m);
		return DAIMON_ENOTFOUND;
	}
	if (!m->from && this_actor)
		m->from = aid_of(this_actor);
	enqueue(rt, a, (uint32_t)(to >> 32), m);
	return 0;
}

static int post_sys(daimon_rt *rt, daimon_aid to, int type, uint64_t ref, int64_t arg)
{
	struct msg *m = msg_new(type, NULL, 0);
	m->ref = ref;
	m->arg = arg;
	return post(rt, to, m);
}

int daimon_send_from(daimon_rt *rt, daimon_aid from, daimon_aid to, int type, const void *data, size_t len)
{
	if (type < 0)
		return daimon_error_code(DAIMON_EINVAL, "message types below 0 are the runtime's");
	daimon_actor *a = lookup(rt, to);
	if (!a)
		return daimon_error_code(DAIMON_ENOTFOUND, "no actor %llx", (unsigned long long)to);
	if (a->bound) {
		/* Bounded mailbox: refuse, or back off until the receiver catches up. */
		for (int spins = 0; atomic_load_explicit(&a->queued, memory_order_relaxed) >= a->bound; spins++) {
			if (a->overload == DAIMON_OVERLOAD_REFUSE || this_actor)
				return daimon_error_code(DAIMON_EBUSY, "mailbox of actor %llx is full",
							 (unsigned long long)to);
			if (!atomic_load_explicit(&a->live, memory_order_relaxed))
				break;
			struct timespec ts = {0, spins < 100 ? 1000 : 100000};
			nanosleep(&ts, NULL);
		}
	}
	struct msg *m = msg_new(type, data, len);
	m->from = from;
	enqueue(rt, a, (uint32_t)(to >> 32), m);
	return 0;
}

int daimon_send(daimon_rt *rt, daimon_aid to, int type, const void *data, size_t len)
{
	return daimon_send_from(rt, this_actor ? aid_of(this_actor) : 0, to, type, data, len);
}

/* Messages the runtime handles itself, in the target's turn. */
enum {
	SYS_LINK = -100,
	SYS_UNLINK,
	SYS_MONITOR,
	SYS_DEMONITOR,
	SYS_EXIT_SIGNAL, /* a linked actor exited; arg = reason */
	SYS_CHILD_GONE,
	SYS_KILL,
	SYS_ADOPT, /* a child spawned from outside a handler joins its parent's tree */
	SYS_INIT,  /* the first message of an actor whose behaviour has init */
};

/* ---- small sets, owned by one actor ---- */

static void idset_add(struct idset *s, daimon_aid id)
{
	for (uint32_t i = 0; i < s->n; i++)
		if (s->v[i] == id)
			return;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 4;
		s->v = daimon_xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = id;
}

static void idset_del(struct idset *s, daimon_aid id)
{
	for (uint32_t i = 0; i < s->n; i++)
		if (s->v[i] == id) {
			s->v[i] = s->v[--s->n];
			return;
		}
}

#define PUSH(arr, n, cap, item)                                                 \
	do {                                                                    \
		if ((n) == (cap)) {                                             \
			(cap) = (cap) ? 2 * (cap) : 4;                          \
			(arr) = daimon_xrealloc((arr), (cap) * sizeof(*(arr))); \
		}                                                               \
		(arr)[(n)++] = (item);                                          \
	} while (0)

/* An actor watched by a few (a session by the daemon's table) keeps
 * them in cold memory: the array lives as long as the actor, hibernated
 * too, and malloc would put it among the churn of the turns, pinning a
 * page each (core/cold.h). More than MONITORS_COLD go to the heap. */
#define MONITORS_COLD 4

static void monitors_free(daimon_actor *a)
{
	if (a->capmonitors == MONITORS_COLD)
		daimon_cold_free(a->rt->cold, a->monitors, MONITORS_COLD * sizeof(*a->monitors));
	else
		free(a->monitors);
	a->monitors = NULL;
	a->nmonitors = a->capmonitors = 0;
}

static void monitors_push(daimon_actor *a, struct monitor mon)
{
	if (!a->capmonitors) {
		a->monitors = daimon_cold_alloc(a->rt->cold, MONITORS_COLD * sizeof(*a->monitors));
		a->capmonitors = MONITORS_COLD;
	} else if (a->nmonitors == a->capmonitors) {
		struct monitor *more = daimon_xmalloc(2 * a->capmonitors * sizeof(*more));
		memcpy(more, a->monitors, a->nmonitors * sizeof(*more));
		uint32_t n = a->nmonitors, cap = 2 * a->capmonitors;
		monitors_free(a);
		a->monitors = more;
		a->nmonitors = n;
		a->capmonitors = cap;
	}
	a->monitors[a->nmonitors++] = mon;
}

/* An actor with no timer left keeps no array: an idle (hibernated) actor
 * holds nothing that pins the heap. */
#define timers_shrink(a)                    \
	do {                                \
		if (!(a)->ntimers) {        \
			free((a)->timers);  \
			(a)->timers = NULL; \
			(a)->captimers = 0; \
		}                           \
	} while (0)

/* ---- timers: a heap owned by the event thread, under ev_mu ---- */

static void heap_swap(daimon_rt *rt, size_t i, size_t j)
{
	struct timer *t = rt->heap[i];
	rt->heap[i] = rt->heap[j];
	rt->heap[j] = t;
	rt->heap[i]->slot = i;
	rt->heap[j]->slot = j;
}

static void heap_up(daimon_rt *rt, size_t i)
{
	while (i > 0 && rt->heap[(i - 1) / 2]->due > rt->heap[i]->due) {
		heap_swap(rt, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(daimon_rt *rt, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < rt->nheap && rt->heap[l]->due < rt->heap[m]->due)
			m = l;
		if (r < rt->nheap && rt->heap[r]->due < rt->heap[m]->due)
			m = r;
		if (m == i)
			return;
		heap_swap(rt, i, m);
		i = m;
	}
}

static void timer_unref(struct timer *t)
{
	if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
		free(t);
}

static void poke_event_thread(daimon_rt *rt)
{
	uint64_t one = 1;
	if (write(rt->evfd, &one, sizeof(one)) < 0) {
		/* the counter is full: the thread is awake anyway */
	}
}

static struct timer *timer_add(daimon_rt *rt, daimon_actor *owner, int64_t ms, int64_t interval_ms)
{
	struct timer *t = daimon_xcalloc(1, sizeof(*t));
	t->due = (int64_t)daimon_mono_ns() + ms * 1000000;
	t->interval = interval_ms * 1000000;
	t->owner = aid_of(owner);
	t->id = atomic_fetch_add_explicit(&rt->next_id, 1, memory_order_relaxed);
	atomic_store_explicit(&t->refs, 2, memory_order_relaxed);
	pthread_mutex_lock(&rt->ev_mu);
	t->slot = rt->nheap;
	PUSH(rt->heap, rt->nheap, rt->capheap, t);
	heap_up(rt, rt->nheap - 1);
	/* The event thread wakes by its deadline anyway: it need hear only of
	 * a timer due before that (a call's timeout, set and cancelled once per
	 * call, would otherwise cost it a wake-up per call). */
	int poke = rt->heap[0] == t && t->due < rt->ev_deadline;
	if (poke)
		rt->ev_deadline = t->due;
	pthread_mutex_unlock(&rt->ev_mu);
	if (poke)
		poke_event_thread(rt);
	return t;
}

/* A cancelled timer leaves the heap now, not at its deadline: an idle
 * actor leaves nothing behind (a minute's first-token timer per turn of
 * ten thousand sessions would otherwise hold their memory that long). */
static void timer_drop(daimon_rt *rt, struct timer *t)
{
	atomic_store_explicit(&t->cancelled, 1, memory_order_release);
	pthread_mutex_lock(&rt->ev_mu);
	size_t i = t->slot;
	if (i != NOT_IN_HEAP && i < rt->nheap && rt->heap[i] == t) {
		rt->heap[i] = rt->heap[--rt->nheap];
		rt->heap[i]->slot = i;
		t->slot = NOT_IN_HEAP;
		if (i < rt->nheap) {
			heap_down(rt, i);
			heap_up(rt, i);
		}
		timer_unref(t); /* the heap's reference */
	}
	pthread_mutex_unlock(&rt->ev_mu);
	timer_unref(t);
}

/* ---- fds and child processes ---- */

/* Gives up a watch: a running child is killed (the event thread reaps it
 * and frees the watch); anything else is closed and handed to the event
 * thread to free after its current batch, which may still name it. */
static void close_watch(daimon_rt *rt, struct watch *w)
{
	pthread_mutex_lock(&rt->ev_mu);
	if (w->pid && !w->closed) {
		kill(w->pid, SIGKILL); /* not reaped yet, so the pid is still this child's */
		w->owner = 0;
		pthread_mutex_unlock(&rt->ev_mu);
		return;
	}
	if (!w->closed) {
		epoll_ctl(rt->epfd, EPOLL_CTL_DEL, w->fd, NULL);
		if (!w->borrowed)
			close(w->fd);
		w->closed = 1;
	}
	w->next_dead = rt->graveyard;
	rt->graveyard = w;
	pthread_mutex_unlock(&rt->ev_mu);
	poke_event_thread(rt);
}

static void rearm_fd(daimon_rt *rt, daimon_actor *a, uint64_t ref)
{
	for (uint32_t i = 0; i < a->nwatches; i++) {
		struct watch *w = a->watches[i];
		if (w->id == ref && !w->pid) {
			struct epoll_event ev = {.events = w->events | EPOLLONESHOT, .data.ptr = w};
			epoll_ctl(rt->epfd, EPOLL_CTL_MOD, w->fd, &ev);
		}
	}
}

/* ---- exit ---- */

static void unregister_all(daimon_rt *rt, daimon_actor *a);

static void free_slot(daimon_rt *rt, daimon_actor *a)
{
	pthread_mutex_lock(&rt->slot_mu);
	PUSH(rt->free_slots, rt->nfree, rt->capfree, a->index);
	pthread_mutex_unlock(&rt->slot_mu);
	if (atomic_fetch_sub_explicit(&rt->live, 1, memory_order_acq_rel) == 1) {
		pthread_mutex_lock(&rt->idle_mu);
		pthread_cond_broadcast(&rt->idle_cv);
		pthread_mutex_unlock(&rt->idle_mu);
	}
}

/* Ends the actor: its behaviour's terminate, then exit signals to links,
 * DOWN to monitors, word to its parent, cancellation to its children, and
 * every timer, fd and child process it owns released. */
static void actor_exit(daimon_actor *a, int reason)
{
	daimon_rt *rt = a->rt;
	if (a->exiting)
		return;
	a->exiting = 1;
	daimon_aid self = aid_of(a);
	daimon_ctx ctx = {a};
	if (a->b->terminate)
		a->b->terminate(&ctx, a->state, reason);
	/* Stale from here: sends to this id fail; late messages are dropped. */
	atomic_store_explicit(&a->live, 0, memory_order_release);
	atomic_fetch_add_explicit(&a->gen, 1, memory_order_acq_rel);
	for (uint32_t i = 0; i < a->links.n; i++) {
		struct msg *m = msg_new(SYS_EXIT_SIGNAL, NULL, 0);
		m->from = self;
		m->arg = reason;
		post(rt, a->links.v[i], m);
	}
	for (uint32_t i = 0; i < a->nmonitors; i++) {
		struct msg *m = msg_new(DAIMON_MSG_DOWN, NULL, 0);
		m->from = self;
		m->ref = a->monitors[i].ref;
		m->arg = reason;
		post(rt, a->monitors[i].watcher, m);
	}
	if ((a->flags & DAIMON_SPAWN_CHILD) && a->parent) {
		struct msg *m = msg_new(SYS_CHILD_GONE, NULL, 0);
		m->from = self;
		post(rt, a->parent, m);
	}
	for (uint32_t i = 0; i < a->children.n; i++) /* nothing outlives its parent */
		post_sys(rt, a->children.v[i], SYS_KILL, 0, 0);
	for (uint32_t i = 0; i < a->ntimers; i++)
		timer_drop(a->rt, a->timers[i]);
	if (a->deadline)
		timer_drop(a->rt, a->deadline);
	for (uint32_t i = 0; i < a->nwatches; i++)
		close_watch(rt, a->watches[i]);
	unregister_all(rt, a);
	free(a->links.v);
	free(a->children.v);
	monitors_free(a);
	free(a->timers);
	free(a->watches);
	a->state = NULL;
	free_slot(rt, a);
}

/* ---- cancellation ---- */

static void cancel_self(daimon_actor *a)
{
	int reason = DAIMON_EXIT_CANCELLED;
	if (a->b->on_cancel) {
		daimon_ctx ctx = {a};
		reason = a->b->on_cancel(&ctx, a->state);
	}
	if (reason != DAIMON_CONTINUE)
		actor_exit(a, reason == DAIMON_EXIT_NORMAL ? DAIMON_EXIT_CANCELLED : reason);
}

static void start_cancel(daimon_actor *a, int64_t deadline_ms)
{
	if (a->cancelling)
		return;
	a->cancelling = 1;
	a->deadline = timer_add(a->rt, a, deadline_ms > 0 ? deadline_ms : 1, 0);
	/* Children first: this actor goes when the last of them has gone. */
	for (uint32_t i = 0; i < a->children.n; i++)
		post_sys(a->rt, a->children.v[i], DAIMON_MSG_CANCEL, 0, deadline_ms);
	if (!a->children.n)
		cancel_self(a);
}

/* ---- running an actor ---- */

/* Handles what the runtime handles; returns 1 if the behaviour should see
 * the message too. */
static int system_message(daimon_actor *a, struct msg *m)
{
	switch (m->type) {
	case SYS_LINK:
		idset_add(&a->links, m->from);
		return 0;
	case SYS_UNLINK:
		idset_del(&a->links, m->from);
		return 0;
	case SYS_MONITOR: {
		monitors_push(a, (struct monitor){m->from, m->ref});
		return 0;
	}
	case SYS_DEMONITOR:
		for (uint32_t i = 0; i < a->nmonitors; i++)
			if (a->monitors[i].watcher == m->from && a->monitors[i].ref == m->ref) {
				a->monitors[i] = a->monitors[--a->nmonitors];
				break;
			}
		if (!a->nmonitors) /* (an actor watched once keeps no array) */
			monitors_free(a);
		return 0;
	case SYS_CHILD_GONE:
		idset_del(&a->children, m->from);
		atomic_store_explicit(&a->nchildren, a->children.n, memory_order_relaxed);
		if (a->cancelling && !a->children.n)
			cancel_self(a);
		return 0;
	case SYS_KILL:
		actor_exit(a, DAIMON_EXIT_KILLED);
		return 0;
	case SYS_INIT: {
		daimon_ctx ctx = {a};
		int rc = a->b->init(&ctx, a->state);
		if (rc != DAIMON_CONTINUE)
			actor_exit(a, rc);
		return 0;
	}
	case SYS_ADOPT:
		idset_add(&a->children, m->from);
		atomic_store_explicit(&a->nchildren, a->children.n, memory_order_relaxed);
		return 0;
	case SYS_EXIT_SIGNAL:
		idset_del(&a->links, m->from);
		if (a->trap_exit) {
			m->type = DAIMON_MSG_EXIT;
			return 1;
		}
		if (m->arg != DAIMON_EXIT_NORMAL)
			actor_exit(a, (int)m->arg);
		return 0;
	case DAIMON_MSG_CANCEL:
		start_cancel(a, m->arg);
		return 0;
	case DAIMON_MSG_TIMER:
		if (a->deadline && m->ref == a->deadline->id) {
			/* The cancellation deadline: stop what is left, then go. */
			actor_exit(a, DAIMON_EXIT_CANCELLED);
			return 0;
		}
		for (uint32_t i = 0; i < a->ntimers; i++) {
			if (a->timers[i]->id != m->ref)
				continue;
			if (!a->timers[i]->interval) { /* one-shot: done */
				timer_drop(a->rt, a->timers[i]);
				a->timers[i] = a->timers[--a->ntimers];
				timers_shrink(a);
			}
			return 1;
		}
		return 0; /* cancelled after it fired */
	case DAIMON_MSG_FD:
		for (uint32_t i = 0; i < a->nwatches; i++)
			if (a->watches[i]->id == m->ref)
				return 1;
		return 0;
	case DAIMON_MSG_CHILD:
		for (uint32_t i = 0; i < a->nwatches; i++) {
			struct watch *w = a->watches[i];
			if (w->pid && (uint64_t)w->pid == m->ref) {
				a->watches[i] = a->watches[--a->nwatches];
				close_watch(a->rt, w); /* reaped by the event thread: only freeing is left */
				return 1;
			}
		}
		return 0;
	default:
		return 1;
	}
}

/* One turn: up to `batch` messages. Returns 1 if the actor should go back
 * on a run queue. */
static int run_turn(daimon_rt *rt, daimon_actor *a)
{
	this_actor = a;
	daimon_ctx ctx = {a};
	for (int i = 0; i < rt->batch; i++) {
		struct msg *m = mailbox_pop(&a->mb);
		if (!m) {
			this_actor = NULL;
			/* Idle: tag the mailbox, unless a message is on its way. */
			return !mailbox_mark_empty(&a->mb);
		}
		atomic_fetch_sub_explicit(&a->queued, 1, memory_order_relaxed);
		if (m->to_gen != atomic_load_explicit(&a->gen, memory_order_acquire) ||
		    !atomic_load_explicit(&a->live, memory_order_acquire))
			continue; /* for an earlier actor in this slot, or after its exit */
		if (!system_message(a, m) || a->exiting)
			continue;
		if (a->hibernated) {
			if (a->b->wake)
				a->state = a->b->wake(&ctx, a->state);
			a->hibernated = 0;
		}
		daimon_msg um = {m->type, m->from, m->ref, m->arg, m->len, m->data};
		int rc = a->b->handle(&ctx, a->state, &um);
		atomic_fetch_add_explicit(&a->handled, 1, memory_order_relaxed);
		if (rc != DAIMON_CONTINUE) {
			actor_exit(a, rc);
			continue;
		}
		if (m->type == DAIMON_MSG_FD)
			rearm_fd(rt, a, m->ref);
		if (a->want_hibernate && a->b->hibernate) {
			a->state = a->b->hibernate(&ctx, a->state);
			a->hibernated = 1;
			a->want_hibernate = 0;
		}
	}
	this_actor = NULL;
	return 1; /* more may be waiting: back of the queue, so others get a turn */
}

static void spin_for_work(daimon_rt *rt);

static void *sched_main(void *arg)
{
	struct sched *s = arg;
	daimon_rt *rt = s->rt;
	this_sched = s;
	while (!atomic_load_explicit(&rt->stop, memory_order_acquire)) {
		daimon_actor *a = find_work(s);
		if (!a) {
			spin_for_work(rt);
			a = find_work(s);
		}
		if (!a) {
			pthread_mutex_lock(&rt->sleep_mu);
			atomic_fetch_add_explicit(&rt->sleeping, 1, memory_order_seq_cst);
			atomic_thread_fence(memory_order_seq_cst);
			a = find_work(s);
			if (!a && !atomic_load_explicit(&rt->stop, memory_order_acquire))
				pthread_cond_wait(&rt->sleep_cv, &rt->sleep_mu);
			atomic_fetch_sub_explicit(&rt->sleeping, 1, memory_order_seq_cst);
			pthread_mutex_unlock(&rt->sleep_mu);
			if (!a)
				continue;
		}
		if (run_turn(rt, a))
			schedule(rt, a);
	}
	return NULL;
}

/* ---- the event thread: timers, fds, child processes ---- */

static int64_t next_timeout_ms(daimon_rt *rt)
{
	if (!rt->nheap)
		return -1;
	int64_t wait = rt->heap[0]->due - (int64_t)daimon_mono_ns();
	return wait <= 0 ? 0 : wait / 1000000 + 1;
}

static void fire_timers(daimon_rt *rt)
{
	int64_t now = (int64_t)daimon_mono_ns();
	pthread_mutex_lock(&rt->ev_mu);
	while (rt->nheap && rt->heap[0]->due <= now) {
		struct timer *t = rt->heap[0];
		if (!atomic_load_explicit(&t->cancelled, memory_order_acquire)) {
			post_sys(rt, t->owner, DAIMON_MSG_TIMER, t->id, 0);
			if (t->interval) {
				t->due += t->interval;
				if (t->due < now)
					t->due = now + t->interval;
				heap_down(rt, 0);
				continue;
			}
		}
		rt->heap[0] = rt->heap[--rt->nheap];
		rt->heap[0]->slot = 0;
		t->slot = NOT_IN_HEAP;
		heap_down(rt, 0);
		timer_unref(t);
	}
	pthread_mutex_unlock(&rt->ev_mu);
}

/* Hands ready fds to their owners and reaps exited children, under
 * ev_mu. The event thread calls it, and so does a scheduler spinning for
 * work: the watches are one-shot, so each readiness reaches one of them,
 * and a watch closed meanwhile (under ev_mu too) is skipped, not used. */
static void dispatch_events(daimon_rt *rt, const struct epoll_event *evs, int n)
{
	for (int i = 0; i < n; i++) {
		struct watch *w = evs[i].data.ptr;
		if (!w || w->closed)
			continue; /* (the eventfd: the event thread reads it) */
		if (w->pid) {
			/* A child exited: reap it here, so none is ever left a zombie. */
			siginfo_t si = {0};
			int status = 0;
			if (waitid(P_PID, (id_t)w->pid, &si, WEXITED | WNOHANG) == 0 && si.si_pid) {
				status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 : si.si_status & 0x7f;
				epoll_ctl(rt->epfd, EPOLL_CTL_DEL, w->fd, NULL);
				close(w->fd);
				w->closed = 1;
				if (w->owner) { /* it frees the watch when it hears (close_watch) */
					post_sys(rt, w->owner, DAIMON_MSG_CHILD, (uint64_t)w->pid, status);
				} else {
					w->next_dead = rt->graveyard;
					rt->graveyard = w;
				}
			}
		} else if (w->owner) {
			struct msg *m = msg_new(DAIMON_MSG_FD, NULL, 0);
			m->ref = w->id;
			m->arg = evs[i].events;
			post(rt, w->owner, m);
		}
	}
}

/* A scheduler with nothing to do: a short look for work and for ready fds
 * (without holding up an actor that wants ev_mu) before it sleeps. */
static void spin_for_work(daimon_rt *rt)
{
	int no = 0;
	if (!atomic_compare_exchange_strong(&rt->spinning, &no, 1))
		return;
	struct epoll_event evs[16];
	for (uint64_t end = daimon_mono_ns() + SPIN_NS;
	     !atomic_load_explicit(&rt->runnable, memory_order_relaxed) && daimon_mono_ns() < end;) {
		if (pthread_mutex_trylock(&rt->ev_mu))
			continue;
		int n = epoll_wait(rt->epfd, evs, 16, 0);
		dispatch_events(rt, evs, n);
		int buried = rt->graveyard != NULL;
		pthread_mutex_unlock(&rt->ev_mu);
		if (buried) /* a child reaped here: only the event thread frees its watch */
			poke_event_thread(rt);
		if (n > 0)
			break;
	}
	atomic_store(&rt->spinning, 0);
}

static void *event_main(void *arg)
{
	daimon_rt *rt = arg;
	struct epoll_event evs[64];
	while (!atomic_load_explicit(&rt->stop, memory_order_acquire)) {
		pthread_mutex_lock(&rt->ev_mu);
		int64_t timeout = next_timeout_ms(rt); /* -1: no timer, no deadline */
		if (timeout > 100000)
			timeout = 100000;
		rt->ev_deadline = timeout < 0 ? INT64_MAX : (int64_t)daimon_mono_ns() + timeout * 1000000;
		pthread_mutex_unlock(&rt->ev_mu);
		int n = epoll_wait(rt->epfd, evs, 64, (int)timeout);
		for (int i = 0; i < n; i++) {
			if (!evs[i].data.ptr) { /* someone added an earlier timer or stops us */
				uint64_t v;
				if (read(rt->evfd, &v, sizeof(v)) < 0) {
					/* nothing to read: fine */
				}
			}
		}
		pthread_mutex_lock(&rt->ev_mu);
		dispatch_events(rt, evs, n);
		pthread_mutex_unlock(&rt->ev_mu);
		fire_timers(rt);
		pthread_mutex_lock(&rt->ev_mu);
		while (rt->graveyard) {
			struct watch *w = rt->graveyard;
			rt->graveyard = w->next_dead;
			free(w);
			atomic_fetch_sub_explicit(&rt->nwatch_live, 1, memory_order_relaxed);
		}
		pthread_mutex_unlock(&rt->ev_mu);
	}
	return NULL;
}

/* ---- runtime lifecycle ---- */

int daimon_rt_new(daimon_rt **out, const daimon_rt_opts *opts)
{
	daimon_rt *rt = daimon_xcalloc(1, sizeof(*rt));
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	rt->nsched = opts && opts->threads > 0 ? opts->threads : (int)(cores > 0 ? cores : 1);
	rt->batch = opts && opts->batch > 0 ? opts->batch : 64;
	atomic_store(&rt->next_id, 1);
	pthread_mutex_init(&rt->sleep_mu, NULL);
	pthread_cond_init(&rt->sleep_cv, NULL);
	pthread_mutex_init(&rt->slot_mu, NULL);
	pthread_mutex_init(&rt->idle_mu, NULL);
	pthread_cond_init(&rt->idle_cv, NULL);
	pthread_mutex_init(&rt->reg_mu, NULL);
	rt->cold = daimon_cold_new();
	pthread_mutex_init(&rt->svc_mu, NULL);
	pthread_mutex_init(&rt->ev_mu, NULL);
	rt->epfd = epoll_create1(EPOLL_CLOEXEC);
	rt->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rt->epfd < 0 || rt->evfd < 0) {
		int rc = daimon_error_errno("cannot create the runtime's event loop");
		daimon_rt_free(rt);
		return rc;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(rt->epfd, EPOLL_CTL_ADD, rt->evfd, &ev);
	rt->scheds = daimon_xcalloc((size_t)rt->nsched, sizeof(*rt->scheds));
	for (int i = 0; i < rt->nsched; i++) {
		rt->scheds[i].rt = rt;
		rt->scheds[i].index = i;
		pthread_mutex_init(&rt->scheds[i].mu, NULL);
	}
	for (int i = 0; i < rt->nsched; i++)
		pthread_create(&rt->scheds[i].thread, NULL, sched_main, &rt->scheds[i]);
	pthread_create(&rt->event_thread, NULL, event_main, rt);
	*out = rt;
	return 0;
}

size_t daimon_rt_count(daimon_rt *rt)
{
	return atomic_load_explicit(&rt->live, memory_order_acquire);
}

size_t daimon_rt_wait_idle(daimon_rt *rt, int timeout_ms)
{
	struct timespec until;
	daimon_realtime_after(&until, timeout_ms >= 0 ? timeout_ms : 0);
	pthread_mutex_lock(&rt->idle_mu);
	while (atomic_load(&rt->live) > 0) {
		if (timeout_ms < 0)
			pthread_cond_wait(&rt->idle_cv, &rt->idle_mu);
		else if (pthread_cond_timedwait(&rt->idle_cv, &rt->idle_mu, &until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&rt->idle_mu);
	return atomic_load(&rt->live);
}

void *daimon_rt_service(daimon_rt *rt, int slot, void *(*create)(daimon_rt *rt), void (*destroy)(void *svc))
{
	if (slot < 0 || slot >= DAIMON_RT_SERVICES)
		return NULL;
	pthread_mutex_lock(&rt->svc_mu);
	if (!rt->svc[slot] && create && !rt->svc_closed) {
		rt->svc[slot] = create(rt);
		rt->svc_destroy[slot] = destroy;
	}
	void *svc = rt->svc[slot];
	pthread_mutex_unlock(&rt->svc_mu);
	return svc;
}

void daimon_rt_free(daimon_rt *rt)
{
	if (!rt)
		return;
	/* Services first: their threads may still send to actors. An actor
	 * that asks for one from now on (a handler still running, an exit)
	 * gets none, not a freed one. */
	pthread_mutex_lock(&rt->svc_mu);
	rt->svc_closed = 1;
	void *svc[DAIMON_RT_SERVICES];
	for (int i = 0; i < DAIMON_RT_SERVICES; i++) {
		svc[i] = rt->svc[i];
		rt->svc[i] = NULL;
	}
	pthread_mutex_unlock(&rt->svc_mu);
	for (int i = 0; i < DAIMON_RT_SERVICES; i++)
		if (svc[i] && rt->svc_destroy[i])
			rt->svc_destroy[i](svc[i]);
	/* Kill what is left and let the schedulers run the exits. */
	for (uint32_t c = 0; rt->scheds && c < MAX_CHUNKS; c++) {
		daimon_actor *chunk = atomic_load(&rt->chunks[c]);
		if (!chunk)
			break;
		for (uint32_t i = 0; i < CHUNK; i++)
			if (atomic_load(&chunk[i].live))
				post_sys(rt, aid_of(&chunk[i]), SYS_KILL, 0, 0);
	}
	if (rt->scheds) {
		daimon_rt_wait_idle(rt, 5000);
		/* Children of the actors that went were killed: let the event
		 * thread reap them (and free their watches) before it stops. */
		for (int i = 0; i < 1000 && atomic_load_explicit(&rt->nwatch_live, memory_order_acquire); i++) {
			poke_event_thread(rt);
			usleep(1000);
		}
	}
	atomic_store(&rt->stop, 1);
	pthread_mutex_lock(&rt->sleep_mu);
	pthread_cond_broadcast(&rt->sleep_cv);
	pthread_mutex_unlock(&rt->sleep_mu);
	if (rt->scheds) {
		poke_event_thread(rt);
		for (int i = 0; i < rt->nsched; i++)
			pthread_join(rt->scheds[i].thread, NULL);
		pthread_join(rt->event_thread, NULL);
		for (int i = 0; i < rt->nsched; i++)
			pthread_mutex_destroy(&rt->scheds[i].mu);
	}
	for (uint32_t c = 0; c < MAX_CHUNKS; c++) {
		daimon_actor *chunk = atomic_load(&rt->chunks[c]);
		if (!chunk)
			break;
		for (uint32_t i = 0; i < CHUNK && c * CHUNK + i < rt->nslots; i++) {
			struct msg *m;
			while ((m = mailbox_pop(&chunk[i].mb)))
				;
			if (chunk[i].mb.tail->type != MSG_STUB)
				free(chunk[i].mb.tail);
		}
		munmap(chunk, CHUNK * sizeof(*chunk));
		free(rt->stubs[c]);
	}
	for (size_t i = 0; i < rt->nheap; i++)
		free(rt->heap[i]); /* their owners are gone: only the heap's reference is left */
	free(rt->heap);
	while (rt->graveyard) {
		struct watch *w = rt->graveyard;
		rt->graveyard = w->next_dead;
		free(w);
	}
	for (size_t i = 0; i < sizeof(rt->names) / sizeof(rt->names[0]); i++)
		while (rt->names[i]) {
			struct name_entry *e = rt->names[i];
			rt->names[i] = e->next;
			daimon_cold_free(rt->cold, e, name_size(e->name));
		}
	if (rt->epfd >= 0)
		close(rt->epfd);
	if (rt->evfd >= 0)
		close(rt->evfd);
	pthread_mutex_destroy(&rt->svc_mu);
	free(rt->scheds);
	free(rt->free_slots);
	daimon_cold_free_all(rt->cold);
	free(rt);
}

daimon_cold *daimon_rt_cold(daimon_rt *rt)
{
	return rt->cold;
}

/* ---- spawning ---- */

static daimon_actor *alloc_slot(daimon_rt *rt)
{
	pthread_mutex_lock(&rt->slot_mu);
	daimon_actor *a;
	if (rt->nfree) {
		a = slot(rt, rt->free_slots[--rt->nfree]);
	} else {
		uint32_t index = rt->nslots;
		if (index >= (uint32_t)MAX_CHUNKS * CHUNK) {
			pthread_mutex_unlock(&rt->slot_mu);
			return NULL;
		}
		if (!atomic_load_explicit(&rt->chunks[index >> CHUNK_BITS], memory_order_relaxed)) {
			/* Prefaulted in one go: cheaper than a page fault per few spawns. */
			daimon_actor *chunk = mmap(NULL, CHUNK * sizeof(*chunk), PROT_READ | PROT_WRITE,
						   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
			if (chunk == MAP_FAILED) {
				pthread_mutex_unlock(&rt->slot_mu);
				return NULL;
			}
			rt->stubs[index >> CHUNK_BITS] = daimon_xcalloc(CHUNK, sizeof(struct msg));
			for (uint32_t i = 0; i < CHUNK; i++) {
				chunk[i].index = (index & ~(CHUNK - 1)) + i;
				chunk[i].rt = rt;
			}
			atomic_store_explicit(&rt->chunks[index >> CHUNK_BITS], chunk, memory_order_release);
		}
		rt->nslots++;
		a = slot(rt, index);
		/* A slot's mailbox lives as long as the runtime. */
		mailbox_init(&a->mb, (struct msg *)(rt->stubs[index >> CHUNK_BITS] +
						    (index & (CHUNK - 1)) * sizeof(struct msg)));
	}
	pthread_mutex_unlock(&rt->slot_mu);
	return a;
}

daimon_aid daimon_spawn(daimon_rt *rt, const daimon_spawn_opts *o)
{
	if (!o || !o->behaviour || !o->behaviour->handle) {
		daimon_error_code(DAIMON_EINVAL, "an actor needs a behaviour with a handler");
		return 0;
	}
	daimon_actor *a = alloc_slot(rt);
	if (!a) {
		daimon_error("too many actors");
		return 0;
	}
	/* Fields another thread may read (mailbox, gen, live) are left as the
	 * last incarnation left them; the rest is this actor's. */
	a->b = o->behaviour;
	a->state = o->state;
	a->flags = o->flags;
	a->trap_exit = !!(o->flags & DAIMON_SPAWN_TRAP_EXIT);
	a->cancelling = a->hibernated = a->want_hibernate = a->exiting = 0;
	memset(&a->links, 0, sizeof(a->links));
	memset(&a->children, 0, sizeof(a->children));
	a->monitors = NULL;
	a->nmonitors = a->capmonitors = 0;
	a->timers = NULL;
	a->ntimers = a->captimers = 0;
	a->watches = NULL;
	a->nwatches = a->capwatches = 0;
	a->deadline = NULL;
	a->bound = o->mailbox_bound;
	a->overload = o->overload;
	a->name = NULL;
	atomic_store_explicit(&a->handled, 0, memory_order_relaxed);
	atomic_store_explicit(&a->op, NULL, memory_order_relaxed);
	atomic_store_explicit(&a->label, NULL, memory_order_relaxed);
	atomic_store_explicit(&a->mem, 0, memory_order_relaxed);
	/* An explicit parent wins (a port started from a session's handler
	 * joins the skill hosts' tree); else whoever spawns. */
	daimon_aid parent = o->parent ? o->parent : this_actor ? aid_of(this_actor) : 0;
	a->parent = (o->flags & (DAIMON_SPAWN_LINK | DAIMON_SPAWN_CHILD)) ? parent : 0;
	atomic_store_explicit(&a->shown_b, a->b, memory_order_relaxed);
	atomic_store_explicit(&a->shown_parent, a->parent, memory_order_relaxed);
	atomic_store_explicit(&a->nchildren, 0, memory_order_relaxed);
	if (o->flags & DAIMON_SPAWN_LINK)
		idset_add(&a->links, parent);
	atomic_fetch_add_explicit(&rt->live, 1, memory_order_acq_rel);
	atomic_store_explicit(&a->live, 1, memory_order_release);
	daimon_aid id = aid_of(a);
	if (a->b->init) /* first in the mailbox: nobody else knows the id yet */
		post_sys(rt, id, SYS_INIT, 0, 0);
	/* Tell the parent: its side of the link and of the tree. */
	if (parent && (o->flags & DAIMON_SPAWN_LINK)) {
		if (this_actor && aid_of(this_actor) == parent)
			idset_add(&this_actor->links, id);
		else {
			struct msg *m = msg_new(SYS_LINK, NULL, 0);
			m->from = id;
			post(rt, parent, m);
		}
	}
	if (parent && (o->flags & DAIMON_SPAWN_CHILD)) {
		if (this_actor && aid_of(this_actor) == parent) {
			idset_add(&this_actor->children, id);
			atomic_store_explicit(&this_actor->nchildren, this_actor->children.n, memory_order_relaxed);
		} else {
			struct msg *m = msg_new(SYS_ADOPT, NULL, 0);
			m->from = id;
			post(rt, parent, m);
		}
	}
	return id;
}

int daimon_alive(daimon_rt *rt, daimon_aid id)
{
	return lookup(rt, id) != NULL;
}

int daimon_cancel(daimon_rt *rt, daimon_aid id, int deadline_ms)
{
	if (post_sys(rt, id, DAIMON_MSG_CANCEL, 0, deadline_ms) < 0)
		return daimon_error_code(DAIMON_ENOTFOUND, "no actor %llx", (unsigned long long)id);
	return 0;
}

int daimon_kill(daimon_rt *rt, daimon_aid id)
{
	if (post_sys(rt, id, SYS_KILL, 0, 0) < 0)
		return daimon_error_code(DAIMON_ENOTFOUND, "no actor %llx", (unsigned long long)id);
	return 0;
}

/* ---- inside a handler ---- */

daimon_rt *daimon_ctx_rt(daimon_ctx *ctx)
{
	return ctx->a->rt;
}
daimon_aid daimon_self(daimon_ctx *ctx)
{
	return aid_of(ctx->a);
}
int daimon_cancelling(daimon_ctx *ctx)
{
	return ctx->a->cancelling;
}

daimon_aid daimon_parent(daimon_ctx *ctx)
{
	return ctx->a->parent;
}

void daimon_set_op(daimon_ctx *ctx, const char *op)
{
	atomic_store_explicit(&ctx->a->op_since, (int64_t)daimon_mono_ns(), memory_order_relaxed);
	atomic_store_explicit(&ctx->a->op, op, memory_order_release);
}

void daimon_set_state_label(daimon_ctx *ctx, const char *label)
{
	atomic_store_explicit(&ctx->a->label, label, memory_order_release);
}

void daimon_set_mem(daimon_ctx *ctx, size_t bytes)
{
	atomic_store_explicit(&ctx->a->mem, bytes, memory_order_relaxed);
}

void daimon_trap_exit(daimon_ctx *ctx, int on)
{
	ctx->a->trap_exit = on;
}

void daimon_hibernate(daimon_ctx *ctx)
{
	ctx->a->want_hibernate = 1;
}

int daimon_link(daimon_ctx *ctx, daimon_aid other)
{
	daimon_actor *a = ctx->a;
	struct msg *m = msg_new(SYS_LINK, NULL, 0);
	m->from = aid_of(a);
	if (post(a->rt, other, m) < 0) {
		/* Linking to an actor that is gone is an exit signal at once. */
		struct msg *x = msg_new(SYS_EXIT_SIGNAL, NULL, 0);
		x->from = other;
		x->arg = DAIMON_EXIT_NOPROC;
		post(a->rt, aid_of(a), x);
		return DAIMON_ENOTFOUND;
	}
	idset_add(&a->links, other);
	return 0;
}

uint64_t daimon_monitor(daimon_ctx *ctx, daimon_aid other)
{
	daimon_actor *a = ctx->a;
	uint64_t ref = atomic_fetch_add_explicit(&a->rt->next_id, 1, memory_order_relaxed);
	struct msg *m = msg_new(SYS_MONITOR, NULL, 0);
	m->from = aid_of(a);
	m->ref = ref;
	if (post(a->rt, other, m) < 0) {
		struct msg *d = msg_new(DAIMON_MSG_DOWN, NULL, 0);
		d->from = other;
		d->ref = ref;
		d->arg = DAIMON_EXIT_NOPROC;
		post(a->rt, aid_of(a), d);
	}
	return ref;
}

int daimon_demonitor(daimon_ctx *ctx, daimon_aid other, uint64_t ref)
{
	struct msg *m = msg_new(SYS_DEMONITOR, NULL, 0);
	m->from = aid_of(ctx->a);
	m->ref = ref;
	return post(ctx->a->rt, other, m) < 0 ? DAIMON_ENOTFOUND : 0;
}

uint64_t daimon_timer_start(daimon_ctx *ctx, int64_t ms, int64_t interval_ms)
{
	daimon_actor *a = ctx->a;
	struct timer *t = timer_add(a->rt, a, ms, interval_ms);
	PUSH(a->timers, a->ntimers, a->captimers, t);
	return t->id;
}

int daimon_timer_cancel(daimon_ctx *ctx, uint64_t timer)
{
	daimon_actor *a = ctx->a;
	for (uint32_t i = 0; i < a->ntimers; i++)
		if (a->timers[i]->id == timer) {
			timer_drop(a->rt, a->timers[i]);
			a->timers[i] = a->timers[--a->ntimers];
			timers_shrink(a);
			return 0;
		}
	return DAIMON_ENOTFOUND;
}

static struct watch *watch_add(daimon_actor *a, int fd, uint32_t events, pid_t pid)
{
	daimon_rt *rt = a->rt;
	struct watch *w = daimon_xcalloc(1, sizeof(*w));
	w->id = atomic_fetch_add_explicit(&rt->next_id, 1, memory_order_relaxed);
	w->fd = fd;
	w->events = events;
	w->pid = pid;
	w->owner = aid_of(a);
	struct epoll_event ev = {.events = pid ? EPOLLIN : events | EPOLLONESHOT, .data.ptr = w};
	pthread_mutex_lock(&rt->ev_mu);
	int rc = epoll_ctl(rt->epfd, EPOLL_CTL_ADD, fd, &ev);
	pthread_mutex_unlock(&rt->ev_mu);
	if (rc < 0) {
		daimon_error_errno("cannot watch fd %d", fd);
		free(w);
		return NULL;
	}
	PUSH(a->watches, a->nwatches, a->capwatches, w);
	atomic_fetch_add_explicit(&rt->nwatch_live, 1, memory_order_relaxed);
	return w;
}

uint64_t daimon_watch_fd(daimon_ctx *ctx, int fd, uint32_t events)
{
	struct watch *w = watch_add(ctx->a, fd, events, 0);
	return w ? w->id : 0;
}

uint64_t daimon_watch_fd_borrowed(daimon_ctx *ctx, int fd, uint32_t events)
{
	struct watch *w = watch_add(ctx->a, fd, events, 0);
	if (!w)
		return 0;
	w->borrowed = 1; /* only its owner reads it: set before any close */
	return w->id;
}

int daimon_watch_fd_modify(daimon_ctx *ctx, uint64_t watch, uint32_t events)
{
	daimon_actor *a = ctx->a;
	for (uint32_t i = 0; i < a->nwatches; i++) {
		struct watch *w = a->watches[i];
		if (w->id != watch || w->pid)
			continue;
		w->events = events;
		struct epoll_event ev = {.events = events | EPOLLONESHOT, .data.ptr = w};
		return epoll_ctl(a->rt->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0
			       ? daimon_error_errno("cannot watch fd %d", w->fd)
			       : 0;
	}
	return DAIMON_ENOTFOUND;
}

int daimon_unwatch_fd(daimon_ctx *ctx, uint64_t watch)
{
	daimon_actor *a = ctx->a;
	for (uint32_t i = 0; i < a->nwatches; i++)
		if (a->watches[i]->id == watch && !a->watches[i]->pid) {
			close_watch(a->rt, a->watches[i]);
			a->watches[i] = a->watches[--a->nwatches];
			return 0;
		}
	return DAIMON_ENOTFOUND;
}

int daimon_adopt_child(daimon_ctx *ctx, pid_t pid)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return daimon_error_errno("cannot watch child process %d", (int)pid);
	return watch_add(ctx->a, pidfd, EPOLLIN, pid) ? 0 : -1;
}

/* ---- registry ---- */

static unsigned name_hash(const char *s)
{
	unsigned h = 5381;
	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h % (sizeof(((daimon_rt *)0)->names) / sizeof(struct name_entry *));
}

int daimon_register(daimon_rt *rt, const char *name, daimon_aid id)
{
	daimon_actor *a = lookup(rt, id);
	if (!a)
		return daimon_error_code(DAIMON_ENOTFOUND, "no actor %llx to name '%s'", (unsigned long long)id, name);
	pthread_mutex_lock(&rt->reg_mu);
	unsigned h = name_hash(name);
	for (struct name_entry *e = rt->names[h]; e; e = e->next)
		if (!strcmp(e->name, name) && lookup(rt, e->id)) {
			pthread_mutex_unlock(&rt->reg_mu);
			return daimon_error_code(DAIMON_EEXISTS, "the name '%s' is taken", name);
		}
	struct name_entry *e = daimon_cold_alloc(rt->cold, name_size(name));
	strcpy(e->name, name);
	atomic_fetch_add_explicit(&a->named, 1, memory_order_relaxed);
	e->id = id;
	e->next = rt->names[h];
	rt->names[h] = e;
	pthread_mutex_unlock(&rt->reg_mu);
	return 0;
}

daimon_aid daimon_whereis(daimon_rt *rt, const char *name)
{
	pthread_mutex_lock(&rt->reg_mu);
	daimon_aid id = 0;
	for (struct name_entry *e = rt->names[name_hash(name)]; e; e = e->next)
		if (!strcmp(e->name, name) && lookup(rt, e->id)) {
			id = e->id;
			break;
		}
	pthread_mutex_unlock(&rt->reg_mu);
	return id;
}

int daimon_unregister(daimon_rt *rt, const char *name)
{
	pthread_mutex_lock(&rt->reg_mu);
	int rc = DAIMON_ENOTFOUND;
	for (struct name_entry **p = &rt->names[name_hash(name)]; *p;) {
		if (!strcmp((*p)->name, name)) {
			struct name_entry *e = *p;
			*p = e->next;
			daimon_cold_free(rt->cold, e, name_size(e->name));
			rc = 0;
		} else {
			p = &(*p)->next;
		}
	}
	pthread_mutex_unlock(&rt->reg_mu);
	return rc;
}

static void unregister_all(daimon_rt *rt, daimon_actor *a)
{
	if (!atomic_exchange_explicit(&a->named, 0, memory_order_relaxed))
		return; /* never named: nothing to look for */
	daimon_aid self = make_aid(a->index, atomic_load(&a->gen) - 1);
	pthread_mutex_lock(&rt->reg_mu);
	for (size_t i = 0; i < sizeof(rt->names) / sizeof(rt->names[0]); i++) {
		struct name_entry **p = &rt->names[i];
		while (*p) {
			if ((*p)->id == self) {
				struct name_entry *e = *p;
				*p = e->next;
				daimon_cold_free(rt->cold, e, name_size(e->name));
			} else {
				p = &(*p)->next;
			}
		}
	}
	pthread_mutex_unlock(&rt->reg_mu);
}

/* ---- introspection ---- */

static void copy_label(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

size_t daimon_rt_snapshot(daimon_rt *rt, daimon_actor_info **out)
{
	size_t n = 0, cap = 64;
	daimon_actor_info *v = daimon_xmalloc(cap * sizeof(*v));
	int64_t now = (int64_t)daimon_mono_ns();
	for (uint32_t c = 0; c < MAX_CHUNKS; c++) {
		daimon_actor *chunk = atomic_load_explicit(&rt->chunks[c], memory_order_acquire);
		if (!chunk)
			break;
		for (uint32_t i = 0; i < CHUNK; i++) {
			daimon_actor *a = &chunk[i];
			if (!atomic_load_explicit(&a->live, memory_order_acquire))
				continue;
			if (n == cap)
				v = daimon_xrealloc(v, (cap *= 2) * sizeof(*v));
			daimon_actor_info *r = &v[n++];
			memset(r, 0, sizeof(*r));
			r->id = aid_of(a);
			r->parent = atomic_load_explicit(&a->shown_parent, memory_order_relaxed);
			const daimon_behaviour *b = atomic_load_explicit(&a->shown_b, memory_order_relaxed);
			copy_label(r->behaviour, sizeof(r->behaviour), b && b->name ? b->name : "?");
			r->children = atomic_load_explicit(&a->nchildren, memory_order_relaxed);
			const char *op = atomic_load_explicit(&a->op, memory_order_acquire);
			const char *label = atomic_load_explicit(&a->label, memory_order_acquire);
			copy_label(r->op, sizeof(r->op), op);
			copy_label(r->state, sizeof(r->state), label ? label : "alive");
			r->op_age_ms =
				op ? (now - atomic_load_explicit(&a->op_since, memory_order_relaxed)) / 1000000 : 0;
			r->mailbox = atomic_load_explicit(&a->queued, memory_order_relaxed);
			r->handled = atomic_load_explicit(&a->handled, memory_order_relaxed);
			r->mem = sizeof(*a) + atomic_load_explicit(&a->mem, memory_order_relaxed) +
				 r->mailbox * sizeof(struct msg);
		}
	}
	/* Names and behaviours are read under the registry lock. */
	pthread_mutex_lock(&rt->reg_mu);
	for (size_t k = 0; k < n; k++) {
		for (size_t i = 0; i < sizeof(rt->names) / sizeof(rt->names[0]) && !v[k].name[0]; i++)
			for (struct name_entry *e = rt->names[i]; e; e = e->next)
				if (e->id == v[k].id)
					copy_label(v[k].name, sizeof(v[k].name), e->name);
	}
	pthread_mutex_unlock(&rt->reg_mu);
	*out = v;
	return n;
}

void daimon_rt_io(daimon_rt *rt, daimon_rt_io_stats *out)
{
	pthread_mutex_lock(&rt->ev_mu);
	out->timers = rt->nheap; /* (a cancelled timer leaves the heap at once) */
	pthread_mutex_unlock(&rt->ev_mu);
	out->watches = atomic_load_explicit(&rt->nwatch_live, memory_order_acquire);
}
