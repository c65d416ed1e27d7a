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

/* A conversation key, shared by every job of the table that has it. */
struct interned {
	struct interned *next;
	char s[];
};

struct daimon_sched {
	char *path;
	off_t read_to; /* the end of the last whole line folded in */
	daimon_sched_job **jobs;
	size_t n, cap;
	daimon_sched_job **byid; /* open addressing by id, hcap a power of two */
	size_t hcap;
	struct interned *keys[64];
};

static size_t id_hash(const char *id)
{
	size_t h = 2166136261u;
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h;
}

static void index_put(daimon_sched *s, daimon_sched_job *j)
{
	size_t i = id_hash(j->id) & (s->hcap - 1);
	while (s->byid[i])
		i = (i + 1) & (s->hcap - 1);
	s->byid[i] = j;
}

static daimon_sched_job *find_exact(daimon_sched *s, const char *id)
{
	if (!s->hcap)
		return NULL;
	for (size_t i = id_hash(id) & (s->hcap - 1); s->byid[i]; i = (i + 1) & (s->hcap - 1))
		if (!strcmp(s->byid[i]->id, id))
			return s->byid[i];
	return NULL;
}

static void add_job(daimon_sched *s, daimon_sched_job *j)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->jobs = daimon_xrealloc(s->jobs, s->cap * sizeof(*s->jobs));
	}
	s->jobs[s->n++] = j;
	if (4 * s->n > 3 * s->hcap) { /* (at most three quarters full) */
		free(s->byid);
		s->hcap = s->hcap ? 2 * s->hcap : 64;
		s->byid = daimon_xcalloc(s->hcap, sizeof(*s->byid));
		for (size_t i = 0; i < s->n; i++)
			index_put(s, s->jobs[i]);
	} else {
		index_put(s, j);
	}
}

static const char *intern(daimon_sched *s, const char *key)
{
	struct interned **b = &s->keys[id_hash(key) & 63];
	for (struct interned *k = *b; k; k = k->next)
		if (!strcmp(k->s, key))
			return k->s;
	struct interned *k = daimon_xmalloc(sizeof(*k) + strlen(key) + 1);
	strcpy(k->s, key);
	k->next = *b;
	*b = k;
	return k->s;
}

static void out_free(daimon_sched_job *j)
{
	if (j->out)
		free(j->out->text);
	free(j->out);
	j->out = NULL;
}

static void job_free(daimon_sched_job *j)
{
	free(j->name);
	if (j->own_text)
		free(j->text);
	free(j->to);
	free(j->cron);
	free(j->last_error);
	out_free(j);
	free(j);
}

/* A string member of `rec` into *dst: absent leaves it, "" clears it. */
static void set_str(char **dst, const cJSON *rec, const char *member)
{
	const char *v = daimon_json_str(rec, member);
	if (!v)
		return;
	free(*dst);
	*dst = *v ? daimon_xstrdup(v) : NULL;
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
	if (!after)
		return daimon_when_next(&j->when, now - 1);
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
	const char *id = daimon_json_str(rec, "id"), *text = daimon_json_str(rec, "text");
	const char *key = daimon_json_str(rec, "key");
	daimon_when w;
	if (!id || !text || !key || strlen(id) >= sizeof(((daimon_sched_job *)0)->id) || find_exact(s, id) ||
	    !when_of(rec, &w))
		return;
	daimon_sched_job *j = daimon_xcalloc(1, sizeof(*j) + strlen(text) + 1);
	snprintf(j->id, sizeof(j->id), "%s", id);
	j->when = w;
	strcpy(j->tail, text);
	j->text = j->tail;
	j->key = intern(s, key);
	set_str(&j->name, rec, "name");
	set_str(&j->to, rec, "to");
	set_str(&j->cron, rec, "cron");
	const char *kind = daimon_json_str(rec, "kind");
	j->prompt = kind && !strcmp(kind, "prompt");
	j->urgent = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "urgent"));
	j->next_ms = daimon_sched_next(j, 0, ts); /* (its first slot: however late it is read) */
	add_job(s, j);
}

static void apply_update(daimon_sched_job *j, const cJSON *rec)
{
	daimon_when w;
	const char *text = daimon_json_str(rec, "text");
	if (text && *text) {
		if (j->own_text)
			free(j->text);
		j->text = daimon_xstrdup(text);
		j->own_text = 1;
	}
	set_str(&j->name, rec, "name");
	set_str(&j->to, rec, "to");
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(rec, "urgent");
	if (cJSON_IsBool(u))
		j->urgent = cJSON_IsTrue(u);
	if (when_of(rec, &w)) {
		j->when = w;
		free(j->cron);
		j->cron = NULL;
		set_str(&j->cron, rec, "cron");
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
			out_free(j);
			j->out = daimon_xcalloc(1, sizeof(*j->out));
			j->out->text = daimon_xstrdup(text);
			j->out->slot = slot;
		}
		if (!strcmp(state, "failed"))
			set_str(&j->last_error, rec, "error");
	}
}

static void apply_delivery(daimon_sched_job *j, const cJSON *rec, const char *state, int64_t slot, int64_t ts)
{
	if (!j->out || j->out->slot != slot)
		return;
	if (!strcmp(state, "attempt")) {
		j->out->attempts++;
		j->out->last_attempt_ms = ts;
	} else if (!strcmp(state, "failed")) {
		set_str(&j->last_error, rec, "error");
	} else if (!strcmp(state, "ok") || !strcmp(state, "gave_up")) {
		j->delivered += !strcmp(state, "ok");
		if (!strcmp(state, "gave_up"))
			set_str(&j->last_error, rec, "error");
		out_free(j);
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
	free(s->byid);
	for (size_t i = 0; i < 64; i++)
		for (struct interned *k = s->keys[i], *next; k; k = next) {
			next = k->next;
			free(k);
		}
	free(s->path);
	free(s);
}

int daimon_sched_append(daimon_sched *s, cJSON *rec)
{
	char ts[DAIMON_TS_LEN];
	daimon_ts_format(ts, daimon_now_ms());
	daimon_buf b = DAIMON_BUF_INIT;
	for (cJSON *r = cJSON_IsArray(rec) ? rec->child : rec; r; r = cJSON_IsArray(rec) ? r->next : NULL) {
		cJSON_DeleteItemFromObjectCaseSensitive(r, "ts");
		cJSON_AddStringToObject(r, "ts", ts);
		char *line = cJSON_PrintUnformatted(r);
		daimon_buf_adds(&b, line);
		daimon_buf_addc(&b, '\n');
		cJSON_free(line);
	}
	cJSON_Delete(rec);
	int fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		daimon_buf_release(&b);
		return daimon_error_errno("cannot open '%s'", s->path);
	}
	int rc = flock(fd, LOCK_EX);
	if (rc == 0)
		rc = fold_from(s, fd) < 0 ? -1 : 0;
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
