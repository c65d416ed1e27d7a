/*
 * actor.h — daimon's actor runtime: processes in the Erlang sense, in C.
 *
 * An actor is a small struct with a behaviour (a handler function), its
 * state, and an intrusive lock-free mailbox. Handlers run to completion
 * on N scheduler threads, at most a batch of messages per turn, so no
 * actor starves the rest; an actor has no stack of its own and must never
 * block in a handler — blocking work runs elsewhere and its completion
 * arrives as a message (timers, fd readiness and child exits come from the
 * runtime's event thread the same way).
 *
 * Identity: a daimon_aid is a slot index and a generation. A message for
 * an actor that has exited is dropped even if its slot now holds a new
 * actor. Names (daimon_register) map strings such as "telegram:42" to ids.
 *
 * Failure: an actor exits with a reason. Linked actors receive the exit
 * as a signal (and exit too, with the same reason, unless they trap exits,
 * in which case it arrives as a DAIMON_MSG_EXIT message); monitors receive
 * DAIMON_MSG_DOWN. Supervisors (supervisor.h) are actors built on this.
 * Cancelling an actor cancels its subtree (the actors it spawned as
 * children), children first; each gets its on_cancel callback and a
 * deadline, after which it is stopped. Everything an actor owns — timers,
 * watched fds, child processes — is released when it exits, on every path.
 */
#ifndef DAIMON_CORE_ACTOR_H
#define DAIMON_CORE_ACTOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef uint64_t daimon_aid; /* 0 is no actor */
typedef struct daimon_rt daimon_rt;
typedef struct daimon_actor daimon_actor;

/* System message types are negative; behaviours use types >= 0. */
enum {
	DAIMON_MSG_EXIT = -1,   /* a linked actor exited (to actors trapping exits) */
	DAIMON_MSG_DOWN = -2,   /* a monitored actor exited */
	DAIMON_MSG_TIMER = -3,  /* a timer fired; ref = the timer's id */
	DAIMON_MSG_FD = -4,     /* a watched fd is ready; ref = the watch id, arg = events */
	DAIMON_MSG_CHILD = -5,  /* a child process exited; ref = pid, arg = wait status */
	DAIMON_MSG_CANCEL = -6, /* internal: cancel request */
	DAIMON_MSG_WAKE = -7,   /* internal */
};

/* Exit reasons. Behaviours may use any other positive value. */
enum {
	DAIMON_EXIT_NORMAL = 0,
	DAIMON_EXIT_KILLED = -1,    /* stopped from outside, untrappable */
	DAIMON_EXIT_CANCELLED = -2, /* cancelled (a subtree collapsing) */
	DAIMON_EXIT_CRASHED = -3,   /* the handler reported a failure */
	DAIMON_EXIT_SHUTDOWN = -4,  /* stopped by its supervisor */
	DAIMON_EXIT_NOPROC = -5,    /* monitored/linked actor did not exist */
};

typedef struct {
	int type;
	daimon_aid from; /* sender (0 from outside the runtime) */
	uint64_t ref;    /* system messages: timer, watch, monitor ref or pid */
	int64_t arg;     /* system messages: exit reason, fd events, wait status */
	size_t len;
	const void *data; /* len bytes, owned by the runtime until the handler returns */
} daimon_msg;

/* What a handler returns: keep running, or exit with a reason. */
#define DAIMON_CONTINUE 1
#define DAIMON_STOP(reason) (reason) /* <= 0 exits: DAIMON_EXIT_NORMAL, _CRASHED... */

typedef struct daimon_ctx daimon_ctx; /* the running actor, inside a handler */

typedef struct {
	const char *name; /* behaviour name, for introspection */
	/* Called once in the actor's first turn, before any message (may be
	 * NULL): returns DAIMON_CONTINUE or an exit reason. */
	int (*init)(daimon_ctx *ctx, void *state);
	/* Called with each message; returns DAIMON_CONTINUE or an exit reason. */
	int (*handle)(daimon_ctx *ctx, void *state, const daimon_msg *msg);
	/* Called once when the actor exits, for any reason (may be NULL). */
	void (*terminate)(daimon_ctx *ctx, void *state, int reason);
	/* Called when the actor is cancelled: abort I/O, then return
	 * DAIMON_CONTINUE to finish on its own before the deadline, or an exit
	 * reason to exit now. NULL: exit now with DAIMON_EXIT_CANCELLED. */
	int (*on_cancel)(daimon_ctx *ctx, void *state);
	/* Hibernation: drop the in-memory state (returns the state to keep,
	 * usually NULL) and bring it back on the next message. May be NULL.
	 * An actor cancelled or stopped while hibernated is not woken first:
	 * on_cancel and terminate get the state hibernate returned. */
	void *(*hibernate)(daimon_ctx *ctx, void *state);
	void *(*wake)(daimon_ctx *ctx, void *state);
} daimon_behaviour;

enum {
	DAIMON_SPAWN_LINK = 1 << 0,      /* link to the spawning actor */
	DAIMON_SPAWN_CHILD = 1 << 1,     /* part of the spawner's subtree (cancelled with it) */
	DAIMON_SPAWN_TRAP_EXIT = 1 << 2, /* receive exit signals as messages */
};

enum daimon_overload {
	DAIMON_OVERLOAD_REFUSE = 0, /* daimon_send fails with DAIMON_EBUSY */
	DAIMON_OVERLOAD_SLOW = 1,   /* the sender backs off until there is room */
};

typedef struct {
	const daimon_behaviour *behaviour;
	void *state;
	int flags;
	size_t mailbox_bound; /* 0: unbounded */
	enum daimon_overload overload;
	daimon_aid parent; /* with DAIMON_SPAWN_LINK/CHILD: the parent (0: the spawning actor) */
} daimon_spawn_opts;

typedef struct {
	int threads; /* scheduler threads; 0: the number of cores */
	int batch;   /* messages per actor per turn; 0: 64 */
} daimon_rt_opts;

int daimon_rt_new(daimon_rt **out, const daimon_rt_opts *opts);
/* Kills every actor that is left, stops the threads, frees everything. */
void daimon_rt_free(daimon_rt *rt);
/* Blocks until no actor is left, or `timeout_ms` passes (-1: forever).
 * Returns the number of live actors. */
size_t daimon_rt_wait_idle(daimon_rt *rt, int timeout_ms);
size_t daimon_rt_count(daimon_rt *rt);

/* From inside or outside a handler. 0 on failure (last error says why). */
daimon_aid daimon_spawn(daimon_rt *rt, const daimon_spawn_opts *opts);
/* Copies `len` bytes of `data`. DAIMON_ENOTFOUND if `to` has exited. */
int daimon_send(daimon_rt *rt, daimon_aid to, int type, const void *data, size_t len);
/* The same with an explicit sender: for code outside the runtime (a CLI
 * thread) that wants the reply to reach one of its actors. */
int daimon_send_from(daimon_rt *rt, daimon_aid from, daimon_aid to, int type, const void *data, size_t len);
/* Stops an actor from outside: cancelled (subtree, deadline) or killed. */
int daimon_cancel(daimon_rt *rt, daimon_aid id, int deadline_ms);
int daimon_kill(daimon_rt *rt, daimon_aid id);
int daimon_alive(daimon_rt *rt, daimon_aid id);

/* Registry. */
int daimon_register(daimon_rt *rt, const char *name, daimon_aid id);
daimon_aid daimon_whereis(daimon_rt *rt, const char *name);
int daimon_unregister(daimon_rt *rt, const char *name);

/* Inside a handler. */
daimon_rt *daimon_ctx_rt(daimon_ctx *ctx);
daimon_aid daimon_self(daimon_ctx *ctx);
daimon_aid daimon_parent(daimon_ctx *ctx);
/* What the actor is doing, for introspection ("calling model"); NULL
 * clears. Only the pointer is kept: pass a string that lives as long as
 * the runtime (a literal), as for the state label. */
void daimon_set_op(daimon_ctx *ctx, const char *op);
void daimon_set_state_label(daimon_ctx *ctx, const char *label);
/* Memory held by the state, as the behaviour counts it (introspection). */
void daimon_set_mem(daimon_ctx *ctx, size_t bytes);
int daimon_link(daimon_ctx *ctx, daimon_aid other);
uint64_t daimon_monitor(daimon_ctx *ctx, daimon_aid other);
/* Stops watching: no DOWN for `ref` from now on (one already sent may
 * still arrive). DAIMON_ENOTFOUND if `other` is gone. */
int daimon_demonitor(daimon_ctx *ctx, daimon_aid other, uint64_t ref);
void daimon_trap_exit(daimon_ctx *ctx, int on);
/* Whether the actor is being cancelled (its children go first; it still
 * handles messages until then): nothing new should start. */
int daimon_cancelling(daimon_ctx *ctx);
/* Drops the state through behaviour->hibernate after this message. */
void daimon_hibernate(daimon_ctx *ctx);

/* Timers: a DAIMON_MSG_TIMER with ref = the timer id after `ms`, and
 * every `interval_ms` after that if it is not 0. Owned by the actor. */
uint64_t daimon_timer_start(daimon_ctx *ctx, int64_t ms, int64_t interval_ms);
int daimon_timer_cancel(daimon_ctx *ctx, uint64_t timer);

/* fds: DAIMON_MSG_FD (ref = watch id, arg = epoll events) when ready. The
 * fd becomes the actor's: closed when it exits. */
uint64_t daimon_watch_fd(daimon_ctx *ctx, int fd, uint32_t events);
int daimon_unwatch_fd(daimon_ctx *ctx, uint64_t watch); /* closes the fd */
/* The same for an fd that stays its owner's (a library's socket, such as
 * libcurl's): never closed by the runtime. */
uint64_t daimon_watch_fd_borrowed(daimon_ctx *ctx, int fd, uint32_t events);
/* Changes what a watch waits for. */
int daimon_watch_fd_modify(daimon_ctx *ctx, uint64_t watch, uint32_t events);
/* Child processes: DAIMON_MSG_CHILD (ref = pid, arg = wait status) on exit.
 * The child becomes the actor's: killed (SIGKILL) and reaped when it exits. */
int daimon_adopt_child(daimon_ctx *ctx, pid_t pid);

/* Introspection: one row per live actor. */
typedef struct {
	daimon_aid id, parent;
	char name[64]; /* registered name, or "" */
	char behaviour[32];
	char state[32];    /* label set by the behaviour, or running/idle/hibernated */
	char op[48];       /* current operation, or "" */
	int64_t op_age_ms; /* how long the current operation has run */
	size_t mailbox;    /* messages waiting */
	uint64_t handled;  /* messages handled */
	size_t mem;        /* bytes: the actor, its queued messages, its state as reported */
	size_t children;
	size_t timers, fds, procs;
} daimon_actor_info;

/* Services the runtime owns, one per slot (the work pool...): created by
 * `create` on first use, destroyed by `destroy` first thing in
 * daimon_rt_free, while actors can still receive. */
enum { DAIMON_RT_SERVICE_WORK = 0, DAIMON_RT_SERVICES = 4 };
void *daimon_rt_service(daimon_rt *rt, int slot, void *(*create)(daimon_rt *rt), void (*destroy)(void *svc));

/* The runtime's cold memory (cold.h): for a hibernated actor's state. */
struct daimon_cold *daimon_rt_cold(daimon_rt *rt);
/* Fills `out` (caller frees) with a snapshot of every live actor. */
size_t daimon_rt_snapshot(daimon_rt *rt, daimon_actor_info **out);

/* What the event thread holds: pending timers, watched fds and children
 * (for leak checks). */
typedef struct {
	size_t timers, watches;
} daimon_rt_io_stats;
void daimon_rt_io(daimon_rt *rt, daimon_rt_io_stats *out);

#endif
