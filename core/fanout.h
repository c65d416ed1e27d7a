/*
 * fanout.h — the runtime's fan-out, Task.Supervisor.async_stream in C:
 * run N items, a bounded number at a time, each with a deadline, and hear
 * about each as it settles — answered, failed, or out of time.
 *
 * The fan-out is an actor. Each item is an actor it starts (through the
 * `start` callback, inside its own handler, so the item is its child)
 * that sends one DAIMON_MSG_JOB_DONE (work.h: ref = the item's index,
 * status, text) to its parent and exits. An item past its deadline is
 * cancelled (its subtree with it) and settles as DAIMON_ETIMEDOUT; an item
 * that exits without a result settles as failed. Each settled item goes to
 * the `item` callback at once, and when all have settled, `finish` gets
 * them all in order; both run in the fan-out actor. Cancelling the fan-out
 * cancels every item still running.
 */
#ifndef DAIMON_CORE_FANOUT_H
#define DAIMON_CORE_FANOUT_H

#include <stddef.h>

#include "core/actor.h"

typedef struct {
	int status; /* 0: answered; DAIMON_ETIMEDOUT; other <0: failed */
	char *text; /* the answer, or why not */
} daimon_fanout_result;

typedef struct {
	size_t n;
	int max_parallel; /* 0: 4 */
	long timeout_ms;  /* per item; 0: none */
	daimon_aid (*start)(daimon_ctx *ctx, size_t i, void *arg);
	void (*item)(daimon_ctx *ctx, size_t i, const daimon_fanout_result *r, void *arg);   /* may be NULL */
	void (*finish)(daimon_ctx *ctx, const daimon_fanout_result *r, size_t n, void *arg); /* may be NULL */
	void (*free_arg)(void *arg); /* when the fan-out ends; may be NULL */
	void *arg;
} daimon_fanout_opts;

/* Spawns the fan-out; with DAIMON_SPAWN_CHILD in `flags` (inside a
 * handler) as the caller's child. 0 if it cannot (arg is freed then). */
daimon_aid daimon_fanout_spawn(daimon_rt *rt, const daimon_fanout_opts *o, int flags);

#endif
