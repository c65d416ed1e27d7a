/*
 * schedule.c — the scheduler actor (schedule.h).
 *
 * Its state is the jobs' record folded (memory/schedule.c) plus what is
 * in flight: turns asked for prompt jobs, deliveries a channel has not
 * answered. Every step is written to the record before it is taken, so
 * after a crash the record says what to do again: a run started and not
 * finished runs again (a turn is asked by the same id, and the session
 * answers it from its log if it had), a run finished and not delivered
 * is delivered. Nothing waits on a timer per job: the earliest due time
 * (or delivery retry) among all of them sets the one timerfd.
 */
#include "daemon/schedule.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "channels/channels.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/jsonutil.h"
#include "core/settings.h"
#include "core/timefmt.h"
#include "core/work.h"
#include "daemon/gateway-int.h"
#include "memory/schedule.h"
#include "sessions/session.h"

#define START_DELAY_MS 500 /* after a start, before the first look */

/* A prompt job's turn, waiting for its answer. */
struct run {
	daimon_answer a; /* first: the list is of answers (channels.h) */
	char id[12];
	int64_t slot;
};

/* A delivery a channel has not answered yet. */
struct sending {
	struct sending *next;
	uint64_t ref;
	char id[12];
	int64_t slot;
};

struct sched {
	daimon_gateway *g;
	daimon_sched *s;
	int local; /* a command's own daemon: requests only */
	int tfd;
	uint64_t watch;
	int64_t armed; /* the time the timerfd is set to (0: none) */
	daimon_answer *runs;
	struct sending *sending;
	uint64_t next_ref;
	uint64_t start_timer;
	cJSON *batch; /* records not written yet (record, flush) */
	/* settings (schedule.*) */
	int64_t grace_ms, min_interval_ms, retry_ms;
	long max_jobs, max_attempts;
	char deliver_to[160];
};

static void say(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "daimon: schedule: ");
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
}

/* Steps are recorded in batches: every record() before a flush() is
 * written with one fdatasync (a thousand jobs due in one second cost a
 * few syncs, not thousands), and nothing outside hears of a step before
 * its batch is on disk. */
static void record(struct sched *c, cJSON *rec)
{
	if (!c->batch)
		c->batch = cJSON_CreateArray();
	cJSON_AddItemToArray(c->batch, rec);
}

static void flush(struct sched *c)
{
	cJSON *b = c->batch;
	c->batch = NULL;
	if (b && daimon_sched_append(c->s, b) < 0) /* (a full disk: said; the step is taken again later) */
		say("%s%s", daimon_error_last(), "");
}

static void load_settings(struct sched *c)
{
	daimon_settings *set;
	int64_t grace_h = 12, min_s = 60, retry_s = 30, max_jobs = 10000, attempts = 12;
	const char *to = "";
	if (daimon_settings_load(&set, c->g->store.home) == 0) {
		daimon_settings_int(set, "schedule.grace_h", &grace_h);
		daimon_settings_int(set, "schedule.min_interval_s", &min_s);
		daimon_settings_int(set, "schedule.retry_s", &retry_s);
		daimon_settings_int(set, "schedule.max_jobs", &max_jobs);
		daimon_settings_int(set, "schedule.max_attempts", &attempts);
		daimon_settings_string(set, "schedule.deliver_to", &to);
		snprintf(c->deliver_to, sizeof(c->deliver_to), "%s", to ? to : "");
		daimon_settings_free(set);
	}
	c->grace_ms = grace_h * 3600000;
	c->min_interval_ms = min_s * 1000;
	c->retry_ms = retry_s * 1000;
	c->max_jobs = (long)max_jobs;
	c->max_attempts = (long)attempts;
}

void daimon_schedule_zone(const char *home)
{
	daimon_settings *set;
	const char *zone = NULL;
	if (daimon_settings_load(&set, home) < 0)
		return;
	if (daimon_settings_string(set, "time.zone", &zone) == 0 && zone && *zone) {
		setenv("TZ", zone, 1);
		tzset();
	}
	daimon_settings_free(set);
}

/* ---- where a job's message goes ---- */

static int pushes(const char *key)
{
	return !strncmp(key, "telegram:", 9) && key[9];
}

/* The key a job is delivered to: its "to", else its conversation when a
 * channel reaches it unasked, else schedule.deliver_to; NULL: nowhere. */
static const char *target_of(const struct sched *c, const daimon_sched_job *j)
{
	if (j->to && *j->to)
		return j->to;
	if (pushes(j->key))
		return j->key;
	return c->deliver_to[0] ? c->deliver_to : NULL;
}

static int target_ok(void *payload, const char *key, char *why, size_t n)
{
	(void)payload;
	if (pushes(key))
		return 0;
	snprintf(why, n,
		 "cannot deliver to '%s': jobs are delivered to telegram:CHAT (the terminal and the web page cannot "
		 "be reached unasked)",
		 key);
	return -1;
}

/* ---- delivering ---- */

static int64_t retry_at(const struct sched *c, const daimon_sched_job *j)
{
	if (!j->out || !j->out->attempts)
		return 0;
	int shift = j->out->attempts - 1 > 16 ? 16 : j->out->attempts - 1;
	return j->out->last_attempt_ms + (c->retry_ms << shift);
}

static struct sending *sending_of(struct sched *c, const char *id)
{
	for (struct sending *d = c->sending; d; d = d->next)
		if (!strcmp(d->id, id))
			return d;
	return NULL;
}

static void failed_delivery(struct sched *c, daimon_sched_job *j, int64_t slot, const char *why)
{
	cJSON *rec = daimon_sched_record("delivery", j->id, "failed", slot);
	cJSON_AddStringToObject(rec, "error", why);
	record(c, rec);
	if (j->out && j->out->slot == slot && j->out->attempts >= c->max_attempts) {
		rec = daimon_sched_record("delivery", j->id, "gave_up", slot);
		char line[512];
		snprintf(line, sizeof(line), "gave up after %d attempts: %s", j->out->attempts, why);
		cJSON_AddStringToObject(rec, "error", line);
		record(c, rec);
		say("job %s: %s", j->id, line);
	}
}

/* Hands what job `j` waits to deliver to its channel (its attempt is
 * recorded already). */
static void send(daimon_ctx *ctx, struct sched *c, daimon_sched_job *j)
{
	int64_t slot = j->out->slot;
	const char *to = target_of(c, j);
	if (!to) {
		failed_delivery(c, j, slot, "nowhere to deliver: set \"to\" or schedule.deliver_to");
		return;
	}
	daimon_aid ch = daimon_whereis(daimon_ctx_rt(ctx), "telegram");
	if (!ch) {
		failed_delivery(c, j, slot, "the Telegram channel is not running");
		return;
	}
	daimon_buf b = DAIMON_BUF_INIT;
	daimon_buf_adds(&b, to);
	daimon_buf_addc(&b, 0);
	daimon_buf_adds(&b, j->out->text);
	struct sending *d = daimon_xcalloc(1, sizeof(*d));
	d->ref = ++c->next_ref;
	snprintf(d->id, sizeof(d->id), "%s", j->id);
	d->slot = slot;
	if (daimon_job_send(daimon_ctx_rt(ctx), 0, ch, DAIMON_CHANNEL_DELIVER, d->ref, 0, b.ptr, b.len) < 0) {
		free(d);
		failed_delivery(c, j, slot, "the Telegram channel is not running");
	} else {
		d->next = c->sending;
		c->sending = d;
	}
	daimon_buf_release(&b);
}

static void delivered(struct sched *c, const daimon_job_done *d)
{
	struct sending **p = &c->sending, *s;
	while (*p && (*p)->ref != d->ref)
		p = &(*p)->next;
	if (!(s = *p))
		return;
	*p = s->next;
	daimon_sched_job *j = daimon_sched_find(c->s, s->id);
	if (j && d->status == 0)
		record(c, daimon_sched_record("delivery", s->id, "ok", s->slot));
	else if (j)
		failed_delivery(c, j, s->slot, d->text);
	free(s);
}

/* ---- running ---- */

static void finished(struct sched *c, const char *id, int64_t slot, const char *text, const char *error)
{
	cJSON *rec = daimon_sched_record("run", id, error ? "failed" : "finished", slot);
	if (text)
		cJSON_AddStringToObject(rec, "text", text);
	if (error)
		cJSON_AddStringToObject(rec, "error", error);
	record(c, rec);
}

/* The turn of a prompt job, asked once by its id and slot. */
static void ask_turn(daimon_ctx *ctx, struct sched *c, daimon_sched_job *j, int64_t slot)
{
	for (daimon_answer *a = c->runs; a; a = a->next)
		if (!strcmp(((struct run *)a)->id, j->id))
			return; /* (already asked) */
	struct run *r = daimon_xcalloc(1, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", j->id);
	r->slot = slot;
	r->a.ref = ++c->next_ref;
	daimon_answer_append(&c->runs, &r->a);
	char mid[64];
	snprintf(mid, sizeof(mid), "cron:%s:%lld", j->id, (long long)slot);
	daimon_buf text = DAIMON_BUF_INIT;
	daimon_buf_addf(&text, "(A scheduled task%s%s%s runs now; your answer is sent to the user.)\n\n%s",
			j->name && *j->name ? " \"" : "", j->name ? j->name : "", j->name && *j->name ? "\"" : "",
			j->text);
	daimon_answer_ask(ctx, &c->g->channel_host, &r->a, j->key, mid, daimon_buf_cstr(&text), NULL);
	daimon_buf_release(&text);
	if (r->a.answered) { /* could not be posted: the reason is its text */
		finished(c, r->id, slot, NULL, daimon_buf_cstr(&r->a.text));
		daimon_answer_unlink(&c->runs, &r->a);
		daimon_buf_release(&r->a.text);
		free(r);
	}
}

static void heard(daimon_ctx *ctx, struct sched *c, const daimon_msg *m)
{
	daimon_answer_news news = {0};
	struct run *r = (struct run *)daimon_answer_take(ctx, c->runs, m, &news);
	if (!r || !r->a.answered)
		return;
	daimon_answer_unlink(&c->runs, &r->a);
	const char *text = daimon_buf_cstr(&r->a.text);
	if (r->a.stopped)
		finished(c, r->id, r->slot, NULL, "the turn was stopped");
	else
		finished(c, r->id, r->slot, text, NULL);
	daimon_buf_release(&r->a.text);
	free(r);
}

/* A one-shot job due longer ago than the grace is not run: marked missed,
 * and the owner told what it was. */
static void miss(struct sched *c, daimon_sched_job *j, int64_t slot)
{
	char when[64];
	daimon_time_local(when, sizeof(when), slot);
	daimon_buf b = DAIMON_BUF_INIT;
	daimon_buf_addf(&b, "Missed while daimon was not running (due %s): %s", when, j->text);
	cJSON *rec = daimon_sched_record("run", j->id, "missed", slot);
	cJSON_AddStringToObject(rec, "text", daimon_buf_cstr(&b));
	record(c, rec);
	daimon_buf_release(&b);
}

/* Everything due at `now`, in three steps, each recorded as one batch
 * before anything outside hears of it: the runs due are started (or
 * missed); the runs started — now, or before a crash — go on (a
 * message's run is its text, a prompt's a turn); what waits to be
 * delivered is tried. */
static void work(daimon_ctx *ctx, struct sched *c, int64_t now)
{
	size_t n = daimon_sched_count(c->s), k = 0, started = 0;
	flush(c);
	for (size_t i = 0; i < n; i++) {
		daimon_sched_job *j = daimon_sched_job_at(c->s, i);
		if (j->removed || j->run_slot || j->out || j->paused || j->next_ms < 0 || j->next_ms > now)
			continue;
		if (j->when.kind == DAIMON_WHEN_AT && now - j->next_ms > c->grace_ms) {
			miss(c, j, j->next_ms);
		} else {
			record(c, daimon_sched_record("run", j->id, "started", j->next_ms));
			started++;
		}
	}
	flush(c);
	if (started)
		daimon_fault_point("cron-run"); /* (the crash tests: between a run's start and its end) */
	for (size_t i = 0; i < n; i++) {
		daimon_sched_job *j = daimon_sched_job_at(c->s, i);
		if (!j->removed && j->run_slot && !j->prompt)
			finished(c, j->id, j->run_slot, j->text, NULL);
	}
	flush(c);
	for (size_t i = 0; i < n; i++) {
		daimon_sched_job *j = daimon_sched_job_at(c->s, i);
		if (!j->removed && j->run_slot && j->prompt)
			ask_turn(ctx, c, j, j->run_slot);
	}
	flush(c);
	daimon_sched_job **due = NULL;
	for (size_t i = 0; i < n; i++) {
		daimon_sched_job *j = daimon_sched_job_at(c->s, i);
		if (j->removed || !j->out || j->run_slot || sending_of(c, j->id) || retry_at(c, j) > now)
			continue;
		record(c, daimon_sched_record("delivery", j->id, "attempt", j->out->slot));
		if (!(k & (k + 1)))
			due = daimon_xrealloc(due, (k ? 2 * k + 1 : 1) * sizeof(*due));
		due[k++] = j;
	}
	flush(c);
	if (k)
		daimon_fault_point("cron-deliver"); /* (...and between a run's end and its delivery) */
	for (size_t i = 0; i < k; i++)
		send(ctx, c, due[i]);
	free(due);
	flush(c);
}

/* Sets the timerfd to the earliest time anything is due. */
static void arm(struct sched *c)
{
	int64_t first = INT64_MAX;
	for (size_t i = 0; i < daimon_sched_count(c->s); i++) {
		daimon_sched_job *j = daimon_sched_job_at(c->s, i);
		int64_t t = -1;
		if (j->removed || j->run_slot)
			continue;
		if (j->out)
			t = sending_of(c, j->id) ? -1 : retry_at(c, j);
		else if (!j->paused)
			t = j->next_ms;
		if (t >= 0 && t < first)
			first = t;
	}
	if (first == c->armed)
		return;
	struct itimerspec its = {0};
	if (first != INT64_MAX) {
		if (first <= 0)
			first = 1;
		its.it_value.tv_sec = first / 1000;
		its.it_value.tv_nsec = (first % 1000) * 1000000;
	}
	if (timerfd_settime(c->tfd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL) < 0)
		say("cannot set the timer: %s%s", strerror(errno), "");
	c->armed = first == INT64_MAX ? 0 : first;
}

/* What `daimon status` shows: how many jobs, and the next three. */
static void publish(struct sched *c)
{
	daimon_gateway *g = c->g;
	int jobs = 0, delivering = 0, failing = 0, n = 0;
	daimon_sched_job *next[3];
	for (size_t i = 0; i < daimon_sched_count(c->s); i++) {
		daimon_sched_job *j = daimon_sched_job_at(c->s, i);
		if (j->removed || (j->next_ms < 0 && !j->out && !j->run_slot))
			continue;
		jobs++;
		delivering += j->out != NULL;
		failing += j->out && j->out->attempts > 0;
		if (j->paused || j->next_ms < 0)
			continue;
		int at = n < 3 ? n++ : 3; /* (kept sorted, the soonest three) */
		while (at > 0 && next[at - 1]->next_ms > j->next_ms) {
			if (at < 3)
				next[at] = next[at - 1];
			at--;
		}
		if (at < 3)
			next[at] = j;
	}
	pthread_mutex_lock(&g->mu);
	g->schedule.jobs = jobs;
	g->schedule.delivering = delivering;
	g->schedule.failing = failing;
	g->schedule.nnext = n;
	for (int i = 0; i < n; i++) {
		snprintf(g->schedule.next[i].id, sizeof(g->schedule.next[i].id), "%s", next[i]->id);
		g->schedule.next[i].at = next[i]->next_ms;
		snprintf(g->schedule.next[i].text, sizeof(g->schedule.next[i].text), "%s",
			 next[i]->name ? next[i]->name : next[i]->text);
	}
	pthread_mutex_unlock(&g->mu);
}

/* ---- requests ---- */

static void request(daimon_ctx *ctx, struct sched *c, const daimon_msg *m)
{
	const daimon_job_done *d = m->data;
	cJSON *req = cJSON_ParseWithLength(d->text, d->len), *reply = NULL;
	daimon_sched_limits lim = {.now_ms = daimon_now_ms(),
				   .min_interval_ms = c->min_interval_ms,
				   .max_jobs = c->max_jobs,
				   .target_ok = target_ok,
				   .payload = c};
	const char *action = daimon_json_str(req, "action");
	int rc;
	if (!req) {
		rc = daimon_error_code(DAIMON_EINVAL, "a schedule request is JSON");
	} else if (action && (!strcmp(action, "run-now") || !strcmp(action, "run_now"))) {
		daimon_sched_job *j = daimon_sched_find(c->s, daimon_json_str(req, "id"));
		rc = j ? 0 : -1;
		if (j && c->local)
			rc = daimon_error_code(DAIMON_EINVAL, "jobs run in the daemon: start it (daimon serve)");
		if (rc == 0 && j->paused)
			rc = daimon_error_code(DAIMON_EINVAL, "job %s is paused: resume it first", j->id);
		if (rc == 0 && !j->run_slot && !j->out)
			j->next_ms = daimon_now_ms(); /* (work() below starts it) */
		if (rc == 0) {
			reply = cJSON_CreateObject();
			cJSON_AddItemToObject(reply, "job", daimon_sched_job_json(j));
		}
	} else {
		/* a job made in a conversation no channel reaches needs somewhere to go */
		const char *key = daimon_json_str(req, "key"), *to = daimon_json_str(req, "to");
		rc = 0;
		if (action && !strcmp(action, "create") && (!to || !*to) && !pushes(key ? key : "") &&
		    !c->deliver_to[0])
			rc = daimon_error_code(DAIMON_EINVAL,
					       "'%s' is a conversation no channel reaches unasked: give \"to\" "
					       "(telegram:CHAT) or set schedule.deliver_to",
					       key && *key ? key : "cli:default");
		if (rc == 0)
			rc = daimon_sched_request(c->s, req, &lim, &reply);
	}
	cJSON_Delete(req);
	char *text = reply ? cJSON_PrintUnformatted(reply) : NULL;
	const char *out = text ? text : daimon_error_last();
	daimon_job_reply(daimon_ctx_rt(ctx), 0, m->from, d->ref, rc < 0 ? -1 : 0, out, strlen(out));
	cJSON_free(text);
	cJSON_Delete(reply);
	if (!c->local)
		work(ctx, c, daimon_now_ms());
}

/* ---- the actor ---- */

static int sched_init(daimon_ctx *ctx, void *state)
{
	struct sched *c = state;
	load_settings(c);
	if (daimon_sched_open(&c->s, c->g->store.home) < 0) {
		say("%s%s", daimon_error_last(), "");
		return DAIMON_STOP(DAIMON_EXIT_CRASHED);
	}
	daimon_register(daimon_ctx_rt(ctx), "scheduler", daimon_self(ctx));
	daimon_set_state_label(ctx, c->local ? "requests only" : "waiting");
	if (c->local)
		return DAIMON_CONTINUE;
	c->tfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (c->tfd < 0 || !(c->watch = daimon_watch_fd(ctx, c->tfd, EPOLLIN))) {
		say("cannot make a timer: %s%s", strerror(errno), "");
		return DAIMON_STOP(DAIMON_EXIT_CRASHED);
	}
	/* What was due while it was down, or in flight, once the channels
	 * it delivers to have had a moment to start. */
	c->start_timer = daimon_timer_start(ctx, START_DELAY_MS, 0);
	return DAIMON_CONTINUE;
}

static int sched_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct sched *c = state;
	switch (m->type) {
	case DAIMON_SCHEDULE_REQUEST:
		request(ctx, c, m);
		break;
	case DAIMON_MSG_FD: {
		uint64_t n;
		/* ECANCELED: the clock was set (a resume, NTP): look again */
		if (read(c->tfd, &n, sizeof(n)) < 0 && errno != EAGAIN && errno != ECANCELED)
			say("cannot read the timer: %s%s", strerror(errno), "");
		c->armed = -1; /* (set again below, whatever it was) */
		daimon_sched_catch_up(c->s);
		work(ctx, c, daimon_now_ms());
		break;
	}
	case DAIMON_SCHEDULE_RELOAD:
		load_settings(c);
		work(ctx, c, daimon_now_ms());
		break;
	case DAIMON_MSG_TIMER:
		if (m->ref == c->start_timer) {
			c->start_timer = 0;
			work(ctx, c, daimon_now_ms());
		}
		break;
	case DAIMON_CHANNEL_DELIVERED:
		delivered(c, m->data);
		work(ctx, c, daimon_now_ms());
		break;
	default: /* the sessions' answers to prompt jobs */
		heard(ctx, c, m);
		work(ctx, c, daimon_now_ms());
		break;
	}
	flush(c);
	if (!c->local && !c->start_timer)
		arm(c);
	publish(c);
	daimon_set_state_label(ctx, c->runs || c->sending ? "running jobs" : c->local ? "requests only" : "waiting");
	daimon_set_mem(ctx, daimon_sched_count(c->s) * sizeof(daimon_sched_job));
	return DAIMON_CONTINUE;
}

static void sched_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)ctx, (void)reason;
	struct sched *c = state;
	while (c->runs) {
		struct run *r = (struct run *)c->runs;
		c->runs = r->a.next;
		daimon_buf_release(&r->a.text);
		free(r);
	}
	while (c->sending) {
		struct sending *d = c->sending;
		c->sending = d->next;
		free(d);
	}
	flush(c);
	daimon_sched_free(c->s);
	free(c); /* (the timerfd is the runtime's: closed with the watch) */
}

static const daimon_behaviour sched_behaviour = {
	.name = "scheduler", .init = sched_init, .handle = sched_handle, .terminate = sched_terminate};

daimon_aid daimon_schedule_start(daimon_gateway *g)
{
	struct sched *c = daimon_xcalloc(1, sizeof(*c));
	c->g = g;
	c->local = g->local;
	c->tfd = -1;
	daimon_spawn_opts o = {.behaviour = &sched_behaviour, .state = c};
	daimon_aid id = daimon_spawn(g->rt, &o);
	if (!id)
		free(c);
	return id;
}
