/*
 * schedule.c — the jobs' record (schedule.h).
 *
 * The table is a fold of the record: each line changes one job, in the
 * order written. Reading resumes where it stopped, so the scheduler and
 * a command line appending beside it see each other's lines; an append
 * first reads what others wrote, under the same lock, so the fold never
 * sees lines out of order.
 */
#include "memory/schedule.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"

struct daimon_sched {
	char *path;
	off_t read_to; /* the end of the last whole line folded in */
	daimon_sched_job **jobs;
	size_t n, cap;
};

static void job_free(daimon_sched_job *j)
{
	free(j->name);
	free(j->text);
	free(j->key);
	free(j->to);
	free(j->spec);
	free(j->pending);
	free(j->last_error);
	free(j);
}

static daimon_sched_job *find_exact(daimon_sched *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->jobs[i]->id, id))
			return s->jobs[i];
	return NULL;
}

static void set_str(char **dst, const cJSON *rec, const char *member)
{
	const char *v = daimon_json_str(rec, member);
	if (!v)
		return;
	free(*dst);
	*dst = daimon_xstrdup(v);
}

/* The "at"/"every"/"cron" of a job or update record; 0 if none is there. */
static int when_of(const cJSON *rec, daimon_when *w)
{
	int64_t at = 0, every = 0;
	const char *cron = daimon_json_str(rec, "cron");
	char why[160];
	if (cron)
		return daimon_cron_parse(cron, w, why, sizeof(why)) == 0;
	if (daimon_json_int(rec, "at", &at) < 0)
		return 0;
	memset(w, 0, sizeof(*w));
	w->at_ms = at;
	w->kind = daimon_json_int(rec, "every", &every) == 0 && every > 0 ? DAIMON_WHEN_EVERY : DAIMON_WHEN_AT;
	w->every_ms = every;
	return 1;
}

int64_t daimon_sched_next(const daimon_sched_job *j, int64_t slot, int64_t now)
{
	if (j->when.kind == DAIMON_WHEN_AT)
		return slot ? -1 : j->when.at_ms;
	int64_t after = slot;
	if (!after) /* never run: its first slot, however late */
		return daimon_when_next(&j->when, j->created_ms - 1 > 0 ? j->created_ms - 1 : 0);
	if (now > after) { /* every slot missed since runs once: the newest of them */
		int64_t last = after, t;
		while ((t = daimon_when_next(&j->when, last)) >= 0 && t <= now)
			last = t;
		return last > after ? last : daimon_when_next(&j->when, after);
	}
	return daimon_when_next(&j->when, after);
}

static void apply_job(daimon_sched *s, const cJSON *rec, int64_t ts)
{
	const char *id = daimon_json_str(rec, "id");
	if (!id || strlen(id) >= sizeof(((daimon_sched_job *)0)->id) || find_exact(s, id))
		return;
	daimon_sched_job *j = daimon_xcalloc(1, sizeof(*j));
	snprintf(j->id, sizeof(j->id), "%s", id);
	if (!when_of(rec, &j->when)) {
		free(j);
		return;
	}
	set_str(&j->name, rec, "name");
	set_str(&j->text, rec, "text");
	set_str(&j->key, rec, "key");
	set_str(&j->to, rec, "to");
	set_str(&j->spec, rec, "spec");
	if (!j->text || !j->key) {
		job_free(j);
		return;
	}
	const char *kind = daimon_json_str(rec, "kind");
	j->prompt = kind && !strcmp(kind, "prompt");
	j->urgent = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "urgent"));
	j->created_ms = ts;
	j->next_ms = daimon_sched_next(j, 0, ts);
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->jobs = daimon_xrealloc(s->jobs, s->cap * sizeof(*s->jobs));
	}
	s->jobs[s->n++] = j;
}

static void apply_update(daimon_sched_job *j, const cJSON *rec)
{
	daimon_when w;
	set_str(&j->name, rec, "name");
	set_str(&j->text, rec, "text");
	set_str(&j->to, rec, "to");
	set_str(&j->spec, rec, "spec");
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(rec, "urgent");
	if (cJSON_IsBool(u))
		j->urgent = cJSON_IsTrue(u);
	if (when_of(rec, &w)) {
		j->when = w;
		/* a new time: due by it, as if it had never run */
		j->next_ms = w.kind == DAIMON_WHEN_AT ? w.at_ms : daimon_when_next(&w, j->last_slot);
		if (w.kind == DAIMON_WHEN_EVERY && w.at_ms > j->last_slot)
			j->next_ms = w.at_ms;
	}
}

static void apply_run(daimon_sched_job *j, const cJSON *rec, const char *state, int64_t slot, int64_t ts)
{
	if (!strcmp(state, "started")) {
		j->run_slot = slot;
		if (slot > j->last_slot)
			j->last_slot = slot;
		j->next_ms = daimon_sched_next(j, j->last_slot, ts);
		j->runs++;
	} else if (!strcmp(state, "finished") || !strcmp(state, "failed") || !strcmp(state, "missed")) {
		if (j->run_slot == slot)
			j->run_slot = 0;
		if (!strcmp(state, "missed")) {
			if (slot > j->last_slot)
				j->last_slot = slot;
			j->next_ms = daimon_sched_next(j, j->last_slot, ts);
		}
		const char *text = daimon_json_str(rec, "text");
		if (text) { /* (a missed one is told too) */
			free(j->pending);
			j->pending = daimon_xstrdup(text);
			j->pending_slot = slot;
			j->attempts = 0;
		}
		if (!strcmp(state, "failed"))
			set_str(&j->last_error, rec, "error");
	}
}

static void apply_delivery(daimon_sched_job *j, const cJSON *rec, const char *state, int64_t slot, int64_t ts)
{
	if (!j->pending || j->pending_slot != slot)
		return;
	if (!strcmp(state, "attempt")) {
		j->attempts++;
		j->last_attempt_ms = ts;
	} else if (!strcmp(state, "failed")) {
		set_str(&j->last_error, rec, "error");
	} else if (!strcmp(state, "ok") || !strcmp(state, "gave_up")) {
		j->delivered += !strcmp(state, "ok");
		if (!strcmp(state, "gave_up"))
			set_str(&j->last_error, rec, "error");
		free(j->pending);
		j->pending = NULL;
		j->pending_slot = 0;
		j->attempts = 0;
	}
}

static void apply(daimon_sched *s, const cJSON *rec)
{
	const char *type = daimon_json_str(rec, "type"), *id = daimon_json_str(rec, "id");
	const char *ts_s = daimon_json_str(rec, "ts");
	int64_t ts = 0, slot = 0;
	if (!type || !id || !ts_s || daimon_ts_parse(ts_s, &ts) < 0)
		return;
	if (!strcmp(type, "job")) {
		apply_job(s, rec, ts);
		return;
	}
	daimon_sched_job *j = find_exact(s, id);
	if (!j || j->removed)
		return;
	const char *state = daimon_json_str(rec, "state");
	daimon_json_int(rec, "slot", &slot);
	if (!strcmp(type, "update"))
		apply_update(j, rec);
	else if (!strcmp(type, "pause"))
		j->paused = 1;
	else if (!strcmp(type, "resume")) {
		j->paused = 0;
		if (j->when.kind != DAIMON_WHEN_AT && j->last_slot) /* slots missed while paused are not made up */
			j->next_ms = daimon_when_next(&j->when, ts);
	} else if (!strcmp(type, "remove"))
		j->removed = 1;
	else if (!strcmp(type, "run") && state)
		apply_run(j, rec, state, slot, ts);
	else if (!strcmp(type, "delivery") && state)
		apply_delivery(j, rec, state, slot, ts);
}

/* Folds in the whole lines from read_to on, from the open `fd`. */
static int fold_from(daimon_sched *s, int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return daimon_error_errno("cannot read '%s'", s->path);
	if (st.st_size <= s->read_to)
		return 0;
	size_t len = (size_t)(st.st_size - s->read_to);
	char *buf = daimon_xmalloc(len + 1);
	ssize_t got = daimon_pread_all(fd, buf, len, s->read_to);
	if (got < 0) {
		free(buf);
		return daimon_error_errno("cannot read '%s'", s->path);
	}
	buf[got] = 0;
	int any = 0;
	char *line = buf, *nl;
	while ((nl = memchr(line, '\n', (size_t)(buf + got - line)))) { /* (a torn tail waits) */
		*nl = 0;
		cJSON *rec = cJSON_Parse(line);
		if (rec)
			apply(s, rec);
		cJSON_Delete(rec);
		any = 1;
		line = nl + 1;
	}
	s->read_to += line - buf;
	free(buf);
	return any;
}

int daimon_sched_catch_up(daimon_sched *s)
{
	int fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : daimon_error_errno("cannot open '%s'", s->path);
	int rc = fold_from(s, fd);
	close(fd);
	return rc;
}

int daimon_sched_open(daimon_sched **out, const char *home)
{
	daimon_sched *s = daimon_xcalloc(1, sizeof(*s));
	s->path = daimon_home_path(home, "schedule.jsonl");
	if (daimon_sched_catch_up(s) < 0) {
		daimon_sched_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

void daimon_sched_free(daimon_sched *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		job_free(s->jobs[i]);
	free(s->jobs);
	free(s->path);
	free(s);
}

int daimon_sched_append(daimon_sched *s, cJSON *rec)
{
	char ts[DAIMON_TS_LEN];
	daimon_ts_format(ts, daimon_now_ms());
	cJSON_DeleteItemFromObjectCaseSensitive(rec, "ts");
	cJSON_AddStringToObject(rec, "ts", ts);
	int fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		cJSON_Delete(rec);
		return daimon_error_errno("cannot open '%s'", s->path);
	}
	int rc = flock(fd, LOCK_EX);
	if (rc == 0)
		rc = fold_from(s, fd) < 0 ? -1 : 0;
	char *line = cJSON_PrintUnformatted(rec);
	cJSON_Delete(rec);
	daimon_buf b = DAIMON_BUF_INIT;
	daimon_buf_adds(&b, line);
	daimon_buf_addc(&b, '\n');
	cJSON_free(line);
	/* After the last whole line: a torn one left by a crash is written over. */
	if (rc == 0 && (ftruncate(fd, s->read_to) < 0 || lseek(fd, s->read_to, SEEK_SET) < 0 ||
			daimon_write_all(fd, b.ptr, b.len) < 0 || fdatasync(fd) < 0))
		rc = daimon_error_errno("cannot write '%s'", s->path);
	if (rc == 0)
		rc = fold_from(s, fd) < 0 ? -1 : 0;
	daimon_buf_release(&b);
	close(fd); /* (and the lock with it) */
	return rc;
}

cJSON *daimon_sched_record(const char *type, const char *id, const char *state, int64_t slot)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "type", type);
	cJSON_AddStringToObject(r, "id", id);
	if (state)
		cJSON_AddStringToObject(r, "state", state);
	if (slot)
		cJSON_AddNumberToObject(r, "slot", (double)slot);
	return r;
}

size_t daimon_sched_count(const daimon_sched *s)
{
	return s->n;
}

daimon_sched_job *daimon_sched_job_at(daimon_sched *s, size_t i)
{
	return i < s->n ? s->jobs[i] : NULL;
}

const char *daimon_sched_path(const daimon_sched *s)
{
	return s->path;
}

daimon_sched_job *daimon_sched_find(daimon_sched *s, const char *id)
{
	daimon_sched_job *found = NULL;
	size_t n = id ? strlen(id) : 0;
	for (size_t i = 0; n && i < s->n; i++) {
		if (s->jobs[i]->removed || strncmp(s->jobs[i]->id, id, n))
			continue;
		if (found) {
			daimon_error_code(DAIMON_EINVAL, "more than one job's id starts with '%s'", id);
			return NULL;
		}
		found = s->jobs[i];
	}
	if (!found)
		daimon_error_code(DAIMON_ENOTFOUND, "no job '%s' (daimon cron list shows them)", id ? id : "");
	return found;
}
