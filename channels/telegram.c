/*
 * telegram.c — the Telegram channel: the Bot API over the http actor.
 *
 * getUpdates polling (long polls of `poll_timeout_s` against Telegram; a
 * server that answers at once, like a test server, is asked again after
 * `poll_interval_ms`). Each batch of updates is written to the channel's
 * journal and synced, with the next offset, before anything else happens
 * — the next getUpdates, which confirms the offset to Telegram, comes
 * after — so a crash loses nothing Telegram considers delivered. Senders
 * pass the access check first (access.h): an unknown one gets a pairing
 * code, once. Each message then goes to its chat's conversation
 * ("telegram:<chat id>", or the one /new or /sessions chose) with its id
 * ("telegram:<update id>"); telegram-send.c shows the answer; "out" is
 * journaled once all of it is sent.
 *
 * Commands are daimon's, not the model's (registered with setMyCommands):
 * /start and /help greet, /new starts a conversation, /stop stops the
 * answer running, /sessions lists conversations to go back to (the
 * owner's: all of them, from any channel; anyone else's: their own) as
 * buttons, /status says where the chat is. A call that needs approval is
 * asked with Allow/Deny buttons; the press (a callback query) is
 * journaled like a message and answered.
 *
 * Settings: channels.telegram.* (token, api_url, poll_timeout_s,
 * poll_interval_ms, stream_ms, allow, pairing); TELEGRAM_BOT_TOKEN and
 * DAIMON_TELEGRAM_API_URL win over the file. The channel is on when
 * there is a token (and "enabled" is not false).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "channels/access.h"
#include "channels/telegram-int.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/settings.h"
#include "core/timefmt.h"
#include "core/work.h"
#include "memory/curated.h"
#include "memory/index.h"
#include "sessions/listen.h"
#include "sessions/session.h"

static char *method_url(const struct tg_conf *cf, const char *method)
{
	return daimon_xasprintf("%s/bot%s/%s", cf->api, cf->token, method);
}

static void state(daimon_ctx *ctx, struct tg *t, const char *label, const char *error)
{
	daimon_set_state_label(ctx, label);
	daimon_channel_state(t->cf->host, "telegram", label, error);
}

/* ---- receiving ---- */

#define COMMANDS                                        \
	"/new: a new conversation (this one is kept)\n" \
	"/sessions: go back to another conversation\n"  \
	"/stop: stop the answer that is running\n"      \
	"/status: where this chat is\n"                 \
	"/help: this"

#define GREETING                                                                                        \
	"Hello, I am daimon, your assistant. Write to me as you would to a person: I remember what we " \
	"talk about, and the owner decides what else I may do for you.\n\n" COMMANDS

/* The commands, for setMyCommands (the menu Telegram's clients show). */
static const char *const command_menu[][2] = {
	{"new", "A new conversation (this one is kept)"},
	{"sessions", "Go back to another conversation"},
	{"stop", "Stop the answer that is running"},
	{"status", "Where this chat is"},
	{"help", "What daimon can do here"},
};

static void set_commands(daimon_ctx *ctx, struct tg *t)
{
	cJSON *b = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(b, "commands");
	for (size_t i = 0; i < sizeof(command_menu) / sizeof(command_menu[0]); i++) {
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "command", command_menu[i][0]);
		cJSON_AddStringToObject(c, "description", command_menu[i][1]);
		cJSON_AddItemToArray(list, c);
	}
	tg_post(ctx, t, "setMyCommands", b); /* (a server without it: the menu is all that is lost) */
}

/* The command of a message — "/name", "/name args" or "/name@Bot" —
 * copied to `name` (empty: the message is not a command; "/etc/hosts" is
 * not one). */
static void command_of(const char *text, char name[33])
{
	name[0] = 0;
	if (text[0] != '/')
		return;
	size_t n = strspn(text + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
	if (!n || n > 32 || (text[1 + n] && text[1 + n] != ' ' && text[1 + n] != '@' && text[1 + n] != '\n'))
		return;
	memcpy(name, text + 1, n);
	name[n] = 0;
}

static const char *chat_key(struct tg *t, const char *chat, char *buf, size_t size)
{
	const char *use = daimon_json_str(t->uses, chat);
	if (use)
		snprintf(buf, size, "%s", use);
	else
		snprintf(buf, size, "telegram:%s", chat);
	return buf;
}

/* daimon's own reply to a command or a press: sent as an answer is. */
static void reply(daimon_ctx *ctx, struct tg *t, struct tg_item *it, const char *md)
{
	it->own = 1;
	daimon_buf_clear(&it->a.text);
	daimon_buf_adds(&it->a.text, md);
	it->a.answered = 1;
	tg_finish(ctx, t, it);
}

static struct tg_item *running_in(struct tg *t, const char *chat)
{
	for (daimon_answer *a = t->items; a; a = a->next) {
		struct tg_item *it = (struct tg_item *)a;
		if (!it->own && !a->answered && !strcmp(it->chat, chat))
			return it;
	}
	return NULL;
}

/* ---- lookups: /sessions, /status and a chosen conversation, on the pool ---- */

struct lookup {
	char *home;
	char what[16]; /* "sessions", "status", "use" */
	char chat[32], sender[32], key[160], arg[160];
	int running;
};

struct listing {
	const char *person; /* NULL: the owner's, every conversation */
	daimon_buf text;
	cJSON *keyboard;
	int n;
};

static int list_one(const daimon_index_session *s, void *payload)
{
	struct listing *l = payload;
	if (!s->key || (l->person && (strncmp(s->key, l->person, strlen(l->person)) ||
				      (s->key[strlen(l->person)] && s->key[strlen(l->person)] != ':'))))
		return 0;
	char when[32] = "";
	time_t last = (time_t)(s->last_ts / 1000);
	struct tm tm;
	if (s->last_ts && localtime_r(&last, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	const char *title = s->title && *s->title ? s->title : "(no title yet)";
	daimon_buf_addf(&l->text, "%d. **%s** — `%s`, %lld messages%s%s\n", ++l->n, title, s->key,
			(long long)s->messages, *when ? ", " : "", when);
	if (strlen(s->key) <= 60) { /* callback_data holds 64 bytes */
		cJSON *row = cJSON_CreateArray(), *b = cJSON_CreateObject();
		char label[48], data[72];
		snprintf(label, sizeof(label), "%d. %.40s", l->n, title);
		snprintf(data, sizeof(data), "use:%s", s->key);
		cJSON_AddStringToObject(b, "text", label);
		cJSON_AddStringToObject(b, "callback_data", data);
		cJSON_AddItemToArray(row, b);
		cJSON_AddItemToArray(l->keyboard, row);
	}
	return l->n >= 8;
}

static int lookup_sessions(const struct lookup *k, int owner, cJSON *out)
{
	daimon_store st;
	daimon_index *ix;
	if (daimon_store_open(&st, k->home) < 0)
		return -1;
	if (daimon_index_open(&ix, &st) < 0) {
		daimon_store_release(&st);
		return -1;
	}
	char person[48];
	snprintf(person, sizeof(person), "telegram:%s", k->chat);
	struct listing l = {.person = owner ? NULL : person, .keyboard = cJSON_CreateArray()};
	daimon_index_refresh(ix, NULL);
	int rc = daimon_index_sessions(ix, owner ? 8 : 500, list_one, &l);
	daimon_index_close(ix);
	daimon_store_release(&st);
	if (rc < 0) {
		daimon_buf_release(&l.text);
		cJSON_Delete(l.keyboard);
		return -1;
	}
	if (!l.n)
		daimon_buf_adds(&l.text, "No conversations yet.");
	else
		daimon_buf_addf(&l.text, "\nThis chat is in `%s`. Choose one to go on with it here.", k->key);
	cJSON_AddStringToObject(out, "text", daimon_buf_cstr(&l.text));
	cJSON_AddItemToObject(out, "keyboard", l.keyboard);
	daimon_buf_release(&l.text);
	return 0;
}

/* What a job on the pool answers: `r` as JSON (taken), or, NULL, the
 * last error. */
static int job_answer(daimon_buf *out, cJSON *r)
{
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

/* (the pool) */
static int lookup_job(void *arg, daimon_buf *out, const _Atomic int *cancelled)
{
	(void)cancelled;
	const struct lookup *k = arg;
	daimon_settings *set = NULL;
	daimon_settings_load(&set, k->home); /* (a bad file: said elsewhere; nobody is the owner then) */
	char person[48];
	snprintf(person, sizeof(person), "telegram:%s", k->sender);
	int owner = set && daimon_is_owner(set, person);
	cJSON *r = cJSON_CreateObject();
	int rc = 0;
	if (!strcmp(k->what, "sessions")) {
		rc = lookup_sessions(k, owner, r);
	} else if (!strcmp(k->what, "use")) {
		size_t n = strlen(person);
		if (!owner && (strncmp(k->arg, person, n) || (k->arg[n] && k->arg[n] != ':'))) {
			cJSON_AddStringToObject(r, "text", "That conversation is not yours to go on with.");
		} else {
			char *t = daimon_xasprintf("This chat goes on with `%s` now.", k->arg);
			cJSON_AddStringToObject(r, "text", t);
			cJSON_AddStringToObject(r, "use", k->arg);
			free(t);
		}
	} else {
		const char *model = getenv("DAIMON_MODEL"), *m = NULL;
		if ((!model || !*model) && set)
			daimon_settings_string(set, "model.model", &m);
		char *t = daimon_xasprintf("**Conversation** `%s`\n**Model** %s\n**You** %s\n**Now** %s", k->key,
					   model && *model ? model
					   : m && *m       ? m
							   : "the server's first",
					   owner ? "the owner: your USER.md, memory and every tool"
						 : "a guest: notes of your own, the tools the owner grants",
					   k->running ? "an answer is running (/stop stops it)" : "nothing is running");
		cJSON_AddStringToObject(r, "text", t);
		free(t);
	}
	daimon_settings_free(set);
	if (rc < 0) {
		cJSON_Delete(r);
		r = NULL;
	}
	return job_answer(out, r);
}

static void lookup_free(void *arg)
{
	struct lookup *k = arg;
	free(k->home);
	free(k);
}

static void look_up(daimon_ctx *ctx, struct tg *t, struct tg_item *it, const char *what, const char *arg)
{
	struct lookup *k = daimon_xcalloc(1, sizeof(*k));
	k->home = daimon_xstrdup(t->cf->host->store->home);
	snprintf(k->what, sizeof(k->what), "%s", what);
	snprintf(k->chat, sizeof(k->chat), "%s", it->chat);
	snprintf(k->sender, sizeof(k->sender), "%s", it->sender);
	snprintf(k->key, sizeof(k->key), "%s", it->key);
	snprintf(k->arg, sizeof(k->arg), "%s", arg ? arg : "");
	k->running = running_in(t, it->chat) != NULL;
	it->own = 1;
	it->job = ++t->jobs + 1; /* (ref 1 is the batch's) */
	daimon_job_release(
		daimon_job_submit(daimon_ctx_rt(ctx), daimon_self(ctx), it->job, lookup_job, k, lookup_free));
}

static void fetched(daimon_ctx *ctx, struct tg *t, struct tg_item *it, const daimon_job_done *d);

static void looked_up(daimon_ctx *ctx, struct tg *t, const daimon_job_done *d)
{
	daimon_answer *a = t->items;
	while (a && ((struct tg_item *)a)->job != d->ref)
		a = a->next;
	if (!a)
		return;
	struct tg_item *it = (struct tg_item *)a;
	it->job = 0;
	if (it->fetching) {
		fetched(ctx, t, it, d);
		return;
	}
	cJSON *r = d->status == 0 ? cJSON_Parse(d->text) : NULL;
	const char *use = daimon_json_str(r, "use");
	if (use) {
		it->use = daimon_xstrdup(use);
		cJSON_DeleteItemFromObjectCaseSensitive(t->uses, it->chat);
		cJSON_AddStringToObject(t->uses, it->chat, use);
	}
	cJSON *kb = cJSON_GetObjectItemCaseSensitive(r, "keyboard");
	if (cJSON_GetArraySize(kb))
		it->keyboard = cJSON_Duplicate(kb, 1);
	char *why = r ? NULL : daimon_xasprintf("(daimon cannot look that up: %s)", d->text);
	reply(ctx, t, it, r ? daimon_json_str(r, "text") : why);
	free(why);
	cJSON_Delete(r);
}

/* ---- commands and presses ---- */

static void command(daimon_ctx *ctx, struct tg *t, struct tg_item *it, const char *name)
{
	if (!strcmp(name, "start") || !strcmp(name, "help")) { /* the client's, not for the model */
		reply(ctx, t, it, GREETING);
	} else if (!strcmp(name, "new")) {
		it->use = daimon_xasprintf("telegram:%s:%s", it->chat, it->id); /* (the same after a replay) */
		cJSON_DeleteItemFromObjectCaseSensitive(t->uses, it->chat);
		cJSON_AddStringToObject(t->uses, it->chat, it->use);
		reply(ctx, t, it, "A new conversation. The last one is kept: /sessions brings it back.");
	} else if (!strcmp(name, "stop")) {
		struct tg_item *run = running_in(t, it->chat);
		if (run)
			daimon_channel_post(t->cf->host, 0, 0, run->key, DAIMON_SESSION_STOP, NULL, 0);
		reply(ctx, t, it, run ? "Stopping the answer." : "Nothing is running here.");
	} else if (!strcmp(name, "sessions") || !strcmp(name, "status")) {
		look_up(ctx, t, it, name, NULL);
	} else {
		char *md = daimon_xasprintf("I don't know /%s. What I do know:\n\n" COMMANDS, name);
		reply(ctx, t, it, md);
		free(md);
	}
}

static void answer_press(daimon_ctx *ctx, struct tg *t, const char *cq, const char *text)
{
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "callback_query_id", cq);
	if (text)
		cJSON_AddStringToObject(b, "text", text);
	tg_post(ctx, t, "answerCallbackQuery", b);
}

/* An Allow or Deny pressed ("ok:REF", "no:REF"): the call it was asked
 * for goes on or is refused, and the question says which. */
static void pressed_approval(daimon_ctx *ctx, struct tg *t, const cJSON *p, int allow, uint64_t ref)
{
	const char *chat = daimon_json_str(p, "chat"), *sender = daimon_json_str(p, "sender");
	const char *cq = daimon_json_str(p, "cq");
	struct tg_ask **q = &t->asks;
	while (*q && ((*q)->ref != ref || strcmp((*q)->chat, chat)))
		q = &(*q)->next;
	if (!*q) {
		answer_press(ctx, t, cq, "That question is over: its answer has finished.");
		return;
	}
	struct tg_ask *ask = *q;
	if (strcmp(ask->sender, sender)) {
		answer_press(ctx, t, cq, "Only the one who asked can answer this.");
		return;
	}
	*q = ask->next;
	daimon_session_approve(daimon_ctx_rt(ctx), daimon_self(ctx), ask->session, ask->ref, allow);
	answer_press(ctx, t, cq, allow ? "Allowed" : "Denied");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(p, "msg");
	if (cJSON_IsNumber(msg)) { /* the buttons go, the answer stays */
		cJSON *b = cJSON_CreateObject();
		tg_add_chat(b, chat);
		cJSON_AddNumberToObject(b, "message_id", msg->valuedouble);
		char *text = daimon_xasprintf("%s: %s", allow ? "Allowed" : "Denied", ask->what);
		cJSON_AddStringToObject(b, "text", text);
		free(text);
		tg_post(ctx, t, "editMessageText", b);
	}
	free(ask);
}

static void ask_approval(daimon_ctx *ctx, struct tg *t, struct tg_item *it, uint64_t ref, const char *what)
{
	struct tg_ask *ask = daimon_xcalloc(1, sizeof(*ask));
	ask->ref = ref;
	ask->session = it->a.session;
	snprintf(ask->chat, sizeof(ask->chat), "%s", it->chat);
	snprintf(ask->sender, sizeof(ask->sender), "%s", it->sender);
	snprintf(ask->what, sizeof(ask->what), "%s", what);
	ask->next = t->asks;
	t->asks = ask;
	cJSON *b = cJSON_CreateObject();
	tg_add_chat(b, it->chat);
	char *text = daimon_xasprintf("May I? %s", what);
	cJSON_AddStringToObject(b, "text", text);
	free(text);
	cJSON *row = cJSON_CreateArray();
	static const char *const label[] = {"Allow", "Deny"}, *const verb[] = {"ok", "no"};
	for (int i = 0; i < 2; i++) {
		cJSON *button = cJSON_CreateObject();
		char data[40];
		snprintf(data, sizeof(data), "%s:%llu", verb[i], (unsigned long long)ref);
		cJSON_AddStringToObject(button, "text", label[i]);
		cJSON_AddStringToObject(button, "callback_data", data);
		cJSON_AddItemToArray(row, button);
	}
	cJSON *kb = cJSON_CreateArray();
	cJSON_AddItemToArray(kb, row);
	cJSON_AddItemToObject(cJSON_AddObjectToObject(b, "reply_markup"), "inline_keyboard", kb);
	tg_post(ctx, t, "sendMessage", b);
}

/* The questions of a session whose answer is over are over too. */
static void forget_asks(struct tg *t, daimon_aid session)
{
	for (struct tg_ask **q = &t->asks; *q;)
		if ((*q)->session == session) {
			struct tg_ask *gone = *q;
			*q = gone->next;
			free(gone);
		} else {
			q = &(*q)->next;
		}
}

static struct tg_item *item_new(struct tg *t, const cJSON *p)
{
	struct tg_item *it = daimon_xcalloc(1, sizeof(*it));
	snprintf(it->id, sizeof(it->id), "%s",
		 daimon_json_str(p, "in") ? daimon_json_str(p, "in") : daimon_json_str(p, "id"));
	snprintf(it->chat, sizeof(it->chat), "%s", daimon_json_str(p, "chat"));
	const char *sender = daimon_json_str(p, "sender");
	snprintf(it->sender, sizeof(it->sender), "%s", sender ? sender : it->chat);
	chat_key(t, it->chat, it->key, sizeof(it->key));
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "group"))) /* (several people talk there) */
		it->who = daimon_xstrdup(daimon_json_str(p, "name") ? daimon_json_str(p, "name") : it->sender);
	daimon_answer_append(&t->items, &it->a);
	return it;
}

/* A press on a button (journaled like a message: `p` has "callback"). */
static void pressed(daimon_ctx *ctx, struct tg *t, const cJSON *p)
{
	const char *data = daimon_json_str(p, "callback"), *id = daimon_json_str(p, "in");
	unsigned long long ref = 0;
	char verb[3] = "";
	if (!id)
		id = daimon_json_str(p, "id");
	if (!strncmp(data, "use:", 4)) {
		answer_press(ctx, t, daimon_json_str(p, "cq"), NULL);
		look_up(ctx, t, item_new(t, p), "use", data + 4);
		return;
	}
	if (sscanf(data, "%2[a-z]:%llu", verb, &ref) == 2 && (!strcmp(verb, "ok") || !strcmp(verb, "no")))
		pressed_approval(ctx, t, p, !strcmp(verb, "ok"), ref);
	else
		answer_press(ctx, t, daimon_json_str(p, "cq"), "That button is not one of mine.");
	daimon_journal_out_later(daimon_ctx_rt(ctx), t->j, id);
}

/* The message goes to its conversation (in a group, with who said it). */
static void ask(daimon_ctx *ctx, struct tg *t, struct tg_item *it, const char *text, const char *images)
{
	char mid[48];
	snprintf(mid, sizeof(mid), "telegram:%s", it->id);
	char *said = it->who ? daimon_xasprintf("[%s] %s", it->who, text) : NULL;
	it->shown_at = daimon_mono_ms(); /* (the first preview after stream_ms: a quick answer comes whole) */
	int rc = daimon_answer_ask(ctx, t->cf->host, &it->a, it->key, mid, said ? said : text, images);
	free(said);
	if (rc < 0) {
		tg_finish(ctx, t, it);
		return;
	}
	if (!it->typing_timer)
		tg_typing(ctx, t, it);
}

/* A message's file is in the inbox (or could not be had): it goes on. */
static void fetched(daimon_ctx *ctx, struct tg *t, struct tg_item *it, const daimon_job_done *d)
{
	daimon_buf text = DAIMON_BUF_INIT, note = DAIMON_BUF_INIT;
	char *images = NULL;
	daimon_buf_adds(&text, it->text ? it->text : "");
	if (tg_fetched(t, it, d, &text, &note, &images) < 0) {
		reply(ctx, t, it, daimon_buf_cstr(&note));
	} else {
		if (note.len)
			tg_send_plain(ctx, t, it->chat, daimon_buf_cstr(&note));
		ask(ctx, t, it, daimon_buf_cstr(&text), images);
	}
	free(images);
	daimon_buf_release(&text);
	daimon_buf_release(&note);
}

/* A message taken (journaled), or one taken before a restart. */
static void dispatch(daimon_ctx *ctx, struct tg *t, const cJSON *p)
{
	if (daimon_json_str(p, "callback")) {
		pressed(ctx, t, p);
		return;
	}
	const char *text = daimon_json_str(p, "text");
	struct tg_item *it = item_new(t, p);
	char name[33];
	command_of(text ? text : "", name);
	if (*name) {
		command(ctx, t, it, name);
		return;
	}
	const cJSON *file = cJSON_GetObjectItemCaseSensitive(p, "file");
	if (!file) {
		ask(ctx, t, it, text ? text : "", NULL);
	} else if (tg_fetch(ctx, t, it, file) < 0) {
		char *why = daimon_xasprintf("(%s)", daimon_error_last());
		why[1] = (char)toupper((unsigned char)why[1]);
		reply(ctx, t, it, why);
		free(why);
	} else {
		it->text = daimon_xstrdup(text ? text : "");
		tg_typing(ctx, t, it);
	}
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

static int is_group(const cJSON *chat)
{
	const char *type = daimon_json_str(chat, "type");
	return type && (!strcmp(type, "group") || !strcmp(type, "supergroup"));
}

/* Whether a group's message is for daimon (channels.telegram.groups):
 * every one, or those that mention the bot (@name, a command) or reply
 * to it. */
static int for_me(const struct tg *t, const cJSON *msg, const char *text)
{
	if (t->cf->groups != TG_GROUPS_MENTION)
		return t->cf->groups == TG_GROUPS_ALL;
	const cJSON *to =
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(msg, "reply_to_message"), "from");
	char id[32];
	if (t->bot_id[0] && num_str(cJSON_GetObjectItemCaseSensitive(to, "id"), id, sizeof(id)) &&
	    !strcmp(id, t->bot_id))
		return 1;
	if (!text)
		return 0;
	if (text[0] == '/')
		return 1;
	size_t n = strlen(t->username);
	for (const char *at = strchr(text, '@'); n && at; at = strchr(at + 1, '@'))
		if (!strncasecmp(at + 1, t->username, n) && !isalnum((unsigned char)at[1 + n]) && at[1 + n] != '_')
			return 1;
	return 0;
}

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
	return job_answer(out, daimon_inbox_take(k->j, k->home, "telegram", k->candidates, k->mark));
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
		const cJSON *cb = cJSON_GetObjectItemCaseSensitive(u, "callback_query");
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(cb ? cb : u, "message");
		const cJSON *from = cJSON_GetObjectItemCaseSensitive(cb ? cb : msg, "from");
		const cJSON *in = cJSON_GetObjectItemCaseSensitive(msg, "chat");
		const char *text = daimon_json_str(cb ? cb : msg, cb ? "data" : "text");
		if (!text && !cb)
			text = daimon_json_str(msg, "caption");
		cJSON *c = cJSON_CreateObject();
		char chat[32], sender[32], id[32];
		int group = is_group(in), file = !cb && tg_file_of(msg, c);
		if ((!text && !file) || !num_str(cJSON_GetObjectItemCaseSensitive(in, "id"), chat, sizeof(chat)) ||
		    !num_str(cJSON_GetObjectItemCaseSensitive(from, "id"), sender, sizeof(sender)) ||
		    (group && !cb && !for_me(t, msg, text))) {
			cJSON_Delete(c);
			continue; /* nothing to answer: not a message, a file nor a press; or not for daimon */
		}
		num_str(uid, id, sizeof(id));
		const char *name = daimon_json_str(from, "username");
		if (!name)
			name = daimon_json_str(from, "first_name");
		if (group) { /* the group is let in (or paired), as a person is; the model hears who speaks */
			const char *title = daimon_json_str(in, "title");
			cJSON_AddBoolToObject(c, "group", 1);
			cJSON_AddStringToObject(c, "access", chat);
			if (title)
				cJSON_AddStringToObject(c, "access_name", title);
		}
		cJSON_AddStringToObject(c, "id", id);
		cJSON_AddStringToObject(c, "chat", chat);
		cJSON_AddStringToObject(c, "sender", sender);
		if (name)
			cJSON_AddStringToObject(c, "name", name);
		cJSON_AddStringToObject(c, "text", cb || !text ? "" : text);
		if (cb) { /* a press: what it says, and what to answer and edit */
			const cJSON *mid = cJSON_GetObjectItemCaseSensitive(msg, "message_id");
			char cq[64];
			cJSON_AddStringToObject(c, "callback", text);
			cJSON_AddStringToObject(
				c, "cq", num_str(cJSON_GetObjectItemCaseSensitive(cb, "id"), cq, sizeof(cq)) ? cq : "");
			if (cJSON_IsNumber(mid))
				cJSON_AddNumberToObject(c, "msg", mid->valuedouble);
		}
		cJSON_AddItemToArray(candidates, c);
	}
	struct take *k = daimon_xcalloc(1, sizeof(*k));
	k->j = t->j;
	k->home = t->cf->host->store->home;
	k->candidates = candidates;
	k->mark = offset != t->offset ? offset : 0;
	daimon_journal_pin(t->j);
	t->taking = offset;
	t->take = daimon_job_submit(daimon_ctx_rt(ctx), daimon_self(ctx), 1, take_job, k, take_free);
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
		tg_send_plain(ctx, t, daimon_json_str(p, "chat"), hello);
		free(hello);
	}
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(r, "taken")) dispatch(ctx, t, p);
	cJSON_Delete(r);
	long waited = (long)(daimon_mono_ms() - t->poll_started);
	schedule_poll(ctx, t, t->took || waited >= t->cf->poll_interval_ms ? 0 : t->cf->poll_interval_ms - waited);
}

static void start_poll(daimon_ctx *ctx, struct tg *t)
{
	char *base = method_url(t->cf, "getUpdates");
	char *url = daimon_xasprintf(
		"%s?offset=%.0f&timeout=%ld&allowed_updates=%%5B%%22message%%22,%%22callback_query%%22%%5D", base,
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

/* Who the bot is: its name and id, to see it mentioned in a group. A
 * server that cannot say (or is down) costs only that: polling starts. */
static void on_me(daimon_ctx *ctx, struct tg *t, const daimon_http_result *r)
{
	t->me = 0;
	cJSON *doc = r->curl_code == 0 && r->status == 200 ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
	const cJSON *me = cJSON_GetObjectItemCaseSensitive(doc, "result");
	const char *name = daimon_json_str(me, "username");
	snprintf(t->username, sizeof(t->username), "%s", name ? name : "");
	if (!num_str(cJSON_GetObjectItemCaseSensitive(me, "id"), t->bot_id, sizeof(t->bot_id)))
		t->bot_id[0] = 0;
	cJSON_Delete(doc);
	start_poll(ctx, t);
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
	daimon_register(daimon_ctx_rt(ctx), "telegram", daimon_self(ctx)); /* (deliveries find it) */
	/* What was taken but not answered before the last stop goes again;
	 * its session answers from its log what it already answered. */
	const cJSON *p;
	t->uses = daimon_journal_uses(t->j);
	cJSON_ArrayForEach(p, pending) dispatch(ctx, t, p);
	cJSON_Delete(pending);
	set_commands(ctx, t);
	char *url = method_url(t->cf, "getMe"); /* (polling starts once the bot knows its name) */
	daimon_http_req r = {.url = url, .timeout_ms = 15000};
	if (!(t->me = daimon_http_request(ctx, t->cf->host->http, &r)))
		start_poll(ctx, t);
	free(url);
	return DAIMON_CONTINUE;
}

/* A message sent unasked (a reminder) to the chat of a telegram: key. */
static void deliver(daimon_ctx *ctx, struct tg *t, const daimon_msg *m)
{
	const daimon_job_done *d = m->data;
	const char *key = d->text, *text = key + strlen(key) + 1;
	if (m->len < sizeof(*d) + d->len || strlen(key) >= d->len || strncmp(key, "telegram:", 9) || !key[9]) {
		daimon_job_send(daimon_ctx_rt(ctx), 0, m->from, DAIMON_CHANNEL_DELIVERED, d->ref, -1,
				"not a Telegram chat", 19);
		return;
	}
	struct tg_item *it = daimon_xcalloc(1, sizeof(*it));
	snprintf(it->chat, sizeof(it->chat), "%s", key + 9);
	snprintf(it->key, sizeof(it->key), "%s", key);
	it->own = 1;
	it->deliver = m->from;
	it->deliver_ref = d->ref;
	it->a.answered = 1;
	daimon_buf_adds(&it->a.text, text);
	daimon_answer_append(&t->items, &it->a);
	tg_finish(ctx, t, it);
}

/* A session's news of an answer: its text grew, it waits (a line of its
 * own first), a call asks for approval, or it is done. */
static void heard(daimon_ctx *ctx, struct tg *t, const daimon_msg *m)
{
	daimon_buf line = DAIMON_BUF_INIT;
	daimon_answer_news news = {.waits = &line, .can_ask = 1};
	struct tg_item *it = (struct tg_item *)daimon_answer_take(ctx, t->items, m, &news);
	if (it && line.len)
		tg_send_plain(ctx, t, it->chat, daimon_buf_cstr(&line));
	if (it && news.ask)
		ask_approval(ctx, t, it, news.ask, news.what);
	if (it && it->a.answered) {
		forget_asks(t, it->a.session);
		tg_finish(ctx, t, it);
	} else if (it && news.grew) {
		tg_grew(ctx, t, it);
	}
	daimon_buf_release(&line);
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
		if (r->id == t->me) {
			on_me(ctx, t, r);
			break;
		}
		for (a = t->items; a && !tg_sent(ctx, t, (struct tg_item *)a, r); a = a->next)
			;
		break; /* (not an item's: a pairing message, typing, a press answered — nothing to do) */
	}
	case DAIMON_MSG_JOB_DONE:
		if (((const daimon_job_done *)m->data)->ref != 1)
			looked_up(ctx, t, m->data);
		else if (t->take)
			take_done(ctx, t, m->data);
		break;
	case DAIMON_CHANNEL_DELIVER:
		deliver(ctx, t, m);
		break;
	case DAIMON_MSG_TIMER:
		if (m->ref == t->poll_timer) {
			t->poll_timer = 0;
			start_poll(ctx, t);
			break;
		}
		for (a = t->items; a && !tg_timer(ctx, t, (struct tg_item *)a, m->ref); a = a->next)
			;
		break;
	default: /* the sessions' answers */
		heard(ctx, t, m);
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
		struct tg_item *it = (struct tg_item *)t->items;
		t->items = it->a.next;
		tg_item_free(it);
	}
	while (t->asks) {
		struct tg_ask *ask = t->asks;
		t->asks = ask->next;
		free(ask);
	}
	cJSON_Delete(t->uses);
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
	int64_t poll_timeout_s, poll_interval_ms, stream_ms, max_file_mb;
	int images = 1;
	const char *groups = "mention";
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
	    daimon_settings_int(set, "channels.telegram.poll_interval_ms", &poll_interval_ms) < 0 ||
	    daimon_settings_int(set, "channels.telegram.stream_ms", &stream_ms) < 0 ||
	    daimon_settings_int(set, "channels.telegram.max_file_mb", &max_file_mb) < 0 ||
	    daimon_settings_string(set, "channels.telegram.groups", &groups) < 0 ||
	    daimon_settings_bool(set, "model.images", &images) < 0) {
		free(api);
		return -1;
	}
	struct tg_conf *cf = daimon_xcalloc(1, sizeof(*cf));
	cf->host = host;
	cf->token = daimon_xstrdup(token);
	cf->api = api;
	cf->poll_timeout_s = (long)poll_timeout_s;
	cf->poll_interval_ms = (long)poll_interval_ms;
	cf->stream_ms = (long)stream_ms;
	cf->max_file_bytes = (long long)max_file_mb * 1024 * 1024;
	cf->no_images = !images;
	cf->groups = !strcmp(groups, "all")   ? TG_GROUPS_ALL
		     : !strcmp(groups, "off") ? TG_GROUPS_OFF
					      : TG_GROUPS_MENTION;
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
