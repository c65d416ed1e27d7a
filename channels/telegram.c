/*
 * telegram.c — the Telegram channel: the Bot API over the http actor.
 *
 * getUpdates polling (long polls of `poll_timeout_s` against Telegram; a
 * server that answers at once, like a test server, is asked again after
 * `poll_interval_ms`). Each batch of updates is written to the channel's
 * journal and synced, with the next offset, before anything else happens
 * — the next getUpdates, which confirms the offset to Telegram, comes
 * after — so a crash loses nothing Telegram considers delivered. Each
 * message then goes to the session "telegram:<chat id>" with its id
 * ("telegram:<update id>"), and the answer goes back with sendMessage,
 * split at Telegram's 4,096-character limit; "out" is journaled once
 * every part is sent. Senders pass the access check first (access.h):
 * an unknown one gets a pairing code, once.
 *
 * Settings: config.json "channels": {"telegram": {"token", "api_url",
 * "poll_timeout_s", "poll_interval_ms", "allow", "pairing"}};
 * TELEGRAM_BOT_TOKEN and DAIMON_TELEGRAM_API_URL win over the file. The
 * channel is on when there is a token (and "enabled" is not false).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/access.h"
#include "channels/channels.h"
#include "channels/journal.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/http.h"
#include "core/jsonutil.h"
#include "core/settings.h"
#include "core/timefmt.h"
#include "core/work.h"

#define TG_LIMIT 4096
#define TG_SEND_TRIES 5

struct tg_conf {
	const daimon_channel_host *host;
	char *token, *api;
	long poll_timeout_s, poll_interval_ms;
};

/* A message at its session, and then its answer on the way out. */
struct item {
	daimon_answer a; /* first: the list is of answers (channels.h) */
	char id[32];     /* the update id */
	char chat[32];
	size_t sent;   /* bytes of the answer sent so far */
	uint64_t xfer; /* the sendMessage in flight */
	uint64_t retry_timer;
	int tries;
};

struct tg {
	const struct tg_conf *cf;
	daimon_journal *j;
	double offset;
	uint64_t poll, poll_timer;
	int64_t poll_started;
	int failures;
	/* a batch being taken (journaled) on the work pool, and what it moves
	 * the offset to */
	daimon_job *take;
	double taking;
	int took;             /* how many updates it had */
	daimon_answer *items; /* struct item, oldest first */
};

static char *method_url(const struct tg_conf *cf, const char *method)
{
	return daimon_xasprintf("%s/bot%s/%s", cf->api, cf->token, method);
}

static void state(daimon_ctx *ctx, struct tg *t, const char *label, const char *error)
{
	daimon_set_state_label(ctx, label);
	daimon_channel_state(t->cf->host, "telegram", label, error);
}

/* ---- sending ---- */

static uint64_t post(daimon_ctx *ctx, struct tg *t, const char *method, cJSON *body)
{
	static const char *const headers[] = {"Content-Type: application/json", NULL};
	char *url = method_url(t->cf, method), *s = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	daimon_http_req r = {.url = url, .body = s, .body_len = strlen(s), .headers = headers, .timeout_ms = 30000};
	uint64_t id = daimon_http_request(ctx, t->cf->host->http, &r);
	free(url);
	cJSON_free(s);
	return id;
}

static void send_text(daimon_ctx *ctx, struct tg *t, const char *chat, const char *text, size_t len, uint64_t *xfer)
{
	cJSON *b = cJSON_CreateObject();
	if (chat[strspn(chat, "-0123456789")] == 0)
		cJSON_AddRawToObject(b, "chat_id", chat);
	else
		cJSON_AddStringToObject(b, "chat_id", chat);
	char *part = daimon_xstrndup(text, len);
	cJSON_AddStringToObject(b, "text", part);
	free(part);
	uint64_t id = post(ctx, t, "sendMessage", b);
	if (xfer)
		*xfer = id;
}

static void item_free(struct item *it)
{
	daimon_buf_release(&it->a.text);
	free(it);
}

static void item_drop(daimon_ctx *ctx, struct tg *t, struct item *it)
{
	daimon_answer_unlink(&t->items, &it->a);
	if (it->retry_timer)
		daimon_timer_cancel(ctx, it->retry_timer);
	item_free(it);
}

/* Sends the next part of the answer, or, all sent, journals "out". */
static void send_next(daimon_ctx *ctx, struct tg *t, struct item *it)
{
	size_t left = it->a.text.len - it->sent;
	if (!left) {
		daimon_journal_out_later(daimon_ctx_rt(ctx), t->j, it->id);
		item_drop(ctx, t, it);
		return;
	}
	size_t n = daimon_channel_split(it->a.text.ptr + it->sent, left, TG_LIMIT);
	send_text(ctx, t, it->chat, it->a.text.ptr + it->sent, n, &it->xfer);
}

static void on_sent(daimon_ctx *ctx, struct tg *t, struct item *it, const daimon_http_result *r)
{
	it->xfer = 0;
	cJSON *doc = r->curl_code == 0 ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
	int ok = r->status == 200 && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "ok"));
	cJSON_Delete(doc);
	if (ok) {
		size_t left = it->a.text.len - it->sent;
		it->sent += daimon_channel_split(it->a.text.ptr + it->sent, left, TG_LIMIT);
		it->tries = 0;
		send_next(ctx, t, it);
		return;
	}
	if (++it->tries >= TG_SEND_TRIES) { /* journaled "in" without "out": a restart tries again */
		fprintf(stderr, "daimon: telegram: cannot send the answer to %s for now (HTTP %ld %s)\n", it->id,
			r->status, r->error);
		item_drop(ctx, t, it);
		return;
	}
	it->retry_timer = daimon_timer_start(ctx, 1000L << it->tries, 0);
}

/* ---- receiving ---- */

#define GREETING                                                                                        \
	"Hello, I am daimon, your assistant. Write to me as you would to a person: I remember what we " \
	"talk about, and the owner decides what else I may do for you."

/* "/start", "/start PAYLOAD" or "/start@BotName": a command Telegram's
 * clients send on their own. */
static int is_command(const char *text, const char *cmd)
{
	size_t n = strlen(cmd);
	return !strncmp(text, cmd, n) && (!text[n] || text[n] == ' ' || text[n] == '@');
}

static void dispatch(daimon_ctx *ctx, struct tg *t, const char *id, const char *chat, const char *text)
{
	char key[64], mid[48];
	snprintf(key, sizeof(key), "telegram:%s", chat);
	snprintf(mid, sizeof(mid), "telegram:%s", id);
	struct item *it = daimon_xcalloc(1, sizeof(*it));
	snprintf(it->id, sizeof(it->id), "%s", id);
	snprintf(it->chat, sizeof(it->chat), "%s", chat);
	daimon_answer_append(&t->items, &it->a);
	if (is_command(text, "/start") || is_command(text, "/help")) { /* the client's, not for the model */
		daimon_buf_adds(&it->a.text, GREETING);
		it->a.answered = 1;
		send_next(ctx, t, it);
		return;
	}
	if (daimon_answer_ask(ctx, t->cf->host, &it->a, key, mid, text) < 0)
		send_next(ctx, t, it);
}

static const char *num_str(const cJSON *v, char *buf, size_t size)
{
	if (cJSON_IsNumber(v))
		snprintf(buf, size, "%.0f", v->valuedouble);
	else if (cJSON_IsString(v))
		snprintf(buf, size, "%s", v->valuestring);
	else
		return NULL;
	return buf;
}

static void schedule_poll(daimon_ctx *ctx, struct tg *t, long ms);

struct take {
	daimon_journal *j;
	const char *home;
	cJSON *candidates;
	double mark;
};

/* (the pool) */
static int take_job(void *arg, daimon_buf *out, const _Atomic int *cancelled)
{
	(void)cancelled;
	struct take *k = arg;
	cJSON *r = daimon_inbox_take(k->j, k->home, "telegram", k->candidates, k->mark);
	if (!r) {
		daimon_buf_adds(out, daimon_error_last());
		return -1;
	}
	char *s = cJSON_PrintUnformatted(r);
	daimon_buf_adds(out, s);
	cJSON_free(s);
	cJSON_Delete(r);
	return 0;
}

static void take_free(void *arg)
{
	struct take *k = arg;
	daimon_journal_unpin(k->j);
	cJSON_Delete(k->candidates);
	free(k);
}

/* A batch of updates: what passes the access check is journaled, with
 * the new offset, in one sync on the work pool (take_done goes on). */
static void on_updates(daimon_ctx *ctx, struct tg *t, const cJSON *result)
{
	cJSON *candidates = cJSON_CreateArray();
	double offset = t->offset;
	const cJSON *u;
	cJSON_ArrayForEach(u, result)
	{
		const cJSON *uid = cJSON_GetObjectItemCaseSensitive(u, "update_id");
		if (!cJSON_IsNumber(uid) || uid->valuedouble < t->offset)
			continue; /* seen: a server that ignores the offset sends it again */
		if (uid->valuedouble + 1 > offset)
			offset = uid->valuedouble + 1;
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(u, "message");
		const cJSON *from = cJSON_GetObjectItemCaseSensitive(msg, "from");
		const char *text = daimon_json_str(msg, "text");
		char chat[32], sender[32], id[32];
		if (!text ||
		    !num_str(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(msg, "chat"), "id"),
			     chat, sizeof(chat)) ||
		    !num_str(cJSON_GetObjectItemCaseSensitive(from, "id"), sender, sizeof(sender)))
			continue; /* not a text message: nothing to answer */
		num_str(uid, id, sizeof(id));
		const char *name = daimon_json_str(from, "username");
		if (!name)
			name = daimon_json_str(from, "first_name");
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "id", id);
		cJSON_AddStringToObject(c, "chat", chat);
		cJSON_AddStringToObject(c, "sender", sender);
		if (name)
			cJSON_AddStringToObject(c, "name", name);
		cJSON_AddStringToObject(c, "text", text);
		cJSON_AddItemToArray(candidates, c);
	}
	struct take *k = daimon_xcalloc(1, sizeof(*k));
	k->j = t->j;
	k->home = t->cf->host->store->home;
	k->candidates = candidates;
	k->mark = offset != t->offset ? offset : 0;
	daimon_journal_pin(t->j);
	t->taking = offset;
	t->take = daimon_job_submit(daimon_ctx_rt(ctx), daimon_self(ctx), 0, take_job, k, take_free);
	daimon_set_op(ctx, "journaling");
}

/* The batch is durable (or not: then nothing was acknowledged, and the
 * same updates come again): pairing codes go out, the messages to their
 * sessions, and the next poll starts. */
static void take_done(daimon_ctx *ctx, struct tg *t, const daimon_job_done *d)
{
	daimon_job_release(t->take);
	t->take = NULL;
	cJSON *r = d->status == 0 ? cJSON_Parse(d->text) : NULL;
	if (!r) {
		state(ctx, t, "failed", d->status ? d->text : "the journal's answer could not be read");
		schedule_poll(ctx, t, 5000);
		return;
	}
	t->offset = t->taking;
	const cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(r, "pairing"))
	{
		char *hello = daimon_xasprintf("I don't know you yet. To talk with me, ask my owner to run:\n"
					       "daimon pairing approve %s\n(the code is valid for an hour)",
					       daimon_json_str(p, "code"));
		send_text(ctx, t, daimon_json_str(p, "chat"), hello, strlen(hello), NULL);
		free(hello);
	}
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(r, "taken"))
		dispatch(ctx, t, daimon_json_str(p, "id"), daimon_json_str(p, "chat"), daimon_json_str(p, "text"));
	cJSON_Delete(r);
	long waited = (long)(daimon_mono_ms() - t->poll_started);
	schedule_poll(ctx, t, t->took || waited >= t->cf->poll_interval_ms ? 0 : t->cf->poll_interval_ms - waited);
}

static void start_poll(daimon_ctx *ctx, struct tg *t)
{
	char *base = method_url(t->cf, "getUpdates");
	char *url = daimon_xasprintf("%s?offset=%.0f&timeout=%ld&allowed_updates=%%5B%%22message%%22%%5D", base,
				     t->offset, t->cf->poll_timeout_s);
	free(base);
	daimon_http_req r = {.url = url, .timeout_ms = (t->cf->poll_timeout_s + 15) * 1000};
	t->poll = daimon_http_request(ctx, t->cf->host->http, &r);
	t->poll_started = daimon_mono_ms();
	free(url);
	daimon_set_op(ctx, "polling");
}

static void schedule_poll(daimon_ctx *ctx, struct tg *t, long ms)
{
	daimon_set_op(ctx, NULL);
	if (ms <= 0)
		start_poll(ctx, t);
	else
		t->poll_timer = daimon_timer_start(ctx, ms, 0);
}

static void on_polled(daimon_ctx *ctx, struct tg *t, const daimon_http_result *r)
{
	t->poll = 0;
	cJSON *doc = r->curl_code == 0 ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(doc, "result");
	if (r->curl_code || r->status != 200 || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "ok")) ||
	    !cJSON_IsArray(result)) {
		char why[600];
		const char *desc = daimon_json_str(doc, "description");
		if (r->curl_code)
			snprintf(why, sizeof(why), "cannot reach %s: %s", t->cf->api, r->error);
		else if (r->status == 401 || r->status == 404)
			snprintf(why, sizeof(why), "the bot token was refused (HTTP %ld%s%s)", r->status,
				 desc ? ": " : "", desc ? desc : "");
		else
			snprintf(why, sizeof(why), "getUpdates answered HTTP %ld%s%s", r->status, desc ? ": " : "",
				 desc ? desc : "");
		cJSON_Delete(doc);
		t->failures++;
		state(ctx, t, "failed", why);
		long backoff = 1000L << (t->failures < 6 ? t->failures : 6); /* 2 s ... 64 s */
		schedule_poll(ctx, t, backoff);
		return;
	}
	if (t->failures) /* it came back: that was a restart */
		daimon_channel_state(t->cf->host, "telegram", "starting", NULL);
	t->failures = 0;
	state(ctx, t, "running", "");
	t->took = cJSON_GetArraySize(result);
	on_updates(ctx, t, result);
	cJSON_Delete(doc);
}

/* ---- the actor ---- */

static int tg_init(daimon_ctx *ctx, void *state_)
{
	struct tg *t = state_;
	cJSON *pending = NULL;
	if (daimon_journal_open(&t->j, t->cf->host->store->home, "telegram", &pending, &t->offset) < 0) {
		state(ctx, t, "failed", daimon_error_last());
		return DAIMON_STOP(DAIMON_EXIT_CRASHED);
	}
	state(ctx, t, "starting", "");
	/* What was taken but not answered before the last stop goes again;
	 * its session answers from its log what it already answered. */
	const cJSON *p;
	cJSON_ArrayForEach(p, pending) dispatch(ctx, t, daimon_json_str(p, "in"), daimon_json_str(p, "chat"),
						daimon_json_str(p, "text") ? daimon_json_str(p, "text") : "");
	cJSON_Delete(pending);
	start_poll(ctx, t);
	return DAIMON_CONTINUE;
}

static int tg_handle(daimon_ctx *ctx, void *state_, const daimon_msg *m)
{
	struct tg *t = state_;
	daimon_answer *a;
	switch (m->type) {
	case DAIMON_MSG_HTTP_DONE: {
		const daimon_http_result *r = m->data;
		if (r->id == t->poll) {
			on_polled(ctx, t, r);
			break;
		}
		for (a = t->items; a; a = a->next)
			if (((struct item *)a)->xfer == r->id) {
				on_sent(ctx, t, (struct item *)a, r);
				break;
			}
		break; /* (a pairing message's answer: nothing to do) */
	}
	case DAIMON_MSG_JOB_DONE:
		if (t->take)
			take_done(ctx, t, m->data);
		break;
	case DAIMON_MSG_TIMER:
		if (m->ref == t->poll_timer) {
			t->poll_timer = 0;
			start_poll(ctx, t);
			break;
		}
		for (a = t->items; a; a = a->next)
			if (((struct item *)a)->retry_timer == m->ref) {
				((struct item *)a)->retry_timer = 0;
				send_next(ctx, t, (struct item *)a);
				break;
			}
		break;
	default: { /* the sessions' answers, and a word when one waits */
		daimon_buf line = DAIMON_BUF_INIT;
		if ((a = daimon_answer_take(ctx, t->items, m, &line)) && a->answered)
			send_next(ctx, t, (struct item *)a);
		else if (a)
			send_text(ctx, t, ((struct item *)a)->chat, line.ptr, line.len, NULL);
		daimon_buf_release(&line);
	}
	}
	if (t->items && !t->poll)
		daimon_set_op(ctx, "answering");
	return DAIMON_CONTINUE;
}

static void tg_terminate(daimon_ctx *ctx, void *state_, int reason)
{
	(void)ctx, (void)reason;
	struct tg *t = state_;
	while (t->items) {
		struct item *it = (struct item *)t->items;
		t->items = it->a.next;
		item_free(it);
	}
	daimon_job_cancel(t->take);
	daimon_job_release(t->take);
	daimon_journal_close(t->j); /* (a job that runs keeps it) */
	daimon_channel_state(t->cf->host, "telegram", "stopped", NULL);
	free(t);
}

static const daimon_behaviour tg_behaviour = {
	.name = "telegram", .init = tg_init, .handle = tg_handle, .terminate = tg_terminate};

static void *tg_make_state(void *conf)
{
	struct tg *t = daimon_xcalloc(1, sizeof(*t));
	t->cf = conf;
	return t;
}

static void tg_conf_free(void *conf)
{
	struct tg_conf *cf = conf;
	if (!cf)
		return;
	free(cf->token);
	free(cf->api);
	free(cf);
}

int daimon_telegram_api_url(const daimon_settings *set, char **out)
{
	const char *api = getenv("DAIMON_TELEGRAM_API_URL"), *v = NULL;
	*out = NULL;
	if ((!api || !*api) && set && daimon_settings_string(set, "channels.telegram.api_url", &v) < 0)
		return -1;
	*out = daimon_xstrdup(api && *api ? api : v && *v ? v : "https://api.telegram.org");
	size_t n = strlen(*out);
	while (n && (*out)[n - 1] == '/')
		(*out)[--n] = 0;
	return 0;
}

static int tg_configure(const daimon_channel_host *host, const daimon_settings *set, void **out)
{
	const char *token = getenv("TELEGRAM_BOT_TOKEN"), *v;
	int on;
	int64_t poll_timeout_s, poll_interval_ms;
	if (daimon_settings_bool(set, "channels.telegram.enabled", &on) < 0 ||
	    daimon_settings_string(set, "channels.telegram.token", &v) < 0)
		return -1;
	if (!token || !*token)
		token = v;
	if (!token || !*token || !on)
		return 0;
	char *api;
	if (daimon_telegram_api_url(set, &api) < 0 ||
	    daimon_settings_int(set, "channels.telegram.poll_timeout_s", &poll_timeout_s) < 0 ||
	    daimon_settings_int(set, "channels.telegram.poll_interval_ms", &poll_interval_ms) < 0) {
		free(api);
		return -1;
	}
	struct tg_conf *cf = daimon_xcalloc(1, sizeof(*cf));
	cf->host = host;
	cf->token = daimon_xstrdup(token);
	cf->api = api;
	cf->poll_timeout_s = (long)poll_timeout_s;
	cf->poll_interval_ms = (long)poll_interval_ms;
	*out = cf;
	return 1;
}

const daimon_channel_kind daimon_channel_telegram = {
	.name = "telegram",
	.configure = tg_configure,
	.conf_free = tg_conf_free,
	.behaviour = &tg_behaviour,
	.make_state = tg_make_state,
};
