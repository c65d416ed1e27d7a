/*
 * web-openai.c — the OpenAI-compatible door on the web port:
 * POST /v1/chat/completions (streamed as chat.completion.chunk events, or
 * whole) and GET /v1/models, behind a bearer key (apikeys.h), so any
 * OpenAI client talks to daimon with its memory and tools. daimon keeps
 * the conversation, so only the request's last user message is new; the
 * `user` field or an X-Daimon-Session header says whose ("api:USER").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/apikeys.h"
#include "channels/web-int.h"
#include "core/error.h"
#include "core/jsonutil.h"

/* ---- OpenAI's shapes ---- */

static void api_out(struct stream *st, const char *prefix, cJSON *data, const char *suffix, int last)
{
	char *s = data ? cJSON_PrintUnformatted(data) : NULL;
	cJSON_Delete(data);
	pthread_mutex_lock(&st->mu);
	daimon_buf_addf(&st->out, "%s%s%s", prefix, s ? s : "", suffix);
	st->done |= last;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
	cJSON_free(s);
}

static cJSON *api_object(const struct stream *st, const char *object)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", st->cid);
	cJSON_AddStringToObject(o, "object", object);
	cJSON_AddNumberToObject(o, "created", (double)(st->created / 1000));
	cJSON_AddStringToObject(o, "model", "daimon");
	return o;
}

/* A chat.completion.chunk: some text, or (text NULL) the end. */
void web_api_chunk(struct stream *st, const char *text, size_t len, const char *finish)
{
	cJSON *o = api_object(st, "chat.completion.chunk"), *choices = cJSON_AddArrayToObject(o, "choices");
	cJSON *c = cJSON_CreateObject(), *delta = cJSON_AddObjectToObject(c, "delta");
	cJSON_AddNumberToObject(c, "index", 0);
	if (!st->role_sent)
		cJSON_AddStringToObject(delta, "role", "assistant");
	st->role_sent = 1;
	if (text) {
		char *t = daimon_xstrndup(text, len);
		cJSON_AddStringToObject(delta, "content", t);
		free(t);
	}
	if (finish)
		cJSON_AddStringToObject(c, "finish_reason", finish);
	else
		cJSON_AddNullToObject(c, "finish_reason");
	cJSON_AddItemToArray(choices, c);
	api_out(st, "data: ", o, "\n\n", 0);
}

static cJSON *api_error_obj(const char *message, const char *type)
{
	cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddStringToObject(e, "message", message);
	cJSON_AddStringToObject(e, "type", type);
	cJSON_AddNullToObject(e, "code");
	return o;
}

void web_api_done(struct stream *st, const daimon_session_done *d)
{
	int failed = d->status < 0 && d->status != DAIMON_SESSION_CANCELLED;
	if (st->api == API_STREAM) {
		if (failed)
			api_out(st, "data: ", api_error_obj(d->error, "server_error"), "\n\n", 0);
		else
			web_api_chunk(st, NULL, 0, "stop");
		api_out(st, "data: [DONE]\n\n", NULL, "", 1);
		return;
	}
	if (failed) { /* (the client hears it as HTTP 500, web_start_stream) */
		st->status = 500;
		api_out(st, "", api_error_obj(d->error, "server_error"), "\n", 1);
		return;
	}
	cJSON *o = api_object(st, "chat.completion"), *choices = cJSON_AddArrayToObject(o, "choices");
	cJSON *c = cJSON_CreateObject(), *msg = cJSON_AddObjectToObject(c, "message");
	cJSON_AddNumberToObject(c, "index", 0);
	cJSON_AddStringToObject(msg, "role", "assistant");
	char *t = daimon_xstrndup(st->answer.ptr ? st->answer.ptr : "", st->answer.len);
	cJSON_AddStringToObject(msg, "content", t);
	free(t);
	cJSON_AddStringToObject(c, "finish_reason", "stop");
	cJSON_AddItemToArray(choices, c);
	cJSON *u = cJSON_AddObjectToObject(o, "usage"); /* (the session logs the model's own counts) */
	cJSON_AddNumberToObject(u, "prompt_tokens", 0);
	cJSON_AddNumberToObject(u, "completion_tokens", 0);
	cJSON_AddNumberToObject(u, "total_tokens", 0);
	api_out(st, "", o, "\n", 1);
}

/* ---- the OpenAI-compatible door: /v1/, for clients with an API key ---- */

enum MHD_Result web_api_fail(struct MHD_Connection *c, unsigned code, const char *message, const char *type)
{
	cJSON *o = api_error_obj(message, type);
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	enum MHD_Result ret = web_reply(c, code, "application/json", s, strlen(s));
	cJSON_free(s);
	return ret;
}

int web_api_key_ok(struct MHD_Connection *c, const struct web *w)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	char name[80];
	return auth && !strncmp(auth, "Bearer ", 7) &&
	       daimon_api_key_check(w->cf->host->store->home, auth + 7, name, sizeof(name)) == 1;
}

/* The last user message: a string, or its text parts (and its pictures,
 * image_url parts with data: URLs, added to `images` as the page's
 * [{"data"}]). */
static int last_user_text(const cJSON *messages, daimon_buf *out, cJSON *images, const char **why)
{
	const cJSON *last = NULL, *m;
	cJSON_ArrayForEach(m, messages) if (daimon_json_str(m, "role") && !strcmp(daimon_json_str(m, "role"), "user"))
		last = m;
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(last, "content"), *part;
	*why = "the messages hold no user message with text";
	if (cJSON_IsString(content)) {
		daimon_buf_adds(out, content->valuestring);
		return out->len ? 0 : -1;
	}
	for (part = cJSON_IsArray(content) ? content->child : NULL; part; part = part->next) {
		const char *type = daimon_json_str(part, "type"), *t = daimon_json_str(part, "text");
		if (type && !strcmp(type, "image_url")) {
			const cJSON *iu = cJSON_GetObjectItemCaseSensitive(part, "image_url");
			const char *url = cJSON_IsString(iu) ? iu->valuestring : daimon_json_str(iu, "url");
			if (!url || strncmp(url, "data:", 5)) {
				*why = "daimon takes pictures as data: URLs (it fetches no links)";
				return -1;
			}
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "data", url);
			cJSON_AddItemToArray(images, o);
			continue;
		}
		if (type && strcmp(type, "text")) {
			*why = "daimon takes text and image_url parts only (no audio or files here)";
			return -1;
		}
		if (t)
			daimon_buf_addf(out, "%s%s", out->len ? "\n" : "", t);
	}
	return out->len || cJSON_GetArraySize(images) ? 0 : -1;
}

/* POST /v1/chat/completions: daimon keeps the conversation (its log, its
 * memory, its tools), so of the client's messages only the last user
 * message is new; the `user` field or X-Daimon-Session says whose. */
static enum MHD_Result v1_chat(struct MHD_Connection *c, struct web *w, const daimon_buf *body)
{
	cJSON *req = cJSON_ParseWithLength(body->ptr ? body->ptr : "", body->len);
	const char *session = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Daimon-Session");
	const char *user = daimon_json_str(req, "user"), *why = NULL;
	char key[KEY_MAX + 8];
	if (session && *session)
		snprintf(key, sizeof(key), "%s", session);
	else
		snprintf(key, sizeof(key), "api:%s", user && *user ? user : "default");
	daimon_buf text = DAIMON_BUF_INIT, kept = DAIMON_BUF_INIT;
	cJSON *images = cJSON_CreateArray();
	char bad[300];
	enum MHD_Result ret;
	if (!cJSON_IsObject(req))
		ret = web_api_fail(c, MHD_HTTP_BAD_REQUEST, "the body is not a JSON object", "invalid_request_error");
	else if (!web_key_ok(key))
		ret = web_api_fail(c, MHD_HTTP_BAD_REQUEST,
				   "the conversation (user or X-Daimon-Session) is not a key daimon takes",
				   "invalid_request_error");
	else if (last_user_text(cJSON_GetObjectItemCaseSensitive(req, "messages"), &text, images, &why) < 0)
		ret = web_api_fail(c, MHD_HTTP_BAD_REQUEST, why, "invalid_request_error");
	else if (cJSON_GetArraySize(images) && web_keep_images(w, images, &kept, bad, sizeof(bad)) < 0)
		ret = web_api_fail(c, MHD_HTTP_BAD_REQUEST, bad, "invalid_request_error");
	else
		ret = web_start_stream(c, w, key, daimon_buf_cstr(&text), kept.len ? daimon_buf_cstr(&kept) : NULL,
				       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "stream")) ? API_STREAM
												     : API_WHOLE);
	daimon_buf_release(&text);
	daimon_buf_release(&kept);
	cJSON_Delete(images);
	cJSON_Delete(req);
	return ret;
}

enum MHD_Result web_v1(struct MHD_Connection *c, struct web *w, const char *url, const char *method,
		       const daimon_buf *body)
{
	if (!strcmp(url, "/v1/chat/completions") && !strcmp(method, "POST"))
		return v1_chat(c, w, body);
	if (!strcmp(url, "/v1/models") && !strcmp(method, "GET")) {
		cJSON *o = cJSON_CreateObject(), *data = cJSON_AddArrayToObject(o, "data"), *m = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "object", "list");
		cJSON_AddStringToObject(m, "id", "daimon");
		cJSON_AddStringToObject(m, "object", "model");
		cJSON_AddNumberToObject(m, "created", 0);
		cJSON_AddStringToObject(m, "owned_by", "daimon");
		cJSON_AddItemToArray(data, m);
		return web_reply_json(c, MHD_HTTP_OK, o);
	}
	return web_api_fail(c, MHD_HTTP_NOT_FOUND, "daimon answers /v1/chat/completions and /v1/models",
			    "invalid_request_error");
}
