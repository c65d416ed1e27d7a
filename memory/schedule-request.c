/*
 * schedule-request.c — making and changing jobs (daimon_sched_request).
 *
 * Every request is checked whole before anything is written: a time in
 * the past, a job more often than the minimum interval, a target that
 * cannot be delivered to, one job too many — each is refused with the
 * reason, so the model (or the person at the command line) can correct
 * it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"
#include "memory/schedule.h"

#define TEXT_MAX 8000

static const char *job_state(const daimon_sched_job *j)
{
	if (j->removed)
		return "removed";
	if (j->run_slot)
		return "running";
	if (j->out)
		return "delivering";
	if (j->next_ms < 0)
		return "done";
	return j->paused ? "paused" : "scheduled";
}

/* "when", as a person reads it: "at 2026-12-05 09:00:00 CET", "every 1h
 * from ...", "cron 30 9 * * 1-5". */
static void spec(cJSON *o, const daimon_sched_job *j)
{
	char t[64];
	daimon_buf b = DAIMON_BUF_INIT;
	daimon_time_local(t, sizeof(t), j->when.at_ms);
	if (j->when.kind == DAIMON_WHEN_CRON) {
		daimon_buf_addf(&b, "cron %s", j->cron ? j->cron : "?");
	} else if (j->when.kind == DAIMON_WHEN_EVERY) {
		int64_t s = j->when.every_ms / 1000;
		if (s % 86400 == 0)
			daimon_buf_addf(&b, "every %lldd", (long long)(s / 86400));
		else if (s % 3600 == 0)
			daimon_buf_addf(&b, "every %lldh", (long long)(s / 3600));
		else if (s % 60 == 0)
			daimon_buf_addf(&b, "every %lldm", (long long)(s / 60));
		else
			daimon_buf_addf(&b, "every %.3gs", (double)j->when.every_ms / 1000);
		daimon_buf_addf(&b, " from %s", t);
	} else {
		daimon_buf_addf(&b, "at %s", t);
	}
	cJSON_AddStringToObject(o, "when", daimon_buf_cstr(&b));
	daimon_buf_release(&b);
}

cJSON *daimon_sched_job_json(const daimon_sched_job *j)
{
	cJSON *o = cJSON_CreateObject();
	char when[64];
	cJSON_AddStringToObject(o, "id", j->id);
	cJSON_AddStringToObject(o, "name", j->name ? j->name : "");
	cJSON_AddStringToObject(o, "kind", j->prompt ? "prompt" : "message");
	cJSON_AddStringToObject(o, "text", j->text);
	cJSON_AddStringToObject(o, "key", j->key);
	cJSON_AddStringToObject(o, "to", j->to ? j->to : "");
	spec(o, j);
	cJSON_AddStringToObject(o, "state", job_state(j));
	if (j->next_ms >= 0 && !j->paused) {
		daimon_time_local(when, sizeof(when), j->next_ms);
		cJSON_AddStringToObject(o, "next", when);
		cJSON_AddNumberToObject(o, "next_ms", (double)j->next_ms);
	}
	cJSON_AddNumberToObject(o, "runs", j->runs);
	cJSON_AddNumberToObject(o, "delivered", j->delivered);
	if (j->out)
		cJSON_AddNumberToObject(o, "delivery_attempts", j->out->attempts);
	if (j->urgent)
		cJSON_AddBoolToObject(o, "urgent", 1);
	if (j->last_error)
		cJSON_AddStringToObject(o, "last_error", j->last_error);
	return o;
}

static int refuse(const char *fmt, const char *a, const char *b)
{
	return daimon_error_code(DAIMON_EINVAL, fmt, a, b);
}

/* The smallest gap between the first runs of `w`: how often it runs. */
static int64_t interval_of(const daimon_when *w, int64_t now)
{
	if (w->kind == DAIMON_WHEN_EVERY)
		return w->every_ms;
	int64_t t = daimon_when_next(w, now), gap = INT64_MAX;
	for (int i = 0; i < 16 && t >= 0; i++) {
		int64_t u = daimon_when_next(w, t);
		if (u >= 0 && u - t < gap)
			gap = u - t;
		t = u;
	}
	return gap;
}

/* The when of a create or update into `rec` ("at", "every", "cron",
 * "spec"): 1 done, 0 the request names none, <0 refused. */
static int when_into(const cJSON *req, const daimon_sched_limits *lim, cJSON *rec)
{
	const char *at = daimon_json_str(req, "at"), *in = daimon_json_str(req, "in");
	const char *every = daimon_json_str(req, "every"), *cron = daimon_json_str(req, "cron");
	char why[256], shown[64];
	int64_t t = 0, step = 0;
	if (!at && !in && !every && !cron)
		return 0;
	if ((at && in) || (cron && (at || in || every)))
		return refuse("give one of \"at\" or \"in\" (with \"every\" for a first run), or \"cron\" alone%s%s",
			      "", "");
	if (cron) {
		daimon_when w;
		if (daimon_cron_parse(cron, &w, why, sizeof(why)) < 0)
			return daimon_error_code(DAIMON_EINVAL, "%s", why);
		if (daimon_when_next(&w, lim->now_ms) < 0)
			return refuse("the cron expression \"%s\" never matches a day%s", cron, "");
		if (interval_of(&w, lim->now_ms) < lim->min_interval_ms)
			return daimon_error_code(DAIMON_EINVAL,
						 "\"%s\" runs more often than every %lld s (schedule.min_interval_s)",
						 cron, (long long)(lim->min_interval_ms / 1000));
		cJSON_AddStringToObject(rec, "cron", cron);
		daimon_buf spec = DAIMON_BUF_INIT;
		daimon_buf_addf(&spec, "cron %s", cron);
		cJSON_AddStringToObject(rec, "spec", daimon_buf_cstr(&spec));
		daimon_buf_release(&spec);
		return 1;
	}
	if (every && daimon_duration_parse(every, &step, why, sizeof(why)) < 0)
		return daimon_error_code(DAIMON_EINVAL, "%s", why);
	if (every && step < lim->min_interval_ms)
		return daimon_error_code(DAIMON_EINVAL,
					 "every %s is more often than every %lld s (schedule.min_interval_s)", every,
					 (long long)(lim->min_interval_ms / 1000));
	if (at && daimon_time_parse_iso(at, &t, why, sizeof(why)) < 0)
		return daimon_error_code(DAIMON_EINVAL, "%s", why);
	if (in) {
		if (daimon_duration_parse(in, &t, why, sizeof(why)) < 0)
			return daimon_error_code(DAIMON_EINVAL, "%s", why);
		if (t <= 0)
			return refuse("\"in\" %s is not in the future%s", in, "");
		t += lim->now_ms;
	}
	if (!at && !in)
		t = lim->now_ms + step;
	if (t <= lim->now_ms) {
		daimon_time_local(shown, sizeof(shown), lim->now_ms);
		return refuse("%s is in the past (it is %s now)", at, shown);
	}
	cJSON_AddNumberToObject(rec, "at", (double)t);
	daimon_time_local(shown, sizeof(shown), t);
	daimon_buf spec = DAIMON_BUF_INIT;
	if (every) {
		cJSON_AddNumberToObject(rec, "every", (double)step);
		daimon_buf_addf(&spec, "every %s from %s", every, shown);
	} else {
		daimon_buf_addf(&spec, "at %s", shown);
	}
	cJSON_AddStringToObject(rec, "spec", daimon_buf_cstr(&spec));
	daimon_buf_release(&spec);
	return 1;
}

/* "text", "name", "to", "urgent" of a create or update into `rec`. */
static int fields_into(const cJSON *req, const daimon_sched_limits *lim, cJSON *rec)
{
	const char *text = daimon_json_str(req, "text"), *name = daimon_json_str(req, "name");
	const char *to = daimon_json_str(req, "to");
	char why[256];
	if (text && (!*text || strlen(text) > TEXT_MAX))
		return daimon_error_code(DAIMON_EINVAL, "a job's text is 1 to %d bytes, not %zu", TEXT_MAX,
					 strlen(text));
	if (to && *to && lim->target_ok && lim->target_ok(lim->payload, to, why, sizeof(why)) < 0)
		return daimon_error_code(DAIMON_EINVAL, "%s", why);
	if (text)
		cJSON_AddStringToObject(rec, "text", text);
	if (name)
		cJSON_AddStringToObject(rec, "name", name);
	if (to)
		cJSON_AddStringToObject(rec, "to", to);
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(req, "urgent");
	if (cJSON_IsBool(u))
		cJSON_AddBoolToObject(rec, "urgent", cJSON_IsTrue(u));
	return 0;
}

static size_t live_jobs(daimon_sched *s)
{
	size_t n = 0;
	for (size_t i = 0; i < daimon_sched_count(s); i++) {
		daimon_sched_job *j = daimon_sched_job_at(s, i);
		n += !j->removed && (j->next_ms >= 0 || j->out || j->run_slot);
	}
	return n;
}

static int create(daimon_sched *s, const cJSON *req, const daimon_sched_limits *lim, cJSON **reply)
{
	const char *text = daimon_json_str(req, "text"), *kind = daimon_json_str(req, "kind");
	const char *key = daimon_json_str(req, "key");
	if (!text || !*text)
		return refuse("a job needs \"text\": the message to deliver, or the prompt to run%s%s", "", "");
	if (kind && strcmp(kind, "message") && strcmp(kind, "prompt"))
		return refuse("\"kind\" is message or prompt, not '%s'%s", kind, "");
	if (lim->max_jobs > 0 && live_jobs(s) >= (size_t)lim->max_jobs)
		return daimon_error_code(DAIMON_EINVAL,
					 "there are %ld jobs already (schedule.max_jobs); cancel one first",
					 lim->max_jobs);
	cJSON *rec = cJSON_CreateObject();
	int rc = when_into(req, lim, rec);
	if (rc == 0)
		rc = refuse("say when: \"at\" (an ISO 8601 time), \"in\" (a duration), \"every\" or \"cron\"%s%s", "",
			    "");
	if (rc > 0)
		rc = fields_into(req, lim, rec);
	if (rc < 0) {
		cJSON_Delete(rec);
		return rc;
	}
	unsigned char r[4];
	char id[12];
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		cJSON_Delete(rec);
		return daimon_error_errno("cannot make a job id");
	}
	snprintf(id, sizeof(id), "%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
	cJSON_AddStringToObject(rec, "type", "job");
	cJSON_AddStringToObject(rec, "id", id);
	cJSON_AddStringToObject(rec, "kind", kind ? kind : "message");
	cJSON_AddStringToObject(rec, "key", key && *key ? key : "cli:default");
	if (daimon_sched_append(s, rec) < 0)
		return -1;
	daimon_sched_job *j = daimon_sched_find(s, id);
	if (!j)
		return -1;
	*reply = cJSON_CreateObject();
	cJSON_AddItemToObject(*reply, "job", daimon_sched_job_json(j));
	return 0;
}

static int update(daimon_sched *s, daimon_sched_job *j, const cJSON *req, const daimon_sched_limits *lim)
{
	cJSON *rec = daimon_sched_record("update", j->id, NULL, 0);
	int rc = when_into(req, lim, rec);
	if (rc >= 0)
		rc = fields_into(req, lim, rec);
	if (rc < 0) {
		cJSON_Delete(rec);
		return rc;
	}
	if (cJSON_GetArraySize(rec) <= 2) {
		cJSON_Delete(rec);
		return refuse("an update changes \"text\", \"name\", \"to\", \"urgent\" or when the job runs%s%s", "",
			      "");
	}
	return daimon_sched_append(s, rec);
}

/* The job's runs and deliveries, oldest first (the newest `limit`). */
static int history(daimon_sched *s, const char *id, cJSON **reply)
{
	daimon_buf file = DAIMON_BUF_INIT;
	if (daimon_read_file(&file, daimon_sched_path(s)) < 0)
		daimon_buf_clear(&file);
	cJSON *list = cJSON_CreateArray();
	for (char *line = file.ptr, *nl; line && (nl = memchr(line, '\n', (size_t)(file.ptr + file.len - line)));
	     line = nl + 1) {
		*nl = 0;
		cJSON *rec = cJSON_Parse(line);
		const char *type = daimon_json_str(rec, "type"), *rid = daimon_json_str(rec, "id");
		if (type && rid && (!id || !strcmp(rid, id)) && (!strcmp(type, "run") || !strcmp(type, "delivery")))
			cJSON_AddItemToArray(list, cJSON_Duplicate(rec, 1));
		cJSON_Delete(rec);
	}
	daimon_buf_release(&file);
	while (cJSON_GetArraySize(list) > 200)
		cJSON_DeleteItemFromArray(list, 0);
	*reply = cJSON_CreateObject();
	cJSON_AddItemToObject(*reply, "history", list);
	return 0;
}

int daimon_sched_request(daimon_sched *s, const cJSON *req, const daimon_sched_limits *lim, cJSON **reply)
{
	const char *action = daimon_json_str(req, "action"), *id = daimon_json_str(req, "id");
	*reply = NULL;
	if (daimon_sched_catch_up(s) < 0)
		return -1;
	if (!action)
		return refuse("a request names its \"action\": create, list, show, update, pause, resume, cancel or "
			      "history%s%s",
			      "", "");
	if (!strcmp(action, "create"))
		return create(s, req, lim, reply);
	if (!strcmp(action, "list")) {
		cJSON *list = cJSON_CreateArray();
		int all = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "all"));
		for (size_t i = 0; i < daimon_sched_count(s); i++) {
			daimon_sched_job *j = daimon_sched_job_at(s, i);
			if (!j->removed && (all || strcmp(job_state(j), "done")))
				cJSON_AddItemToArray(list, daimon_sched_job_json(j));
		}
		*reply = cJSON_CreateObject();
		cJSON_AddItemToObject(*reply, "jobs", list);
		return 0;
	}
	if (!strcmp(action, "history") && (!id || !*id))
		return history(s, NULL, reply);
	daimon_sched_job *j = daimon_sched_find(s, id);
	if (!j)
		return -1;
	int rc = 0;
	if (!strcmp(action, "history"))
		return history(s, j->id, reply);
	if (!strcmp(action, "update"))
		rc = update(s, j, req, lim);
	else if (!strcmp(action, "pause") || !strcmp(action, "resume"))
		rc = daimon_sched_append(s, daimon_sched_record(action, j->id, NULL, 0));
	else if (!strcmp(action, "cancel") || !strcmp(action, "remove"))
		rc = daimon_sched_append(s, daimon_sched_record("remove", j->id, NULL, 0));
	else if (strcmp(action, "show"))
		return refuse("no action '%s': create, list, show, update, pause, resume, cancel or history%s", action,
			      "");
	if (rc < 0)
		return rc;
	*reply = cJSON_CreateObject();
	cJSON_AddItemToObject(*reply, "job", daimon_sched_job_json(j));
	return 0;
}
