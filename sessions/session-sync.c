/*
 * session-sync.c — durability off the scheduler threads.
 *
 * What the session logs is written at once (a write(2) into the page
 * cache is cheap) and made durable by an fdatasync on the work pool, so
 * no scheduler thread waits for the disk: the question's sync overlaps
 * the model request, and the answer's is the only wait at the end. The
 * asker hears "done" only once everything the turn logged is durable.
 */
#include "sessions/session-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fault.h"
#include "core/jsonutil.h"

struct sync_job {
	int fd;
};

static int sync_run(void *arg, daimon_buf *out, const _Atomic int *cancelled)
{
	(void)out, (void)cancelled;
	struct sync_job *j = arg;
	return fdatasync(j->fd) < 0 ? errno : 0;
}

static void sync_free(void *arg)
{
	struct sync_job *j = arg;
	close(j->fd);
	free(j);
}

static int durable(const struct session *s)
{
	return !s->log || daimon_log_durable_seq(s->log) == daimon_log_last_seq(s->log);
}

/* Writes what is staged and starts its sync, unless one is running (the
 * next starts when it ends). */
int session_commit_async(daimon_ctx *ctx, struct session *s)
{
	if (s->sync.ref)
		return daimon_log_flush(s->log);
	uint64_t upto;
	int fd;
	int rc = daimon_log_commit_begin(s->log, &upto, &fd);
	if (rc < 0 || fd < 0)
		return rc;
	struct sync_job *j = daimon_xcalloc(1, sizeof(*j));
	j->fd = fd;
	s->sync.ref = ++s->next_ref;
	s->sync.upto = upto;
	s->sync.job = daimon_job_submit(daimon_ctx_rt(ctx), daimon_self(ctx), s->sync.ref, sync_run, j, sync_free);
	return 0;
}

/* The turn is over: its outcome goes out once what it logged is durable. */
void session_finish(daimon_ctx *ctx, struct session *s, int status, const char *error)
{
	if (status < 0 && status != DAIMON_SESSION_CANCELLED && s->log) {
		/* The failure is logged, so the history stays well-formed: the
		 * user's message has its (missing) answer. */
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "error", error ? error : "");
		uint64_t seq = 0;
		if (daimon_log_append(s->log, DAIMON_REC_FAILURE, NULL, f, NULL, NULL, &seq) == 0) {
			cJSON *m = session_failed_message(error);
			cJSON_AddNumberToObject(m, "seq", (double)seq);
			cJSON_AddItemToArray(s->history, m);
		}
		cJSON_Delete(f);
	}
	int rc = durable(s) ? 0 : session_commit_async(ctx, s);
	if (rc < 0 || durable(s)) {
		session_reply_done(ctx, s, rc < 0 ? rc : status, rc < 0 ? daimon_error_last() : error);
		return;
	}
	s->turn.done_pending = 1;
	s->turn.done_status = status;
	snprintf(s->turn.done_error, sizeof(s->turn.done_error), "%s", error ? error : "");
	daimon_set_op(ctx, "waiting for the disk");
}

void session_on_synced(daimon_ctx *ctx, struct session *s, const daimon_job_done *d)
{
	s->sync.ref = 0;
	daimon_job_release(s->sync.job);
	s->sync.job = NULL;
	int rc = daimon_log_commit_end(s->log, s->sync.upto, d->status), moved = 0;
	for (int i = 0; i < s->calls.n; i++) { /* intents now on the disk: those calls run */
		struct call *c = &s->calls.list[i];
		if (c->state != CALL_JOURNALING || c->intent_seq > daimon_log_durable_seq(s->log))
			continue;
		if (rc < 0) {
			session_not_journaled(ctx, s, c);
			moved = 1;
			continue;
		}
		daimon_fault_point("intent");
		c->journaled = 1;
		session_launch(ctx, s, c);
		moved = 1;
	}
	if (moved)
		session_pump(ctx, s);
	if (rc == 0 && !durable(s))
		rc = session_commit_async(ctx, s); /* written while this sync ran */
	if (rc < 0 && s->turn.asker) {
		session_abort_turn(ctx, s, rc);
	} else if (s->turn.done_pending && durable(s)) {
		daimon_fault_point("answer");
		s->turn.done_pending = 0;
		session_reply_done(ctx, s, s->turn.done_status, s->turn.done_error);
	}
}
