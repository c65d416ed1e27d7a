/*
 * journal.c — a channel's inbox journal (the format and the rules are in
 * journal.h). Records are staged and committed together, one write and
 * one fdatasync for a batch: a channel acknowledges nothing to its peer
 * before its record is committed.
 */
#include "channels/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/home.h"
#include "core/jsonutil.h"

struct daimon_journal {
	int fd;
	char *path;
	daimon_buf staged;
};

static int append(daimon_journal *j, cJSON *rec)
{
	char *s = cJSON_PrintUnformatted(rec);
	cJSON_Delete(rec);
	daimon_buf_adds(&j->staged, s);
	daimon_buf_addc(&j->staged, '\n');
	cJSON_free(s);
	return 0;
}

int daimon_journal_commit(daimon_journal *j)
{
	if (!j->staged.len)
		return 0;
	int rc = daimon_write_all(j->fd, j->staged.ptr, j->staged.len);
	daimon_buf_clear(&j->staged);
	if (rc < 0)
		return daimon_error_errno("cannot write '%s'", j->path);
	if (fdatasync(j->fd) < 0)
		return daimon_error_errno("cannot sync '%s'", j->path);
	return 0;
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
	char *line, *save = NULL;
	for (line = b.len ? strtok_r(b.ptr, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *r = cJSON_Parse(line);
		if (!cJSON_IsObject(r)) { /* a torn tail: the crash came mid-write, before any ack */
			cJSON_Delete(r);
			continue;
		}
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "mark");
		const char *id;
		if (cJSON_IsNumber(m)) {
			*mark = m->valuedouble;
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
	/* Rewrite it short: the pending messages and the mark. */
	daimon_buf w = DAIMON_BUF_INIT;
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
		free(path);
		return -1;
	}
	daimon_buf_release(&w);
	daimon_journal *j = daimon_xcalloc(1, sizeof(*j));
	j->path = path;
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
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	daimon_buf_release(&j->staged);
	free(j->path);
	free(j);
}
