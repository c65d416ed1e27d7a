/*
 * journal.c — a channel's inbox journal (the format and the rules are in
 * journal.h). Records are staged and committed together, one write and
 * one fdatasync for a batch: a channel acknowledges nothing to its peer
 * before its record is committed.
 */
#include "channels/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channels/access.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/work.h"

struct daimon_journal {
	int fd;
	char *path;
	pthread_mutex_t mu; /* what follows */
	daimon_buf staged;
	int refs;    /* its channel's, and each job's that uses it */
	cJSON *uses; /* chat -> key, as read at open */
};

static int append(daimon_journal *j, cJSON *rec)
{
	char *s = cJSON_PrintUnformatted(rec);
	cJSON_Delete(rec);
	pthread_mutex_lock(&j->mu);
	daimon_buf_adds(&j->staged, s);
	daimon_buf_addc(&j->staged, '\n');
	pthread_mutex_unlock(&j->mu);
	cJSON_free(s);
	return 0;
}

int daimon_journal_commit(daimon_journal *j)
{
	/* (under the lock: one writer at a time keeps the records in order) */
	pthread_mutex_lock(&j->mu);
	int rc = 0;
	if (j->staged.len) {
		rc = daimon_write_all(j->fd, j->staged.ptr, j->staged.len);
		daimon_buf_clear(&j->staged);
		if (rc < 0)
			rc = daimon_error_errno("cannot write '%s'", j->path);
		else if (fdatasync(j->fd) < 0)
			rc = daimon_error_errno("cannot sync '%s'", j->path);
	}
	pthread_mutex_unlock(&j->mu);
	return rc;
}

int daimon_journal_open(daimon_journal **out, const char *home, const char *name, cJSON **pending, double *mark)
{
	char *dir = daimon_home_path(home, "channels");
	if (daimon_mkdir_p(dir, 0700) < 0) {
		free(dir);
		return -1;
	}
	char *rel = daimon_xasprintf("channels/%s.jsonl", name);
	char *path = daimon_home_path(home, rel);
	free(rel);
	free(dir);
	daimon_buf b = DAIMON_BUF_INIT;
	int rc = daimon_read_file(&b, path);
	if (rc < 0 && rc != DAIMON_ENOTFOUND) {
		free(path);
		return rc;
	}
	*pending = cJSON_CreateArray();
	*mark = 0;
	cJSON *uses = cJSON_CreateObject();
	char *line, *save = NULL;
	for (line = b.len ? strtok_r(b.ptr, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *r = cJSON_Parse(line);
		if (!cJSON_IsObject(r)) { /* a torn tail: the crash came mid-write, before any ack */
			cJSON_Delete(r);
			continue;
		}
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "mark");
		const char *id;
		const char *use = daimon_json_str(r, "use"), *chat = daimon_json_str(r, "chat");
		if (cJSON_IsNumber(m)) {
			*mark = m->valuedouble;
		} else if (use && chat) {
			cJSON_DeleteItemFromObjectCaseSensitive(uses, chat);
			cJSON_AddStringToObject(uses, chat, use);
		} else if ((id = daimon_json_str(r, "out"))) {
			for (cJSON *p = (*pending)->child; p; p = p->next)
				if (!strcmp(daimon_json_str(p, "in"), id)) {
					cJSON_Delete(cJSON_DetachItemViaPointer(*pending, p));
					break;
				}
		} else if (daimon_json_str(r, "in")) {
			cJSON_AddItemToArray(*pending, r);
			r = NULL;
		}
		cJSON_Delete(r);
	}
	daimon_buf_release(&b);
	/* Rewrite it short: what each chat uses, the pending messages and the mark. */
	daimon_buf w = DAIMON_BUF_INIT;
	for (const cJSON *u = uses->child; u; u = u->next) {
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "chat", u->string);
		cJSON_AddStringToObject(r, "use", u->valuestring);
		char *s = cJSON_PrintUnformatted(r);
		daimon_buf_addf(&w, "%s\n", s);
		cJSON_free(s);
		cJSON_Delete(r);
	}
	for (const cJSON *p = (*pending)->child; p; p = p->next) {
		char *s = cJSON_PrintUnformatted(p);
		daimon_buf_addf(&w, "%s\n", s);
		cJSON_free(s);
	}
	if (*mark)
		daimon_buf_addf(&w, "{\"mark\":%.0f}\n", *mark);
	if (daimon_write_file_atomic(path, w.ptr ? w.ptr : "", w.len, 0600) < 0) {
		daimon_buf_release(&w);
		cJSON_Delete(*pending);
		cJSON_Delete(uses);
		free(path);
		return -1;
	}
	daimon_buf_release(&w);
	daimon_journal *j = daimon_xcalloc(1, sizeof(*j));
	pthread_mutex_init(&j->mu, NULL);
	j->refs = 1;
	j->path = path;
	j->uses = uses;
	j->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (j->fd < 0) {
		daimon_error_errno("cannot open '%s'", path);
		daimon_journal_close(j);
		cJSON_Delete(*pending);
		return -1;
	}
	*out = j;
	return 0;
}

int daimon_journal_in(daimon_journal *j, const char *id, const char *chat, const char *sender, const char *text,
		      const cJSON *extra)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "in", id);
	cJSON_AddStringToObject(r, "chat", chat);
	cJSON_AddStringToObject(r, "sender", sender);
	cJSON_AddStringToObject(r, "text", text);
	for (const cJSON *e = extra ? extra->child : NULL; e; e = e->next)
		cJSON_AddItemToObject(r, e->string, cJSON_Duplicate(e, 1));
	return append(j, r);
}

int daimon_journal_out(daimon_journal *j, const char *id)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "out", id);
	return append(j, r);
}

int daimon_journal_mark(daimon_journal *j, double mark)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddNumberToObject(r, "mark", mark);
	return append(j, r);
}

void daimon_journal_close(daimon_journal *j)
{
	if (j)
		daimon_journal_unpin(j); /* (a job still using it keeps it) */
}

static void journal_free(daimon_journal *j)
{
	pthread_mutex_destroy(&j->mu);
	if (j->fd >= 0)
		close(j->fd);
	daimon_buf_release(&j->staged);
	cJSON_Delete(j->uses);
	free(j->path);
	free(j);
}

cJSON *daimon_inbox_take(daimon_journal *j, const char *home, const char *channel, const cJSON *candidates, double mark)
{
	cJSON *out = cJSON_CreateObject();
	cJSON *taken = cJSON_AddArrayToObject(out, "taken"), *pairing = cJSON_AddArrayToObject(out, "pairing");
	const cJSON *c;
	cJSON_ArrayForEach(c, candidates)
	{
		const char *id = daimon_json_str(c, "id"), *chat = daimon_json_str(c, "chat");
		const char *sender = daimon_json_str(c, "sender"), *text = daimon_json_str(c, "text");
		if (!id || !chat || !sender)
			continue;
		char code[DAIMON_PAIRING_CODE_LEN + 1];
		int fresh = 0;
		/* who is let in: the sender, or the group it writes in ("access") */
		const char *who = daimon_json_str(c, "access") ? daimon_json_str(c, "access") : sender;
		const char *name = daimon_json_str(c, daimon_json_str(c, "access") ? "access_name" : "name");
		int access = daimon_access_check(home, channel, who, name, code, &fresh);
		if (access < 0)
			fprintf(stderr, "daimon: %s: %s\n", channel, daimon_error_last());
		if (access == DAIMON_ACCESS_PAIRING && fresh) {
			cJSON *p = cJSON_CreateObject();
			cJSON_AddStringToObject(p, "id", id);
			cJSON_AddStringToObject(p, "chat", chat);
			cJSON_AddStringToObject(p, "sender", sender);
			cJSON_AddStringToObject(p, "code", code);
			cJSON_AddItemToArray(pairing, p);
		}
		if (access != DAIMON_ACCESS_ALLOW)
			continue; /* nothing of theirs reaches the model */
		cJSON *extra = cJSON_Duplicate(c, 1);
		static const char *const own[] = {"id", "chat", "sender", "text"};
		for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
			cJSON_DeleteItemFromObjectCaseSensitive(extra, own[i]);
		daimon_journal_in(j, id, chat, sender, text ? text : "", extra);
		cJSON_Delete(extra);
		cJSON_AddItemToArray(taken, cJSON_Duplicate(c, 1));
	}
	int rc = mark > 0 ? daimon_journal_mark(j, mark) : 0;
	if (rc == 0)
		rc = daimon_journal_commit(j);
	if (rc < 0) {
		cJSON_Delete(out);
		return NULL;
	}
	return out;
}

cJSON *daimon_journal_uses(daimon_journal *j)
{
	return cJSON_Duplicate(j->uses, 1);
}

struct out_job {
	daimon_journal *j;
	cJSON *use; /* {"chat","use"} or NULL */
	char id[];
};

static int out_job(void *arg, daimon_buf *out, const _Atomic int *cancelled)
{
	(void)out, (void)cancelled;
	struct out_job *o = arg;
	int rc = 0;
	if (o->use) {
		rc = append(o->j, o->use);
		o->use = NULL;
	}
	if (rc == 0)
		rc = daimon_journal_out(o->j, o->id);
	if (rc == 0)
		rc = daimon_journal_commit(o->j);
	if (rc < 0)
		fprintf(stderr, "daimon: %s\n", daimon_error_last());
	return rc;
}

void daimon_journal_pin(daimon_journal *j)
{
	pthread_mutex_lock(&j->mu);
	j->refs++;
	pthread_mutex_unlock(&j->mu);
}

void daimon_journal_unpin(daimon_journal *j)
{
	pthread_mutex_lock(&j->mu);
	int last = --j->refs == 0;
	pthread_mutex_unlock(&j->mu);
	if (last)
		journal_free(j);
}

static void out_done(void *arg)
{
	struct out_job *o = arg;
	daimon_journal_unpin(o->j);
	cJSON_Delete(o->use);
	free(o);
}

void daimon_journal_out_later(daimon_rt *rt, daimon_journal *j, const char *id)
{
	daimon_journal_out_use_later(rt, j, id, NULL, NULL);
}

void daimon_journal_out_use_later(daimon_rt *rt, daimon_journal *j, const char *id, const char *chat, const char *key)
{
	size_t n = strlen(id) + 1;
	struct out_job *o = daimon_xmalloc(sizeof(*o) + n);
	o->j = j;
	o->use = NULL;
	if (chat && key) {
		o->use = cJSON_CreateObject();
		cJSON_AddStringToObject(o->use, "chat", chat);
		cJSON_AddStringToObject(o->use, "use", key);
	}
	memcpy(o->id, id, n);
	daimon_journal_pin(j);
	/* (nobody hears back: out_done runs once it is over, run or not) */
	daimon_job_release(daimon_job_submit(rt, 0, 0, out_job, o, out_done));
}
