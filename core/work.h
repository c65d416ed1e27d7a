/*
 * work.h — blocking work off the scheduler threads.
 *
 * A handler must never block, yet some work does: a tool that reads
 * files or queries SQLite, a skill's C function. An actor hands such a
 * function to the runtime's work pool; one of the pool's threads runs it,
 * and the outcome arrives in the actor's mailbox as a message whose data
 * is a daimon_job_done. The pool grows on demand up to a bound and lives
 * as long as the runtime (daimon_rt_free stops it first).
 *
 * Cancelling a job is cooperative: the function sees `*cancelled` turn
 * non-zero and should return early. Its outcome still arrives; the actor
 * ignores what it no longer waits for.
 */
#ifndef DAIMON_CORE_WORK_H
#define DAIMON_CORE_WORK_H

#include <stdint.h>

#include "core/actor.h"
#include "core/buf.h"

enum { DAIMON_MSG_JOB_DONE = 0x574B0001 };

/* The message's data. */
typedef struct {
	uint64_t ref; /* what the submitter passed */
	int status;   /* what the function returned */
	size_t len;
	char text[]; /* what it wrote to `out`, NUL-terminated */
} daimon_job_done;

/* Sends a DAIMON_MSG_JOB_DONE: for actors that report the same way a job
 * does (tool actors, model calls, fan-out items). From `from` (0: the
 * running actor, inside a handler). */
int daimon_job_reply(daimon_rt *rt, daimon_aid from, daimon_aid to, uint64_t ref, int status, const char *text,
		     size_t len);
/* The same shape of message with another type (a port's progress). */
int daimon_job_send(daimon_rt *rt, daimon_aid from, daimon_aid to, int type, uint64_t ref, int status, const char *text,
		    size_t len);

typedef int (*daimon_job_fn)(void *arg, daimon_buf *out, const _Atomic int *cancelled);
typedef struct daimon_job daimon_job;

/* Runs fn(arg, ...) on the pool; DAIMON_MSG_JOB_DONE goes to `reply_to`.
 * `free_arg` (may be NULL) is called with `arg` once the job is over, run
 * or not. The handle stays valid until daimon_job_release. */
daimon_job *daimon_job_submit(daimon_rt *rt, daimon_aid reply_to, uint64_t ref, daimon_job_fn fn, void *arg,
			      void (*free_arg)(void *arg));
/* Asks the job to stop (it may already have finished). */
void daimon_job_cancel(daimon_job *job);
void daimon_job_release(daimon_job *job);

#endif
