/*
 * telegram-send.c — an answer on its way to a Telegram chat.
 *
 * While the turn runs the chat shows "typing…" (sendChatAction, again
 * every few seconds: Telegram drops it after five) and, once the answer
 * starts, one message with the text so far, edited at most every
 * `stream_ms` (Telegram allows about one a second in a chat). When the
 * answer is done its markdown is rendered to Telegram's HTML
 * (markdown.h) in parts under the size limit; the first part replaces
 * the preview, the others follow. A part whose formatting Telegram
 * refuses ("can't parse entities") goes again as plain text; a failed
 * send is retried with a growing delay, and after the last try the
 * message stays journaled without "out", so a restart sends it again.
 * Methods a server lacks (sendChatAction on a test server) cost nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/markdown.h"
#include "channels/telegram-int.h"
#include "core/buf.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"

#define TG_SEND_TRIES 5
#define TG_TYPING_MS 4500
#define TG_PREVIEW_MAX 3800 /* bytes of a preview: room for " …" and UTF-16's count */

uint64_t tg_post(daimon_ctx *ctx, struct tg *t, const char *method, cJSON *body)
{
	static const char *const headers[] = {"Content-Type: application/json", NULL};
	char *url = daimon_xasprintf("%s/bot%s/%s", t->cf->api, t->cf->token, method);
	char *s = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	daimon_http_req r = {.url = url, .body = s, .body_len = strlen(s), .headers = headers, .timeout_ms = 30000};
	uint64_t id = daimon_http_request(ctx, t->cf->host->http, &r);
	free(url);
	cJSON_free(s);
	return id;
}

void tg_add_chat(cJSON *body, const char *chat)
{
	if (chat[strspn(chat, "-0123456789")] == 0)
		cJSON_AddRawToObject(body, "chat_id", chat);
	else
		cJSON_AddStringToObject(body, "chat_id", chat);
}

void tg_send_plain(daimon_ctx *ctx, struct tg *t, const char *chat, const char *text)
{
	cJSON *b = cJSON_CreateObject();
	tg_add_chat(b, chat);
	cJSON_AddStringToObject(b, "text", text);
	tg_post(ctx, t, "sendMessage", b);
}

void tg_item_free(struct tg_item *it)
{
	daimon_buf_release(&it->a.text);
	for (size_t i = 0; i < it->nparts; i++)
		free(it->parts[i]);
	free(it->parts);
	free(it->use);
	free(it->text);
	free(it->who);
	cJSON_Delete(it->keyboard);
	free(it);
}

void tg_item_drop(daimon_ctx *ctx, struct tg *t, struct tg_item *it)
{
	daimon_answer_unlink(&t->items, &it->a);
	uint64_t timers[] = {it->retry_timer, it->stream_timer, it->typing_timer};
	for (size_t i = 0; i < 3; i++)
		if (timers[i])
			daimon_timer_cancel(ctx, timers[i]);
	tg_item_free(it);
}

void tg_typing(daimon_ctx *ctx, struct tg *t, struct tg_item *it)
{
	it->typing_timer = 0;
	if (it->a.answered)
		return;
	cJSON *b = cJSON_CreateObject();
	tg_add_chat(b, it->chat);
	cJSON_AddStringToObject(b, "action", "typing");
	tg_post(ctx, t, "sendChatAction", b); /* (its answer is not awaited) */
	it->typing_timer = daimon_timer_start(ctx, TG_TYPING_MS, 0);
}

/* ---- the preview ---- */

static void show_preview(daimon_ctx *ctx, struct tg *t, struct tg_item *it)
{
	size_t n = it->a.text.len;
	if (n > TG_PREVIEW_MAX) {
		n = TG_PREVIEW_MAX;
		while (n && ((unsigned char)it->a.text.ptr[n] & 0xC0) == 0x80) /* not inside a character */
			n--;
	}
	daimon_buf text = DAIMON_BUF_INIT;
	daimon_buf_add(&text, it->a.text.ptr, n);
	daimon_buf_adds(&text, " …");
	cJSON *b = cJSON_CreateObject();
	tg_add_chat(b, it->chat);
	if (it->preview)
		cJSON_AddNumberToObject(b, "message_id", (double)it->preview);
	cJSON_AddStringToObject(b, "text", daimon_buf_cstr(&text));
	daimon_buf_release(&text);
	it->xfer = tg_post(ctx, t, it->preview ? "editMessageText" : "sendMessage", b);
	it->kind = TG_PREVIEW;
	it->shown = it->a.text.len;
	it->shown_at = daimon_mono_ms();
}

void tg_grew(daimon_ctx *ctx, struct tg *t, struct tg_item *it)
{
	if (t->cf->stream_ms <= 0 || it->own || it->no_preview || it->xfer || it->stream_timer || it->a.answered ||
	    it->a.text.len == it->shown || (it->preview && it->shown >= TG_PREVIEW_MAX))
		return;
	int64_t wait = t->cf->stream_ms - (daimon_mono_ms() - it->shown_at);
	if (wait <= 0)
		show_preview(ctx, t, it);
	else
		it->stream_timer = daimon_timer_start(ctx, wait, 0);
}

/* ---- the answer ---- */

/* Telegram HTML as plain text: tags dropped, the five entities read. */
static char *plain_of(const char *html)
{
	static const char *const ent[][2] = {
		{"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}};
	daimon_buf b = DAIMON_BUF_INIT;
	for (const char *p = html; *p;) {
		if (*p == '<') {
			const char *end = strchr(p, '>');
			p = end ? end + 1 : p + strlen(p);
			continue;
		}
		size_t i = 0;
		while (*p == '&' && i < 5 && strncmp(p, ent[i][0], strlen(ent[i][0])))
			i++;
		if (*p == '&' && i < 5) {
			daimon_buf_adds(&b, ent[i][1]);
			p += strlen(ent[i][0]);
		} else {
			daimon_buf_addc(&b, *p++);
		}
	}
	return daimon_buf_detach(&b);
}

static void send_part(daimon_ctx *ctx, struct tg *t, struct tg_item *it)
{
	if (it->part >= it->nparts) { /* all sent */
		if (it->deliver)
			daimon_job_send(daimon_ctx_rt(ctx), 0, it->deliver, DAIMON_CHANNEL_DELIVERED, it->deliver_ref,
					0, "", 0);
		else
			daimon_journal_out_use_later(daimon_ctx_rt(ctx), t->j, it->id, it->chat, it->use);
		tg_item_drop(ctx, t, it);
		return;
	}
	cJSON *b = cJSON_CreateObject();
	tg_add_chat(b, it->chat);
	int edit = it->edit && it->part == 0;
	if (edit)
		cJSON_AddNumberToObject(b, "message_id", (double)it->preview);
	if (it->plain) {
		char *text = plain_of(it->parts[it->part]);
		cJSON_AddStringToObject(b, "text", text);
		free(text);
	} else {
		cJSON_AddStringToObject(b, "text", it->parts[it->part]);
		cJSON_AddStringToObject(b, "parse_mode", "HTML");
	}
	if (it->keyboard && it->part + 1 == it->nparts) {
		cJSON *markup = cJSON_AddObjectToObject(b, "reply_markup");
		cJSON_AddItemToObject(markup, "inline_keyboard", cJSON_Duplicate(it->keyboard, 1));
	}
	it->xfer = tg_post(ctx, t, edit ? "editMessageText" : "sendMessage", b);
	it->kind = TG_PART;
}

void tg_finish(daimon_ctx *ctx, struct tg *t, struct tg_item *it)
{
	if (it->xfer) /* a preview on its way: this goes once it is there */
		return;
	uint64_t timers[] = {it->stream_timer, it->typing_timer};
	for (size_t i = 0; i < 2; i++)
		if (timers[i])
			daimon_timer_cancel(ctx, timers[i]);
	it->stream_timer = it->typing_timer = 0;
	if (it->a.stopped)
		daimon_buf_adds(&it->a.text, it->a.text.len ? "\n\n*(stopped)*" : "*(stopped)*");
	it->nparts = daimon_md_telegram(it->a.text.ptr ? it->a.text.ptr : "", it->a.text.len, TG_LIMIT, &it->parts);
	it->part = 0;
	it->edit = it->preview != 0;
	send_part(ctx, t, it);
}

static int described(const cJSON *doc, const char *what)
{
	const char *d = daimon_json_str(doc, "description");
	return d && strstr(d, what);
}

static void part_sent(daimon_ctx *ctx, struct tg *t, struct tg_item *it, const daimon_http_result *r, const cJSON *doc,
		      int ok)
{
	int edit = it->edit && it->part == 0;
	if (ok || (edit && described(doc, "message is not modified"))) {
		it->part++;
		it->plain = 0;
		it->tries = 0;
		send_part(ctx, t, it);
	} else if (!it->plain && described(doc, "can't parse entities")) {
		it->plain = 1;
		send_part(ctx, t, it);
	} else if (edit && r->status == 400) { /* the preview is gone: a message of its own */
		it->edit = 0;
		send_part(ctx, t, it);
	} else if (++it->tries >= TG_SEND_TRIES) { /* journaled "in" without "out": a restart tries again */
		const char *d = daimon_json_str(doc, "description");
		if (it->deliver) {
			char why[512];
			snprintf(why, sizeof(why), "Telegram did not take it: HTTP %ld %s", r->status,
				 d ? d : r->error);
			daimon_job_send(daimon_ctx_rt(ctx), 0, it->deliver, DAIMON_CHANNEL_DELIVERED, it->deliver_ref,
					-1, why, strlen(why));
		} else {
			fprintf(stderr, "daimon: telegram: cannot send the answer to %s for now (HTTP %ld %s)\n",
				it->id, r->status, d ? d : r->error);
		}
		tg_item_drop(ctx, t, it);
	} else {
		it->retry_timer = daimon_timer_start(ctx, 1000L << it->tries, 0);
	}
}

int tg_sent(daimon_ctx *ctx, struct tg *t, struct tg_item *it, const daimon_http_result *r)
{
	if (it->xfer != r->id)
		return 0;
	it->xfer = 0;
	cJSON *doc = r->curl_code == 0 ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
	int ok = r->status == 200 && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "ok"));
	if (it->kind == TG_PART) {
		part_sent(ctx, t, it, r, doc, ok);
		cJSON_Delete(doc);
		return 1;
	}
	const cJSON *mid =
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "result"), "message_id");
	if (!it->preview && ok && cJSON_IsNumber(mid))
		it->preview = (long long)mid->valuedouble;
	else if (!it->preview) /* no preview: the answer comes whole */
		it->no_preview = 1;
	cJSON_Delete(doc);
	if (it->a.answered)
		tg_finish(ctx, t, it);
	else
		tg_grew(ctx, t, it);
	return 1;
}

int tg_timer(daimon_ctx *ctx, struct tg *t, struct tg_item *it, uint64_t ref)
{
	if (ref == it->retry_timer) {
		it->retry_timer = 0;
		send_part(ctx, t, it);
	} else if (ref == it->stream_timer) {
		it->stream_timer = 0;
		if (!it->xfer && !it->a.answered)
			show_preview(ctx, t, it);
	} else if (ref == it->typing_timer) {
		tg_typing(ctx, t, it);
	} else {
		return 0;
	}
	return 1;
}
