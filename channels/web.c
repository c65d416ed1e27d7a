/*
 * web.c — the web chat: HTTP on 127.0.0.1 (libmicrohttpd), the page from
 * data/web/, answers streamed token by token as server-sent events.
 *
 * The channel actor owns the HTTP server (started in its init, stopped
 * when it exits, so the channel supervisor restarts it like any other).
 * libmicrohttpd runs a thread per connection; those threads never touch
 * a session directly: a chat request spawns a small actor that asks the
 * session for "web:<id>" and turns what the session sends into SSE
 * events in a buffer the connection's thread drains (a mutex and a
 * condition variable between them). A browser that goes away mid-answer
 * does not stop the turn: it is logged like any other.
 *
 * Access: a secret token, made at `daimon init` (or the first serve) in
 * $DAIMON_HOME/web-token. `daimon web` prints /#token=T; the page keeps
 * T in its origin's localStorage (no other port's page can read it) and
 * every API call carries "Authorization: Bearer T" — never a cookie,
 * which browsers send to every port of 127.0.0.1. Every request must
 * name this address as its Host (no DNS rebinding), come from this page
 * if it has an Origin, and post JSON.
 *
 * The token is checked before a byte of a body is read; bodies,
 * connections and idle time are bounded (channels.web.*).
 *
 * The page is the owner's: any conversation (the terminal's, Telegram's,
 * an imported one) opens and continues from it, the answer coming back
 * here. The model's markdown is rendered here (markdown.h), safe to put
 * in the page: "html" events carry the answer so far, at most every
 * RENDER_MS, and once more whole before "done".
 *
 * Routes: GET / (the page), GET /api/sessions, GET /api/search?q=,
 * GET /api/info {"mid_turn","images"}, GET /api/history?session=KEY|ID ([{"role","text","ts","html",
 * "images"}], tool lines as role "tool", failures as "error"), GET /api/file?path=inbox/... (a
 * picture sent), POST /api/approve {"session","ref","allow"}
 * (the answer to an SSE "approve"), POST /api/stop {"session"} (the
 * turn running there stops), POST /api/chat {"session","text","images":[{"data": a data URL}]} (SSE:
 * "delta", "html", "tool", "approve", "done"); /v1/ is the OpenAI-compatible
 * door (web-openai.c).
 * Settings: "channels": {"web": {"enabled", "port", "max_connections",
 * "idle_s"}}.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "channels/channels.h"
#include "channels/files.h"
#include "channels/markdown.h"
#include "channels/web-int.h"
#include "channels/web.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/settings.h"
#include "core/timefmt.h"
#include "memory/index.h"
#include "memory/log.h"
#include "memory/record.h"
#include "memory/search.h"
#include "memory/text.h"
#include "sessions/listen.h"
#include "sessions/session.h"

struct daimon_data_file {
	const char *name;
	const char *text;
	size_t len;
};
extern const struct daimon_data_file daimon_web_files[];

#define MAX_IMAGES 8 /* a message's pictures */
#define RENDER_MS 150
#define RETRY_FIRST_MS 2000
#define RETRY_MAX_MS 60000

/* ---- the token ---- */

int daimon_web_token(const char *home, char out[65])
{
	char *path = daimon_home_path(home, "web-token");
	daimon_buf b = DAIMON_BUF_INIT;
	int rc = daimon_read_file(&b, path);
	if (rc == 0 && b.len >= 32) {
		snprintf(out, 65, "%.*s", (int)strcspn(b.ptr, "\r\n"), b.ptr);
	} else if (rc == 0 || rc == DAIMON_ENOTFOUND) {
		unsigned char r[32];
		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
			free(path);
			daimon_buf_release(&b);
			return daimon_error_errno("cannot make the web token");
		}
		for (int i = 0; i < 32; i++)
			snprintf(out + 2 * i, 3, "%02x", r[i]);
		rc = daimon_write_file_atomic(path, out, 64, 0600);
	}
	daimon_buf_release(&b);
	free(path);
	return rc;
}

/* ---- a chat request: the actor and the stream between it and MHD ---- */

static void stream_unref(struct stream *st)
{
	pthread_mutex_lock(&st->mu);
	int left = --st->refs;
	pthread_mutex_unlock(&st->mu);
	if (left)
		return;
	pthread_mutex_destroy(&st->mu);
	pthread_cond_destroy(&st->cv);
	daimon_buf_release(&st->out);
	daimon_buf_release(&st->answer);
	free(st->key);
	free(st->text);
	free(st->images);
	free(st);
}

static void sse(struct stream *st, const char *event, cJSON *data, int last)
{
	char *s = cJSON_PrintUnformatted(data);
	cJSON_Delete(data);
	pthread_mutex_lock(&st->mu);
	daimon_buf_addf(&st->out, "event: %s\ndata: %s\n\n", event, s);
	st->done |= last;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
	cJSON_free(s);
}

static cJSON *text_obj(const void *text, size_t len)
{
	cJSON *o = cJSON_CreateObject();
	char *t = daimon_xstrndup(text, len);
	cJSON_AddStringToObject(o, "text", t);
	free(t);
	return o;
}

static void sse_done(struct stream *st, int status, const char *error, const char *session)
{
	if (st->api) {
		daimon_session_done d = {.status = status};
		snprintf(d.error, sizeof(d.error), "%s", error ? error : "");
		web_api_done(st, &d);
		return;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "ok", status >= 0);
	cJSON_AddNumberToObject(o, "status", status);
	cJSON_AddStringToObject(o, "error", error ? error : "");
	cJSON_AddStringToObject(o, "session", session ? session : "");
	sse(st, "done", o, 1);
}

static int asker_init(daimon_ctx *ctx, void *state)
{
	struct stream *st = state;
	st->rt = daimon_ctx_rt(ctx);
	st->self = daimon_self(ctx);
	daimon_buf ask = DAIMON_BUF_INIT;
	daimon_buf_adds(&ask, st->text);
	if (st->images) /* "text\0images\0" (session.h) */
		daimon_buf_add(&ask, "", 1), daimon_buf_add(&ask, st->images, strlen(st->images) + 1);
	int rc = daimon_channel_post(st->host, st->self, 0, st->key, DAIMON_SESSION_ASK, ask.ptr, ask.len);
	daimon_buf_release(&ask);
	if (rc < 0) {
		sse_done(st, -1, daimon_error_last(), NULL);
		return DAIMON_STOP(DAIMON_EXIT_NORMAL);
	}
	daimon_set_op(ctx, "answering a browser");
	return DAIMON_CONTINUE;
}

/* The answer so far as the page shows it: markdown made HTML. */
static void sse_html(struct stream *st)
{
	char *html = daimon_md_html(st->answer.ptr ? st->answer.ptr : "", st->answer.len);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "html", html);
	free(html);
	sse(st, "html", o, 0);
}

static void heard_delta(void *arg, const char *text, size_t len)
{
	struct stream *st = arg;
	daimon_buf_add(&st->answer, text, len);
	if (st->api) {
		if (st->api == API_STREAM)
			web_api_chunk(st, text, len, NULL);
		return;
	}
	sse(st, "delta", text_obj(text, len), 0);
	if (!st->render_timer) /* (rendered at most every RENDER_MS) */
		st->render_timer = daimon_timer_start(st->ctx, RENDER_MS, 0);
}

static void heard_tool(void *arg, const char *line, size_t len)
{
	if (!((struct stream *)arg)->api) /* (an OpenAI client hears the answer only) */
		sse(arg, "tool", text_obj(line, len), 0);
}

/* A call waits for the user: the page shows Allow and Deny, and the
 * press comes back as POST /api/approve. */
static void heard_approve(void *arg, uint64_t ref, const char *what)
{
	struct stream *st = arg;
	if (st->api) { /* nobody to ask through the API: declined (the model hears it) */
		daimon_session_approve(st->rt, st->self, st->session, ref, 0);
		return;
	}
	cJSON *o = cJSON_CreateObject();
	char id[24];
	snprintf(id, sizeof(id), "%llu", (unsigned long long)ref);
	cJSON_AddStringToObject(o, "ref", id); /* (a string: JavaScript's numbers stop at 2^53) */
	cJSON_AddStringToObject(o, "what", what);
	cJSON_AddStringToObject(o, "session", st->key);
	sse(st, "approve", o, 0);
}

static void heard_done(void *arg, const daimon_session_done *d)
{
	struct stream *st = arg;
	if (st->api) {
		web_api_done(st, d);
		st->finished = 1;
		return;
	}
	if (st->answer.len)
		sse_html(st);
	sse_done(st, d->status, d->error, d->session);
	st->finished = 1;
}

static const daimon_session_listener asker_listener = {
	.delta = heard_delta, .tool = heard_tool, .progress = heard_tool, .approve = heard_approve, .done = heard_done};

static int asker_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct stream *st = state;
	st->ctx = ctx;
	if (m->type == DAIMON_MSG_TIMER && m->ref == st->render_timer) {
		st->render_timer = 0;
		sse_html(st);
	} else if (m->type == DAIMON_CHANNEL_OPENED && m->len >= sizeof(daimon_channel_opened)) {
		const daimon_channel_opened *o = m->data;
		st->session = o->session;
		if (!o->session) {
			sse_done(st, -1, o->error, NULL);
			return DAIMON_STOP(DAIMON_EXIT_NORMAL);
		}
	} else {
		daimon_session_hear(ctx, m, &asker_listener, st);
	}
	return st->finished ? DAIMON_STOP(DAIMON_EXIT_NORMAL) : DAIMON_CONTINUE;
}

static void asker_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)ctx;
	struct stream *st = state;
	if (reason != DAIMON_EXIT_NORMAL)
		sse_done(st, -1, "the daemon is stopping", NULL);
	stream_unref(st);
}

static const daimon_behaviour asker_behaviour = {
	.name = "web-client", .init = asker_init, .handle = asker_handle, .terminate = asker_terminate};

/* MHD's side: hands out what the actor wrote, waiting for more. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct stream *st = cls;
	pthread_mutex_lock(&st->mu);
	while (!st->out.len && !st->done) {
		struct timespec until;
		daimon_realtime_after(&until, 15000);
		if (pthread_cond_timedwait(&st->cv, &st->mu, &until) == ETIMEDOUT && !st->out.len) {
			pthread_mutex_unlock(&st->mu);
			static const char ping[] = ": still working\n\n"; /* keeps proxies and browsers patient */
			memcpy(buf, ping, sizeof(ping) - 1 < max ? sizeof(ping) - 1 : max);
			return (ssize_t)(sizeof(ping) - 1 < max ? sizeof(ping) - 1 : max);
		}
	}
	size_t n = st->out.len < max ? st->out.len : max;
	if (!n) {
		pthread_mutex_unlock(&st->mu);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	memcpy(buf, st->out.ptr, n);
	memmove(st->out.ptr, st->out.ptr + n, st->out.len - n);
	st->out.len -= n;
	pthread_mutex_unlock(&st->mu);
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	stream_unref(cls);
}

/* ---- requests ---- */

struct request {
	daimon_buf body;
	int too_big;
};

enum MHD_Result web_reply(struct MHD_Connection *c, unsigned code, const char *type, const char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	enum MHD_Result ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result web_reply_json(struct MHD_Connection *c, unsigned code, cJSON *doc)
{
	char *s = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	enum MHD_Result ret = web_reply(c, code, "application/json", s, strlen(s));
	cJSON_free(s);
	return ret;
}

enum MHD_Result web_reply_error(struct MHD_Connection *c, unsigned code, const char *error)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "error", error);
	return web_reply_json(c, code, o);
}

/* Constant time: the token is a password. */
static int token_ok(const char *given, const char *token)
{
	if (!given || strlen(given) != strlen(token))
		return 0;
	unsigned char diff = 0;
	for (size_t i = 0; token[i]; i++)
		diff |= (unsigned char)(given[i] ^ token[i]);
	return diff == 0;
}

/* The token as a bearer header only: a cookie would go to every port of
 * 127.0.0.1 the browser visits, and be sent with another page's posts. */
static int authorized(struct MHD_Connection *c, const struct web *w)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	return auth && !strncmp(auth, "Bearer ", 7) && token_ok(auth + 7, w->token);
}

/* 127.0.0.1:PORT or localhost:PORT, as `value` (a Host) or after
 * "http://" (an Origin). */
static int our_address(const char *value, int port)
{
	char a[64], b[64];
	snprintf(a, sizeof(a), "127.0.0.1:%d", port);
	snprintf(b, sizeof(b), "localhost:%d", port);
	return value && (!strcmp(value, a) || !strcmp(value, b));
}

/* Only this page, by this address: a Host of another name is DNS
 * rebinding, an Origin of another port or site is a page posting here. */
static const char *foreign(struct MHD_Connection *c, const struct web *w, const char *method)
{
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	if (!our_address(host, w->cf->port))
		return "this page answers only at 127.0.0.1 or localhost (Host)";
	if (origin && (strncmp(origin, "http://", 7) || !our_address(origin + 7, w->cf->port)))
		return "requests from other pages are refused (Origin)";
	if (!strcmp(method, "POST") && (!type || strncmp(type, "application/json", 16)))
		return "a request's body is JSON (Content-Type: application/json)";
	return NULL;
}

/* The page itself holds no secret: it takes the token from the link's
 * #token= (never sent to a server), keeps it in its own origin's storage
 * and sends it as a header. */
static enum MHD_Result page(struct MHD_Connection *c)
{
	for (const struct daimon_data_file *f = daimon_web_files; f->name; f++)
		if (!strcmp(f->name, "index.html"))
			return web_reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", f->text, f->len);
	return web_reply_error(c, MHD_HTTP_NOT_FOUND, "no page");
}

/* The index brought up to date, held by this connection alone. */
static daimon_index *index_open(struct web *w)
{
	daimon_index *ix;
	pthread_mutex_lock(&w->ix_mu);
	if (daimon_index_open(&ix, w->cf->host->store) == 0) {
		if (daimon_index_refresh(ix, NULL) == 0)
			return ix;
		daimon_index_close(ix);
	}
	pthread_mutex_unlock(&w->ix_mu);
	return NULL;
}

static void index_close(struct web *w, daimon_index *ix)
{
	daimon_index_close(ix);
	pthread_mutex_unlock(&w->ix_mu);
}

static int add_session(const daimon_index_session *s, void *list)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "key", s->key ? s->key : "");
	cJSON_AddStringToObject(o, "title", s->title ? s->title : "");
	cJSON_AddNumberToObject(o, "messages", (double)s->messages);
	cJSON_AddNumberToObject(o, "last_ts", (double)s->last_ts);
	cJSON_AddItemToArray(list, o);
	return 0;
}

static enum MHD_Result api_sessions(struct MHD_Connection *c, struct web *w)
{
	daimon_index *ix = index_open(w);
	if (!ix)
		return web_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, daimon_error_last());
	cJSON *list = cJSON_CreateArray();
	if (daimon_index_sessions(ix, 100, add_session, list) < 0) {
		cJSON_Delete(list);
		index_close(w, ix);
		return web_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, daimon_error_last());
	}
	index_close(w, ix);
	return web_reply_json(c, MHD_HTTP_OK, list);
}

static enum MHD_Result api_search(struct MHD_Connection *c, struct web *w)
{
	const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q");
	if (!q || !*q)
		return web_reply_error(c, MHD_HTTP_BAD_REQUEST, "search needs q");
	daimon_search_result r;
	daimon_search_opts o = {.query = q, .limit = 30, .mark_open = "\x01", .mark_close = "\x02"};
	daimon_index *ix = index_open(w);
	if (!ix)
		return web_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, daimon_error_last());
	if (daimon_search(ix, &o, &r) < 0) {
		index_close(w, ix);
		return web_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, daimon_error_last());
	}
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; i < r.n; i++) {
		cJSON *h = cJSON_CreateObject();
		char *key = daimon_index_key_of(ix, r.hits[i].session);
		cJSON_AddStringToObject(h, "session", r.hits[i].session);
		cJSON_AddStringToObject(h, "key", key ? key : "");
		cJSON_AddStringToObject(h, "title", r.hits[i].title ? r.hits[i].title : "");
		cJSON_AddNumberToObject(h, "ts", (double)r.hits[i].ts);
		cJSON_AddStringToObject(h, "snippet", r.hits[i].snippet); /* matches between \x01 and \x02 */
		cJSON_AddItemToArray(list, h);
		free(key);
	}
	daimon_search_result_release(&r);
	index_close(w, ix);
	return web_reply_json(c, MHD_HTTP_OK, list);
}

/* A key as the page may name one: printable, and not too long. */
int web_key_ok(const char *key)
{
	if (!key || !*key || strlen(key) > KEY_MAX)
		return 0;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static cJSON *add_line(cJSON *out, const char *role, const char *text, int64_t ts, int html)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "role", role);
	cJSON_AddStringToObject(o, "text", text);
	cJSON_AddNumberToObject(o, "ts", (double)ts);
	if (html) {
		char *h = daimon_md_html(text, strlen(text));
		cJSON_AddStringToObject(o, "html", h);
		free(h);
	}
	cJSON_AddItemToArray(out, o);
	return o;
}

/* One record of the log as the page shows it, if it shows it: what was
 * said, a line for each tool call (as the live "tool" lines), and why a
 * turn ended early. */
static void history_line(cJSON *out, const daimon_record *rec, daimon_buf *text)
{
	const cJSON *j = rec->json;
	const char *role = daimon_json_str(j, "role");
	text->len = 0;
	if (!strcmp(rec->type, DAIMON_REC_MESSAGE) && role && (!strcmp(role, "user") || !strcmp(role, "assistant"))) {
		daimon_content_text(cJSON_GetObjectItemCaseSensitive(j, "content"), text);
		const cJSON *images = cJSON_GetObjectItemCaseSensitive(j, "images"), *im;
		if (!text->len && !cJSON_GetArraySize(images))
			return;
		cJSON *o = add_line(out, role, daimon_buf_cstr(text), rec->ts, !strcmp(role, "assistant"));
		cJSON *paths = cJSON_GetArraySize(images) ? cJSON_AddArrayToObject(o, "images") : NULL;
		cJSON_ArrayForEach(im, images) if (daimon_json_str(im, "path"))
			cJSON_AddItemToArray(paths, cJSON_CreateString(daimon_json_str(im, "path")));
	} else if (!strcmp(rec->type, DAIMON_REC_TOOL_RESULT)) {
		int err = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "is_error"));
		daimon_buf_addf(text, "%s %s", daimon_json_str(j, "name") ? daimon_json_str(j, "name") : "tool",
				err ? "failed" : "done");
		add_line(out, "tool", daimon_buf_cstr(text), rec->ts, 0);
	} else if (!strcmp(rec->type, DAIMON_REC_CANCEL) || !strcmp(rec->type, DAIMON_REC_FAILURE)) {
		const char *why = daimon_json_str(j, !strcmp(rec->type, DAIMON_REC_CANCEL) ? "reason" : "error");
		add_line(out, "error", why ? why : "the turn ended early", rec->ts, 0);
	}
}

/* GET /api/history?session=KEY or an id: the conversation as it was
 * said, from its log. */
static enum MHD_Result api_history(struct MHD_Connection *c, struct web *w)
{
	const char *key = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "session");
	if (!web_key_ok(key))
		return web_reply_error(c, MHD_HTTP_BAD_REQUEST, "history needs session=KEY");
	char id[DAIMON_ID_MAX + 1];
	daimon_index *ix = index_open(w);
	char *found = ix ? daimon_index_find_key(ix, key) : NULL;
	if (ix)
		index_close(w, ix);
	if (found || daimon_session_id_valid(key))
		snprintf(id, sizeof(id), "%s", found ? found : key);
	else
		daimon_session_id_for_key(id, key);
	free(found);
	char *path = daimon_store_log_path(w->cf->host->store, id);
	cJSON *out = cJSON_CreateArray();
	daimon_log_reader *r = NULL;
	int rc = access(path, F_OK) == 0 ? daimon_log_reader_open(&r, path, 0, 0, 0) : 0;
	free(path);
	daimon_record rec;
	daimon_buf text = DAIMON_BUF_INIT;
	while (r && (rc = daimon_log_reader_next(r, &rec)) == 1) {
		history_line(out, &rec, &text);
		daimon_record_clear(&rec);
	}
	daimon_buf_release(&text);
	daimon_log_reader_free(r);
	if (rc < 0) {
		cJSON_Delete(out);
		return web_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, daimon_error_last());
	}
	return web_reply_json(c, MHD_HTTP_OK, out);
}

/* GET /api/file?path=inbox/...: a picture or file someone sent, as it
 * was kept (files.h) — nothing outside the inbox. */
static enum MHD_Result api_file(struct MHD_Connection *c, struct web *w)
{
	const char *rel = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "path");
	if (!rel || strncmp(rel, "inbox/", 6) || strstr(rel, "..") || strlen(rel) > 300)
		return web_reply_error(c, MHD_HTTP_BAD_REQUEST, "file needs path=inbox/...");
	char *path = daimon_xasprintf("%s/%s", w->cf->host->store->home, rel);
	daimon_buf b = DAIMON_BUF_INIT;
	int rc = daimon_read_file(&b, path);
	free(path);
	enum MHD_Result ret;
	if (rc < 0) {
		ret = web_reply_error(c, rc == DAIMON_ENOTFOUND ? MHD_HTTP_NOT_FOUND : MHD_HTTP_INTERNAL_SERVER_ERROR,
				      daimon_error_last());
	} else {
		const char *mime = daimon_image_type(b.ptr, b.len);
		ret = web_reply(c, MHD_HTTP_OK, mime ? mime : "application/octet-stream", b.ptr ? b.ptr : "", b.len);
	}
	daimon_buf_release(&b);
	return ret;
}

/* The request's "session" if it names a conversation, else NULL. */
static const char *web_key(const cJSON *req)
{
	const char *key = daimon_json_str(req, "session");
	return web_key_ok(key) ? key : NULL;
}

/* POST /api/approve {"session","ref","allow"}: the page's Allow or Deny
 * for a call that waits (a session answers its own calls only; a ref it
 * never asked, or asked and forgot, is nothing). */
static enum MHD_Result api_approve(struct MHD_Connection *c, struct web *w, const daimon_buf *body)
{
	cJSON *req = cJSON_ParseWithLength(body->ptr ? body->ptr : "", body->len);
	const char *key = web_key(req), *ref = daimon_json_str(req, "ref");
	const cJSON *allow = cJSON_GetObjectItemCaseSensitive(req, "allow");
	char *end = NULL;
	daimon_session_approval a = {.ref = ref ? strtoull(ref, &end, 10) : 0, .allow = cJSON_IsTrue(allow)};
	int bad = !key || !ref || !*ref || *end || !cJSON_IsBool(allow);
	int rc = bad ? 0 : daimon_channel_post(w->cf->host, 0, 0, key, DAIMON_SESSION_APPROVAL, &a, sizeof(a));
	cJSON_Delete(req);
	if (bad)
		return web_reply_error(c, MHD_HTTP_BAD_REQUEST,
				       "approve needs {\"session\": KEY, \"ref\": REF, \"allow\": true|false}");
	if (rc < 0)
		return web_reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, daimon_error_last());
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "ok", 1);
	return web_reply_json(c, MHD_HTTP_ACCEPTED, o);
}

/* POST /api/stop {"session"}: the page's Stop button — the turn running
 * there stops, whoever asked it (the asker hears it ended). */
static enum MHD_Result api_stop(struct MHD_Connection *c, struct web *w, const daimon_buf *body)
{
	cJSON *req = cJSON_ParseWithLength(body->ptr ? body->ptr : "", body->len);
	const char *key = web_key(req);
	int bad = !key;
	int rc = bad ? 0 : daimon_channel_post(w->cf->host, 0, 0, key, DAIMON_SESSION_STOP, NULL, 0);
	cJSON_Delete(req);
	if (bad)
		return web_reply_error(c, MHD_HTTP_BAD_REQUEST, "stop needs {\"session\": KEY}");
	if (rc < 0)
		return web_reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, daimon_error_last());
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "ok", 1);
	return web_reply_json(c, MHD_HTTP_ACCEPTED, o);
}

enum MHD_Result web_start_stream(struct MHD_Connection *c, struct web *w, const char *key, const char *text,
				 const char *images, int api)
{
	struct stream *st = daimon_xcalloc(1, sizeof(*st));
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	st->refs = 2;
	st->host = w->cf->host;
	st->key = daimon_xstrdup(key);
	st->text = daimon_xstrdup(text);
	st->images = images ? daimon_xstrdup(images) : NULL;
	st->api = api;
	st->created = daimon_now_ms();
	unsigned char r[12];
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		memset(r, 0, sizeof(r));
	snprintf(st->cid, sizeof(st->cid), "chatcmpl-");
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(st->cid + 9 + 2 * i, 3, "%02x", r[i]);
	/* The web actor's child: when the channel stops, its streams end. */
	daimon_spawn_opts o = {
		.behaviour = &asker_behaviour, .state = st, .flags = DAIMON_SPAWN_CHILD, .parent = w->self};
	if (!daimon_spawn(w->cf->host->rt, &o)) {
		st->refs = 1;
		stream_unref(st);
		return web_reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, daimon_error_last());
	}
	if (api == API_WHOLE) { /* the whole answer, or its failure, before the status is said */
		pthread_mutex_lock(&st->mu);
		while (!st->done)
			pthread_cond_wait(&st->cv, &st->mu);
		unsigned status = st->status ? st->status : MHD_HTTP_OK;
		char *body = daimon_xstrndup(st->out.ptr ? st->out.ptr : "", st->out.len);
		pthread_mutex_unlock(&st->mu);
		stream_unref(st);
		enum MHD_Result ret = web_reply(c, status, "application/json", body, strlen(body));
		free(body);
		return ret;
	}
	struct MHD_Response *r2 =
		MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_free);
	MHD_add_response_header(r2, "Content-Type", api == API_WHOLE ? "application/json" : "text/event-stream");
	MHD_add_response_header(r2, "Cache-Control", "no-store");
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r2);
	MHD_destroy_response(r2);
	return ret;
}

int web_keep_images(struct web *w, const cJSON *images, daimon_buf *out, char *why, size_t size)
{
	int n = cJSON_GetArraySize(images), rc = 0, i = 0;
	if (n > MAX_IMAGES) {
		snprintf(why, size, "a message takes at most %d pictures", MAX_IMAGES);
		return -1;
	}
	cJSON *list = cJSON_CreateArray();
	daimon_buf bytes = DAIMON_BUF_INIT;
	int64_t now = daimon_now_ms();
	for (const cJSON *im = n ? images->child : NULL; im; im = im->next, i++) {
		const char *data = daimon_json_str(im, "data"), *comma = data ? strstr(data, ";base64,") : NULL;
		const char *b64 = comma ? comma + 8 : data, *mime = NULL;
		char id[48], rel[256];
		daimon_buf_clear(&bytes);
		if (!b64 || daimon_buf_add_unbase64(&bytes, b64, strlen(b64)) < 0) {
			snprintf(why, size, "picture %d is not base64 (a data: URL or its base64)", i + 1);
			rc = -1;
			break;
		}
		if (!(mime = daimon_image_type(bytes.ptr, bytes.len))) {
			snprintf(why, size, "picture %d is not an image daimon can send (JPEG, PNG, GIF or WebP)",
				 i + 1);
			rc = -1;
			break;
		}
		snprintf(id, sizeof(id), "web-%lld-%d", (long long)now, i + 1);
		if (daimon_file_keep(w->cf->host->store->home, id, "image", daimon_image_ext(mime), bytes.ptr,
				     bytes.len, rel, sizeof(rel)) < 0) {
			snprintf(why, size, "%s", daimon_error_last());
			rc = -1;
			break;
		}
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "path", rel);
		cJSON_AddStringToObject(o, "mime", mime);
		cJSON_AddItemToArray(list, o);
	}
	char *s = cJSON_PrintUnformatted(list);
	daimon_buf_adds(out, s);
	cJSON_free(s);
	cJSON_Delete(list);
	daimon_buf_release(&bytes);
	return rc;
}

/* POST /api/chat {"session","text","images"}: the answer as SSE. */
static enum MHD_Result api_chat(struct MHD_Connection *c, struct web *w, const daimon_buf *body)
{
	cJSON *req = cJSON_ParseWithLength(body->ptr ? body->ptr : "", body->len);
	const char *key = web_key(req), *text = daimon_json_str(req, "text");
	const cJSON *images = cJSON_GetObjectItemCaseSensitive(req, "images");
	daimon_buf kept = DAIMON_BUF_INIT;
	char why[300];
	enum MHD_Result ret;
	if (!key || !text || (!*text && !cJSON_GetArraySize(images)))
		ret = web_reply_error(c, MHD_HTTP_BAD_REQUEST,
				      "chat needs {\"session\": KEY, \"text\": \"...\"} (and \"images\", if any)");
	else if (cJSON_GetArraySize(images) && web_keep_images(w, images, &kept, why, sizeof(why)) < 0)
		ret = web_reply_error(c, MHD_HTTP_BAD_REQUEST, why);
	else
		ret = web_start_stream(c, w, key, text, kept.len ? daimon_buf_cstr(&kept) : NULL, 0);
	daimon_buf_release(&kept);
	cJSON_Delete(req);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	(void)version;
	struct web *w = cls;
	struct request *rq = *con_cls;
	if (!rq) { /* the headers: refused before any body is read, or its body comes next */
		const char *why = foreign(c, w, method);
		if (why)
			return web_reply_error(c, MHD_HTTP_FORBIDDEN, why);
		if (!strcmp(url, "/") && !strcmp(method, "GET"))
			return page(c);
		int door = !strncmp(url, "/v1/", 4);
		if (!door && strncmp(url, "/api/", 5))
			return web_reply_error(c, MHD_HTTP_NOT_FOUND, "not found");
		if (door && !web_api_key_ok(c, w))
			return web_api_fail(c, MHD_HTTP_UNAUTHORIZED,
					    "no such API key: make one with `daimon api-key create NAME`",
					    "invalid_request_error");
		if (!door && !authorized(c, w))
			return web_reply_error(c, MHD_HTTP_UNAUTHORIZED, "open the link `daimon web` prints");
		*con_cls = daimon_xcalloc(1, sizeof(struct request));
		return MHD_YES;
	}
	if (*upload_size) {
		if (rq->body.len + *upload_size > w->cf->max_body)
			rq->too_big = 1;
		else
			daimon_buf_add(&rq->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	if (rq->too_big) {
		char why[128];
		snprintf(why, sizeof(why), "the message is larger than %zu MB (channels.web.max_body_mb)",
			 w->cf->max_body >> 20);
		return web_reply_error(c, 413, why);
	}
	if (!strncmp(url, "/v1/", 4))
		return web_v1(c, w, url, method, &rq->body);
	if (!strcmp(url, "/api/chat") && !strcmp(method, "POST"))
		return api_chat(c, w, &rq->body);
	if (!strcmp(url, "/api/approve") && !strcmp(method, "POST"))
		return api_approve(c, w, &rq->body);
	if (!strcmp(url, "/api/stop") && !strcmp(method, "POST"))
		return api_stop(c, w, &rq->body);
	if (strcmp(method, "GET"))
		return web_reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
	if (!strcmp(url, "/api/sessions"))
		return api_sessions(c, w);
	if (!strcmp(url, "/api/search"))
		return api_search(c, w);
	if (!strcmp(url, "/api/history"))
		return api_history(c, w);
	if (!strcmp(url, "/api/file"))
		return api_file(c, w);
	if (!strcmp(url, "/api/info")) { /* what the page says of a message typed during a turn */
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "mid_turn", w->cf->mid_turn);
		cJSON_AddBoolToObject(o, "images", !w->cf->no_images);
		return web_reply_json(c, MHD_HTTP_OK, o);
	}
	return web_reply_error(c, MHD_HTTP_NOT_FOUND, "not found");
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode why)
{
	(void)cls, (void)c, (void)why;
	struct request *rq = *con_cls;
	if (rq) {
		daimon_buf_release(&rq->body);
		free(rq);
	}
	*con_cls = NULL;
}

/* ---- the channel actor ---- */

/* A port that cannot be had (another program has it) fails the web
 * channel alone: it says so once, in status and on stderr, and tries
 * again, less often each time, instead of crashing into its supervisor's
 * restart limit and taking the other channels down with it. */
static int listen_or_wait(daimon_ctx *ctx, struct web *w)
{
	const daimon_channel_host *host = w->cf->host;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)w->cf->port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	w->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
				  (uint16_t)w->cf->port, NULL, NULL, on_request, w, MHD_OPTION_SOCK_ADDR,
				  (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)w->cf->idle_s, MHD_OPTION_CONNECTION_LIMIT,
				  (unsigned)w->cf->max_connections, MHD_OPTION_END);
	if (!w->mhd) {
		char why[200];
		snprintf(why, sizeof(why),
			 "cannot listen on 127.0.0.1:%d (in use? set channels.web.port); trying again", w->cf->port);
		if (!w->retry_ms) /* (said once, not at every try) */
			fprintf(stderr, "daimon: web: %s\n", why);
		daimon_channel_state(host, "web", "failed", why);
		daimon_set_state_label(ctx, "waiting for its port");
		w->retry_ms = w->retry_ms ? (w->retry_ms * 2 < RETRY_MAX_MS ? w->retry_ms * 2 : RETRY_MAX_MS)
					  : RETRY_FIRST_MS;
		daimon_timer_start(ctx, w->retry_ms, 0);
		return DAIMON_CONTINUE;
	}
	if (w->retry_ms)
		fprintf(stderr, "daimon: web: listening on 127.0.0.1:%d now\n", w->cf->port);
	w->retry_ms = 0;
	daimon_set_state_label(ctx, "listening");
	daimon_channel_state(host, "web", "running", "");
	return DAIMON_CONTINUE;
}

static int web_init(daimon_ctx *ctx, void *state)
{
	struct web *w = state;
	const daimon_channel_host *host = w->cf->host;
	w->self = daimon_self(ctx);
	if (daimon_web_token(host->store->home, w->token) < 0) {
		daimon_channel_state(host, "web", "failed", daimon_error_last());
		return DAIMON_STOP(DAIMON_EXIT_CRASHED);
	}
	return listen_or_wait(ctx, w);
}

static int web_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct web *w = state;
	if (m->type == DAIMON_MSG_TIMER && !w->mhd)
		return listen_or_wait(ctx, w);
	return DAIMON_CONTINUE;
}

static void web_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)ctx, (void)reason;
	struct web *w = state;
	if (w->mhd)
		MHD_stop_daemon(w->mhd); /* (waits for its connection threads) */
	pthread_mutex_destroy(&w->ix_mu);
	daimon_channel_state(w->cf->host, "web", "stopped", NULL);
	free(w);
}

static const daimon_behaviour web_behaviour = {
	.name = "web", .init = web_init, .handle = web_handle, .terminate = web_terminate};

static void *web_make_state(void *conf)
{
	struct web *w = daimon_xcalloc(1, sizeof(*w));
	w->cf = conf;
	pthread_mutex_init(&w->ix_mu, NULL);
	return w;
}

static int web_configure(const daimon_channel_host *host, const daimon_settings *set, void **out)
{
	int on;
	int64_t port, conns, idle, body_mb;
	if (daimon_settings_bool(set, "channels.web.enabled", &on) < 0)
		return -1;
	if (!on)
		return 0;
	int images = 1;
	if (daimon_settings_int(set, "channels.web.port", &port) < 0 ||
	    daimon_settings_int(set, "channels.web.max_connections", &conns) < 0 ||
	    daimon_settings_int(set, "channels.web.idle_s", &idle) < 0 ||
	    daimon_settings_int(set, "channels.web.max_body_mb", &body_mb) < 0 ||
	    daimon_settings_bool(set, "model.images", &images) < 0)
		return -1;
	struct web_conf *cf = daimon_xcalloc(1, sizeof(*cf));
	cf->host = host;
	cf->port = (int)port;
	cf->max_connections = (int)conns;
	cf->idle_s = (int)idle;
	cf->max_body = (size_t)body_mb << 20;
	cf->no_images = !images;
	const char *mid = NULL;
	(void)daimon_settings_string(set, "channels.web.mid_turn", &mid);
	snprintf(cf->mid_turn, sizeof(cf->mid_turn), "%s", mid ? mid : "queue");
	*out = cf;
	return 1;
}

const daimon_channel_kind daimon_channel_web = {
	.name = "web",
	.configure = web_configure,
	.conf_free = free,
	.behaviour = &web_behaviour,
	.make_state = web_make_state,
};
