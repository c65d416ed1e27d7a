/*
 * session-history.c — the projection between a session's log and the
 * history it sends the model: messages and tool results in daimon's
 * shape (llm.h), a stopped turn as what was said and why it ended,
 * compactions applied. The session is the log's single writer; what it
 * appends here is staged, and made durable by session-sync.c.
 */
#include "sessions/session-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "memory/text.h"
#include "sessions/compact.h"

/* Text made valid UTF-8 where it enters (a user's, a tool's result),
 * or the API refuses every later request of the session. */
static void add_text(cJSON *o, const char *name, const char *text)
{
	size_t n = strlen(text ? text : "");
	if (daimon_utf8_valid(text ? text : "", n)) {
		cJSON_AddStringToObject(o, name, text ? text : "");
		return;
	}
	daimon_buf b = DAIMON_BUF_INIT;
	daimon_buf_add_utf8(&b, text, n);
	cJSON_AddStringToObject(o, name, daimon_buf_cstr(&b));
	daimon_buf_release(&b);
}

static cJSON *message(const char *role, const char *text)
{
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", role);
	add_text(m, "content", text);
	return m;
}

/* What the model is told about a turn that was stopped: what it had said
 * so far and why it ended. */
cJSON *session_stopped_message(const cJSON *cancel)
{
	const char *partial = daimon_json_str(cancel, "partial");
	const char *reason = daimon_json_str(cancel, "reason");
	char *text = daimon_xasprintf("%s%s[%s]", partial ? partial : "", partial ? "\n\n" : "",
				      reason ? reason : "stopped");
	cJSON *m = message("assistant", text);
	free(text);
	return m;
}

/* What the model is told about a turn that failed: that it got no
 * answer, and why (marked, so a redelivered message is not answered with
 * it as if it were an answer). */
cJSON *session_failed_message(const char *error)
{
	char *text = daimon_xasprintf("[no answer: %s]", error && *error ? error : "the turn failed");
	cJSON *m = message("assistant", text);
	cJSON_AddBoolToObject(m, "failed", 1);
	free(text);
	return m;
}

/* The history keeps an answer's reasoning only where it is sent back:
 * with the tool calls it led to (llm.h). */
static void keep_reasoning(cJSON *m, const cJSON *calls, const cJSON *reasoning)
{
	if (cJSON_GetArraySize(calls) && cJSON_IsObject(reasoning))
		cJSON_AddItemToObject(m, "reasoning", cJSON_Duplicate(reasoning, 1));
}

int daimon_history_load(const char *path, cJSON *history, uint64_t *summarized_seq)
{
	daimon_log_reader *r;
	int rc = daimon_log_reader_open(&r, path, 0, 0, 0);
	if (rc < 0)
		return rc;
	daimon_record rec;
	while ((rc = daimon_log_reader_next(r, &rec)) == 1) {
		const cJSON *j = rec.json;
		cJSON *m = NULL;
		if (!strcmp(rec.type, DAIMON_REC_MESSAGE) || !strcmp(rec.type, DAIMON_REC_TOOL_RESULT)) {
			daimon_buf text = DAIMON_BUF_INIT;
			daimon_content_text(cJSON_GetObjectItemCaseSensitive(j, "content"), &text);
			int is_msg = rec.type[0] == 'm';
			m = message(is_msg ? daimon_json_str(j, "role") : "tool", daimon_buf_cstr(&text));
			daimon_buf_release(&text);
			const cJSON *calls = cJSON_GetObjectItemCaseSensitive(j, "tool_calls");
			if (is_msg && calls) {
				cJSON_AddItemToObject(m, "tool_calls", cJSON_Duplicate(calls, 1));
				keep_reasoning(m, calls, cJSON_GetObjectItemCaseSensitive(j, "reasoning"));
			}
			if (!is_msg)
				cJSON_AddStringToObject(m, "call_id", daimon_json_str(j, "call_id"));
			const char *mid = daimon_json_str(j, "mid");
			if (mid)
				cJSON_AddStringToObject(m, "mid", mid);
			const cJSON *images = cJSON_GetObjectItemCaseSensitive(j, "images");
			if (is_msg && cJSON_IsArray(images))
				cJSON_AddItemToObject(m, "images", cJSON_Duplicate(images, 1));
		} else if (!strcmp(rec.type, DAIMON_REC_CANCEL)) {
			m = session_stopped_message(j);
		} else if (!strcmp(rec.type, DAIMON_REC_FAILURE)) {
			m = session_failed_message(daimon_json_str(j, "error"));
		} else if (!strcmp(rec.type, DAIMON_REC_SUMMARY)) {
			const cJSON *upto = cJSON_GetObjectItemCaseSensitive(j, "upto_seq");
			if (cJSON_IsNumber(upto) && summarized_seq)
				*summarized_seq = (uint64_t)upto->valuedouble;
		} else if (!strcmp(rec.type, DAIMON_REC_COMPACTION)) { /* resume from the summary */
			double from = 0, to = 0;
			const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "from_seq");
			const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "to_seq");
			if (cJSON_IsNumber(f) && cJSON_IsNumber(t))
				from = f->valuedouble, to = t->valuedouble;
			daimon_compact_restore(history, from, to,
					       daimon_compact_message(daimon_json_str(j, "summary"), from));
		}
		if (m) {
			cJSON_AddNumberToObject(m, "seq", (double)rec.seq);
			cJSON_AddItemToArray(history, m);
		}
		daimon_record_clear(&rec);
	}
	daimon_log_reader_free(r);
	return rc;
}

/* Opens (or creates) the log and loads the history from it: at start,
 * and when the session wakes from hibernation. */
int session_open_log(struct session *s)
{
	char *path = daimon_store_log_path(s->set.store, s->id);
	daimon_log_report rep;
	cJSON_Delete(s->history);
	s->history = cJSON_CreateArray();
	int rc = daimon_log_open(&s->log, path, 0, &rep);
	if (rc == DAIMON_ENOTFOUND) {
		daimon_session_meta meta = {.id = s->id, .key = s->key};
		rc = daimon_store_create(s->set.store, &meta, 0, &s->log, NULL);
	} else if (rc == 0) {
		rc = daimon_history_load(path, s->history, &s->keep.summarized_seq);
	}
	free(path);
	return rc;
}

/* Stages `f` in the log; the history gets `h` (both taken). */
static int stage(struct session *s, cJSON *f, cJSON *h)
{
	uint64_t seq = 0;
	int rc = daimon_log_append(s->log, DAIMON_REC_MESSAGE, NULL, f, NULL, NULL, &seq);
	cJSON_Delete(f);
	if (rc < 0) {
		cJSON_Delete(h);
		return rc;
	}
	cJSON_AddNumberToObject(h, "seq", (double)seq);
	cJSON_AddItemToArray(s->history, h);
	return 0;
}

/* A picture's path as the log keeps it: relative, in the inbox. */
static int inbox_path(const char *path)
{
	return path && !strncmp(path, "inbox/", 6) && !strstr(path, "..") && !strchr(path, '\\');
}

int session_append_user(struct session *s, const char *text, const char *mid, const char *images)
{
	cJSON *f = message("user", text);
	if (mid && *mid)
		cJSON_AddStringToObject(f, "mid", mid);
	cJSON *all = images ? cJSON_Parse(images) : NULL, *kept = NULL;
	for (const cJSON *i = cJSON_IsArray(all) ? all->child : NULL; i; i = i->next) {
		const char *path = daimon_json_str(i, "path"), *mime = daimon_json_str(i, "mime");
		if (!inbox_path(path) || !mime || strncmp(mime, "image/", 6))
			continue; /* (only the channels' own, from the inbox) */
		if (!kept)
			kept = cJSON_AddArrayToObject(f, "images");
		cJSON *k = cJSON_CreateObject();
		cJSON_AddStringToObject(k, "path", path);
		cJSON_AddStringToObject(k, "mime", mime);
		cJSON_AddItemToArray(kept, k);
	}
	cJSON_Delete(all);
	return stage(s, f, cJSON_Duplicate(f, 1));
}

static int images_in(const cJSON *history)
{
	int n = 0;
	for (const cJSON *m = history ? history->child : NULL; m; m = m->next)
		n += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "images"));
	return n;
}

/* A message's images inlined (those from the `first`th of all on) or
 * named in its text; `n` counts them across the history. */
static cJSON *inline_images(const struct session *s, const cJSON *m, int *n, int first, int none)
{
	cJSON *c = cJSON_Duplicate(m, 1), *sent = cJSON_CreateArray();
	cJSON_DeleteItemFromObjectCaseSensitive(c, "images");
	daimon_buf text = DAIMON_BUF_INIT, bytes = DAIMON_BUF_INIT;
	daimon_buf_adds(&text, daimon_json_str(m, "content") ? daimon_json_str(m, "content") : "");
	const cJSON *i;
	cJSON_ArrayForEach(i, cJSON_GetObjectItemCaseSensitive(m, "images"))
	{
		const char *path = daimon_json_str(i, "path"), *why = NULL;
		char *file = daimon_xasprintf("%s/%s", s->set.store->home, path ? path : "");
		daimon_buf_clear(&bytes);
		if (none)
			why = "the model does not take images (model.images is false)";
		else if ((*n)++ < first)
			why = "not sent again: only the newest go with a request (model.max_images)";
		else if (!inbox_path(path) || daimon_read_file(&bytes, file) < 0)
			why = "it is no longer in the inbox";
		if (why) {
			daimon_buf_addf(&text, "%s[image %s: %s]", text.len ? "\n" : "", path ? path : "?", why);
		} else {
			daimon_buf b64 = DAIMON_BUF_INIT;
			daimon_buf_add_base64(&b64, bytes.ptr, bytes.len);
			cJSON *x = cJSON_CreateObject();
			cJSON_AddStringToObject(x, "mime", daimon_json_str(i, "mime"));
			cJSON_AddStringToObject(x, "data", daimon_buf_cstr(&b64));
			cJSON_AddItemToArray(sent, x);
			daimon_buf_release(&b64);
		}
		free(file);
	}
	cJSON_ReplaceItemInObjectCaseSensitive(c, "content", cJSON_CreateString(daimon_buf_cstr(&text)));
	if (cJSON_GetArraySize(sent))
		cJSON_AddItemToObject(c, "images", sent);
	else
		cJSON_Delete(sent);
	daimon_buf_release(&text);
	daimon_buf_release(&bytes);
	return c;
}

cJSON *session_history_with_images(const struct session *s, const daimon_llm_config *cfg)
{
	int total = images_in(s->history), n = 0;
	if (!total)
		return NULL;
	int keep = cfg->max_images < 0 ? 0 : cfg->max_images ? cfg->max_images : 4;
	cJSON *out = cJSON_CreateArray();
	for (const cJSON *m = s->history->child; m; m = m->next)
		cJSON_AddItemToArray(out, cJSON_GetObjectItemCaseSensitive(m, "images")
						  ? inline_images(s, m, &n, total - keep, cfg->no_images)
						  : cJSON_CreateObjectReference(m->child));
	return out;
}

int session_append_answer(struct session *s, const char *text, const cJSON *calls, const cJSON *reasoning,
			  const cJSON *usage)
{
	cJSON *f = message("assistant", text);
	if (cJSON_GetArraySize(calls))
		cJSON_AddItemToObject(f, "tool_calls", cJSON_Duplicate(calls, 1));
	cJSON *h = cJSON_Duplicate(f, 1);
	keep_reasoning(h, calls, reasoning);
	if (cJSON_IsObject(reasoning))
		cJSON_AddItemToObject(f, "reasoning", cJSON_Duplicate(reasoning, 1));
	if (usage)
		cJSON_AddItemToObject(f, "usage", cJSON_Duplicate(usage, 1));
	return stage(s, f, h);
}

int session_append_tool_result(struct session *s, const cJSON *call, const char *text, int is_error)
{
	const char *id = daimon_json_str(call, "id"), *name = daimon_json_str(call, "name");
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "call_id", id ? id : "");
	cJSON_AddStringToObject(f, "name", name ? name : "");
	add_text(f, "content", text);
	cJSON_AddBoolToObject(f, "is_error", is_error);
	uint64_t seq = 0;
	int rc = daimon_log_append(s->log, DAIMON_REC_TOOL_RESULT, NULL, f, NULL, NULL, &seq);
	if (rc == 0) {
		cJSON *h = message("tool", text);
		cJSON_AddStringToObject(h, "call_id", id ? id : "");
		cJSON_AddBoolToObject(h, "is_error", is_error);
		cJSON_AddNumberToObject(h, "seq", (double)seq);
		cJSON_AddItemToArray(s->history, h);
	}
	cJSON_Delete(f);
	return rc;
}
