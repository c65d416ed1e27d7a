/*
 * schedule.h — the scheduler: one actor, "scheduler", that owns every
 * job (memory/schedule.h keeps their record) and makes daimon speak
 * first.
 *
 * One timer for the earliest due time, whatever the number of jobs: a
 * timerfd on the realtime clock, set to the absolute time and cancelled
 * by the kernel when the clock is set (an NTP step, a laptop's resume),
 * so due jobs run at once after a suspend instead of a suspend later.
 * A due job's run is recorded before it starts; a message job's run is
 * its text, a prompt job's is a turn in its conversation (asked once by
 * id, so a turn in flight when the daemon died is answered from its log
 * or runs again, never twice). What a run finished with is delivered to
 * the channel of its target, recorded before and after, retried with a
 * doubling wait while the channel cannot take it — a delivery is shown
 * done only when the channel says it was sent.
 *
 * Requests (the schedule tool, `daimon cron`) come as
 * DAIMON_SCHEDULE_REQUEST: a daimon_job_done (work.h) whose text is the
 * request's JSON (memory/schedule.h's daimon_sched_request, plus
 * "run-now"); the answer is a DAIMON_MSG_JOB_DONE of the same ref, its
 * text the reply's JSON or the reason it was refused.
 */
#ifndef DAIMON_DAEMON_SCHEDULE_H
#define DAIMON_DAEMON_SCHEDULE_H

#include "core/actor.h"
#include "memory/schedule.h" /* DAIMON_SCHEDULE_REQUEST */

struct daimon_gateway;

/* Starts the actor (registered as "scheduler"). A command's own daemon
 * (local) takes requests but runs no job: the daemon proper does. */
daimon_aid daimon_schedule_start(struct daimon_gateway *g);

/* To "scheduler": the settings changed (schedule.*; time.zone needs a
 * restart). */
enum { DAIMON_SCHEDULE_RELOAD = 0x53430002 };

/* Sets TZ from time.zone before any thread is started. */
void daimon_schedule_zone(const char *home);

#endif
