/*
 * schedule.h — the scheduled jobs, as their append-only record says.
 *
 * $DAIMON_HOME/schedule.jsonl holds one JSON object per line, each with
 * "ts" (RFC 3339 UTC) and "type":
 *   job       a job made: "id", "kind" (message|prompt), "text", "key"
 *             (the conversation it belongs to), "to" (where it is
 *             delivered; "" the conversation's own channel), "name",
 *             "urgent", and when: "at" (ms), or "every" (ms) from "at",
 *             or "cron" (5 fields); "spec" as it was asked for
 *   update    "id" and the fields that changed (as in job)
 *   pause, resume, remove      "id"
 *   run       "id", "slot" (the due time it runs for, ms), "state":
 *             started | finished ("text": what is to be delivered) |
 *             failed ("error") | missed (not run: due before the grace)
 *   delivery  "id", "slot", "state": attempt | ok | failed ("error") |
 *             gave_up
 * Appends take an exclusive flock, write one line and fdatasync before
 * anyone is told; a torn last line (a crash mid-write) is ignored and
 * overwritten by the next append. Everyone may append (the scheduler, the
 * command line); everyone reads by folding the records in order, and
 * daimon_sched_catch_up reads what others appended since.
 *
 * A run and its delivery are separate: a run that finished but was not
 * delivered stays "pending" (and is retried by the scheduler) until a
 * delivery ok or gave_up says otherwise — it is never shown delivered.
 */
#ifndef DAIMON_MEMORY_SCHEDULE_H
#define DAIMON_MEMORY_SCHEDULE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cron.h"

/* What a run finished with, while it waits to be delivered. */
typedef struct {
	char *text;
	int64_t slot; /* the run's */
	int64_t last_attempt_ms;
	int attempts;
} daimon_sched_out;

/* One job (kept small: ten thousand of them cost under 2 MB). */
typedef struct {
	char id[12];
	unsigned prompt : 1; /* run as a turn whose answer is delivered (else: delivered as it is) */
	unsigned urgent : 1; /* delivered in quiet hours too */
	unsigned paused : 1, removed : 1;
	unsigned own_text : 1; /* text is its own allocation (else it is the job's tail) */
	int runs, delivered;
	char *text;
	const char *key;       /* the conversation's (interned: shared by the table's jobs) */
	char *name, *to;       /* NULL: none */
	char *cron;            /* the expression of a cron job, as given */
	char *last_error;      /* of the newest failed run or delivery */
	daimon_sched_out *out; /* what waits to be delivered (NULL: nothing) */
	daimon_when when;
	int64_t last_slot; /* the newest slot a run started for (0: none) */
	int64_t next_ms;   /* when it is due next (-1: never again) */
	int64_t run_slot;  /* a run started and not finished (0: none) */
	char tail[];       /* (the text, as made) */
} daimon_sched_job;

/* The message that carries a request to the daemon's scheduler actor
 * (registered as "scheduler", daemon/schedule.h): a daimon_job_done
 * (core/work.h) whose text is the request of daimon_sched_request
 * below; it answers with a DAIMON_MSG_JOB_DONE of the same ref. */
enum { DAIMON_SCHEDULE_REQUEST = 0x53430001 };

typedef struct daimon_sched daimon_sched;

/* Reads the record of `home` (none yet is an empty table). */
int daimon_sched_open(daimon_sched **out, const char *home);
void daimon_sched_free(daimon_sched *s);
/* Folds in what was appended since the last read; 1 if anything was. */
int daimon_sched_catch_up(daimon_sched *s);
/* Appends `rec` (its "ts" added; taken) and folds it in, with anything
 * others appended before it. An array of records is appended whole, with
 * one fdatasync. */
int daimon_sched_append(daimon_sched *s, cJSON *rec);
/* A record of `type` for job `id` with `state` (NULL: none) and `slot`
 * (0: none), for daimon_sched_append. */
cJSON *daimon_sched_record(const char *type, const char *id, const char *state, int64_t slot);

/* Every job the record has made, removed ones too (j->removed). */
size_t daimon_sched_count(const daimon_sched *s);
daimon_sched_job *daimon_sched_job_at(daimon_sched *s, size_t i);
/* By id or a unique prefix of one; NULL (last error says why) if none. */
daimon_sched_job *daimon_sched_find(daimon_sched *s, const char *id);
/* The file's path, and its size when last read. */
const char *daimon_sched_path(const daimon_sched *s);

/* A job's next due time after it ran for `slot` (slot 0: the first at or
 * after `now`): one-shots are never due again, recurring ones at most
 * once for every slot missed. */
int64_t daimon_sched_next(const daimon_sched_job *j, int64_t slot, int64_t now);

/* What a request to make or change jobs is checked against. */
typedef struct {
	int64_t now_ms;
	int64_t min_interval_ms; /* schedule.min_interval_s */
	long max_jobs;           /* schedule.max_jobs */
	/* Whether jobs may be delivered to `key` (a channel that is on): 0,
	 * or -1 with the reason in `why` (NULL: every key is). */
	int (*target_ok)(void *payload, const char *key, char *why, size_t n);
	void *payload;
} daimon_sched_limits;

/* Carries out one request, as the schedule tool and `daimon cron` make
 * them: {"action": "create"|"list"|"show"|"update"|"pause"|"resume"|
 * "cancel"|"history", ...}. A create takes "text" (required), "kind"
 * (message|prompt; message), one of "at" (ISO 8601), "in" (a duration),
 * "every" (a duration, first run "at"/"in" or one interval from now) or
 * "cron"; "to", "name", "urgent"; "key" is the conversation asking. On
 * success *reply (caller frees) is the answer ({"job": ...} or {"jobs":
 * [...]}, {"history": [...]}); otherwise <0 with the reason. run-now is
 * the scheduler's: it needs no record. */
int daimon_sched_request(daimon_sched *s, const cJSON *req, const daimon_sched_limits *lim, cJSON **reply);
/* A job as the requests show it. */
cJSON *daimon_sched_job_json(const daimon_sched_job *j);

#endif
