/*
 * mail.c — the mail channel: IMAP polling for new mail, SMTP replies,
 * both through libcurl (blocking transfers on the runtime's work pool;
 * libcurl has no IMAP IDLE, so the inbox is polled every `poll_s`).
 *
 * What counts as "acknowledged" is our own mark, not the \Seen flag:
 * libcurl fetches a message with BODY[], which marks it seen, so a crash
 * between the fetch and the journal would lose a mail that relied on
 * \Seen. Instead the journal keeps the highest UID taken; a poll asks for
 * UIDs above it (the first poll of a mailbox takes what is unseen), and
 * each message is journaled, with the new mark, before its session sees
 * it. A reply goes out by SMTP as "Re: <subject>" with In-Reply-To and
 * References; "out" is journaled once the server took it. Each sender is
 * a conversation ("mail:<address>") and passes the access check first.
 *
 * Settings: "channels": {"mail": {"imap_url": "imap://host:143/INBOX",
 * "smtp_url": "smtp://host:25", "username", "password", "address" (the
 * From of replies), "poll_s" (60), "allow", "pairing"}};
 * DAIMON_MAIL_PASSWORD wins over the file. On when both URLs are set.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/access.h"
#include "channels/channels.h"
#include "channels/journal.h"
#include "channels/mailmsg.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/jsonutil.h"
#include "core/settings.h"
#include "core/work.h"

#define MAX_PER_POLL 50

struct mail_conf {
	const daimon_channel_host *host;
	char *imap, *smtp, *user, *pass, *address;
	char *authserv; /* whose Authentication-Results are trusted (NULL: the topmost) */
	int trust_from; /* authserv_id "none": From: alone is believed */
	long poll_ms;
};

struct reply {
	daimon_answer a; /* first: the list is of answers (channels.h) */
	char id[40];     /* the UID (or "pair:UID" for a pairing code) */
	char *to, *subject, *message_id, *references;
	uint64_t ref; /* the SMTP job */
	daimon_job *job;
	int tries;
	uint64_t retry_timer;
};

struct mail {
	const struct mail_conf *cf;
	daimon_journal *j;
	double mark; /* the highest UID taken (0: none yet) */
	daimon_job *poll;
	uint64_t timer, next_ref;
	int failures;
	daimon_answer *replies; /* struct reply, oldest first */
};

/* ---- blocking work (the pool) ---- */

static size_t to_buf(char *p, size_t size, size_t n, void *b)
{
	daimon_buf_add(b, p, size * n);
	return size * n;
}

static CURL *imap_easy(const struct mail_conf *cf, const char *url, daimon_buf *out)
{
	CURL *e = curl_easy_init();
	curl_easy_setopt(e, CURLOPT_URL, url);
	if (cf->user)
		curl_easy_setopt(e, CURLOPT_USERNAME, cf->user);
	if (cf->pass)
		curl_easy_setopt(e, CURLOPT_PASSWORD, cf->pass);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, to_buf);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 60000L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	return e;
}

struct poll_arg {
	const struct mail_conf *cf;
	double mark;
	daimon_journal *j; /* (pinned) */
	const char *home;
};

static void poll_free(void *arg)
{
	struct poll_arg *pa = arg;
	daimon_journal_unpin(pa->j);
	free(pa);
}

/* What the poll fetched, taken: the access checks, and the allowed ones
 * journaled with the new mark (daimon_inbox_take) before the actor
 * hears of them. */
static int take(const struct poll_arg *pa, const cJSON *mails, double mark, daimon_buf *out)
{
	cJSON *candidates = cJSON_CreateArray();
	const cJSON *m;
	cJSON_ArrayForEach(m, mails)
	{
		const char *from = daimon_json_str(m, "from");
		if (!from)
			continue; /* unreadable: nobody to answer */
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "authenticated"))) {
			/* From: alone proves nothing: not answered, no pairing code sent to it */
			fprintf(stderr,
				"daimon: mail: a mail from %s is not vouched for by the receiving server "
				"(Authentication-Results: no dkim, spf or dmarc pass for its domain); left "
				"unanswered\n",
				from);
			continue;
		}
		char uid[32];
		snprintf(uid, sizeof(uid), "%.0f", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m, "uid")));
		cJSON *c = cJSON_Duplicate(m, 1);
		cJSON_DeleteItemFromObjectCaseSensitive(c, "uid");
		cJSON_AddStringToObject(c, "id", uid);
		cJSON_AddStringToObject(c, "chat", from);
		cJSON_AddStringToObject(c, "sender", from);
		cJSON_AddItemToArray(candidates, c);
	}
	cJSON *r = daimon_inbox_take(pa->j, pa->home, "mail", candidates, mark > pa->mark ? mark : 0);
	cJSON_Delete(candidates);
	if (!r) {
		daimon_buf_adds(out, daimon_error_last());
		return -1;
	}
	/* (the pairing codes' senders: their mails, for the reply's headers) */
	cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(r, "pairing"))
	{
		cJSON_ArrayForEach(m, mails) if (!strcmp(daimon_json_str(m, "from") ? daimon_json_str(m, "from") : "",
							 daimon_json_str(p, "sender")))
		{
			cJSON_AddStringToObject(p, "subject", daimon_json_str(m, "subject"));
			cJSON_AddStringToObject(p, "message_id", daimon_json_str(m, "message_id"));
			break;
		}
	}
	cJSON_AddNumberToObject(r, "mark", mark);
	char *s = cJSON_PrintUnformatted(r);
	daimon_buf_adds(out, s);
	cJSON_free(s);
	cJSON_Delete(r);
	return 0;
}

/* Searches for new UIDs and fetches each: out = {"mark":..., "mails":
 * [{"uid","from","name","subject","message_id","references","text"}]}
 * or the reason it failed. */
static int poll_job(void *arg, daimon_buf *out, const _Atomic int *cancelled)
{
	const struct poll_arg *pa = arg;
	const struct mail_conf *cf = pa->cf;
	daimon_buf res = DAIMON_BUF_INIT;
	CURL *e = imap_easy(cf, cf->imap, &res);
	char cmd[64];
	if (pa->mark > 0)
		snprintf(cmd, sizeof(cmd), "UID SEARCH UID %.0f:*", pa->mark + 1);
	else
		snprintf(cmd, sizeof(cmd), "UID SEARCH UNSEEN");
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, cmd);
	CURLcode rc = curl_easy_perform(e);
	curl_easy_cleanup(e);
	if (rc != CURLE_OK) {
		daimon_buf_addf(out, "cannot search %s: %s", cf->imap, curl_easy_strerror(rc));
		daimon_buf_release(&res);
		return -1;
	}
	cJSON *doc = cJSON_CreateObject(), *mails = cJSON_AddArrayToObject(doc, "mails");
	double mark = pa->mark;
	const char *p = strstr(daimon_buf_cstr(&res), "* SEARCH");
	int n = 0;
	for (p = p ? p + 8 : ""; *p && *p != '\r' && *p != '\n' && n < MAX_PER_POLL && !*cancelled;) {
		char *endp;
		double uid = strtod(p, &endp);
		if (endp == p)
			break;
		p = endp;
		if (uid <= pa->mark) /* "N:*" names the last message even when it is older */
			continue;
		daimon_buf raw = DAIMON_BUF_INIT;
		char *url = daimon_xasprintf("%s;UID=%.0f", cf->imap, uid);
		CURL *f = imap_easy(cf, url, &raw);
		free(url);
		rc = curl_easy_perform(f);
		curl_easy_cleanup(f);
		if (rc != CURLE_OK) { /* stop here: the mark stays below it, it comes again */
			daimon_buf_release(&raw);
			break;
		}
		daimon_mail m;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "uid", uid);
		if (daimon_mail_parse(&m, raw.ptr ? raw.ptr : "", raw.len) == 0) {
			cJSON_AddStringToObject(o, "from", m.from);
			cJSON_AddStringToObject(o, "name", m.name ? m.name : "");
			cJSON_AddStringToObject(o, "subject", m.subject ? m.subject : "");
			cJSON_AddStringToObject(o, "message_id", m.message_id ? m.message_id : "");
			cJSON_AddStringToObject(o, "references", m.references ? m.references : "");
			cJSON_AddStringToObject(o, "text", m.text);
			cJSON_AddBoolToObject(
				o, "authenticated",
				cf->trust_from || daimon_mail_authenticated(raw.ptr, raw.len, m.from, cf->authserv));
			daimon_mail_release(&m);
		}
		cJSON_AddItemToArray(mails, o);
		daimon_buf_release(&raw);
		if (uid > mark)
			mark = uid;
		n++;
	}
	daimon_buf_release(&res);
	int taken = take(pa, mails, mark, out);
	cJSON_Delete(doc);
	return taken;
}

struct send_arg {
	const struct mail_conf *cf;
	char *to;
	char *message;
	size_t off;
};

static size_t from_msg(char *p, size_t size, size_t n, void *arg)
{
	struct send_arg *s = arg;
	size_t left = strlen(s->message) - s->off, k = size * n < left ? size * n : left;
	memcpy(p, s->message + s->off, k);
	s->off += k;
	return k;
}

static int send_job(void *arg, daimon_buf *out, const _Atomic int *cancelled)
{
	(void)cancelled;
	struct send_arg *s = arg;
	CURL *e = curl_easy_init();
	curl_easy_setopt(e, CURLOPT_URL, s->cf->smtp);
	if (s->cf->user)
		curl_easy_setopt(e, CURLOPT_USERNAME, s->cf->user);
	if (s->cf->pass)
		curl_easy_setopt(e, CURLOPT_PASSWORD, s->cf->pass);
	curl_easy_setopt(e, CURLOPT_MAIL_FROM, s->cf->address);
	struct curl_slist *rcpt = curl_slist_append(NULL, s->to);
	curl_easy_setopt(e, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, from_msg);
	curl_easy_setopt(e, CURLOPT_READDATA, s);
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 60000L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	CURLcode rc = curl_easy_perform(e);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(e);
	if (rc != CURLE_OK)
		daimon_buf_addf(out, "cannot send to %s through %s: %s", s->to, s->cf->smtp, curl_easy_strerror(rc));
	return rc == CURLE_OK ? 0 : -1;
}

static void send_free(void *arg)
{
	struct send_arg *s = arg;
	free(s->to);
	free(s->message);
	free(s);
}

/* ---- the actor ---- */

static void state(daimon_ctx *ctx, struct mail *ml, const char *label, const char *error)
{
	daimon_set_state_label(ctx, label);
	daimon_channel_state(ml->cf->host, "mail", label, error);
}

static void start_send(daimon_ctx *ctx, struct mail *ml, struct reply *r)
{
	struct send_arg *s = daimon_xcalloc(1, sizeof(*s));
	s->cf = ml->cf;
	s->to = daimon_xstrdup(r->to);
	s->message = daimon_mail_reply(ml->cf->address, r->to, r->subject, r->message_id, r->references,
				       daimon_buf_cstr(&r->a.text));
	r->ref = ++ml->next_ref;
	r->job = daimon_job_submit(daimon_ctx_rt(ctx), daimon_self(ctx), r->ref, send_job, s, send_free);
}

static void reply_free(struct mail *ml, struct reply *r)
{
	daimon_answer_unlink(&ml->replies, &r->a);
	daimon_job_release(r->job);
	free(r->to);
	free(r->subject);
	free(r->message_id);
	free(r->references);
	daimon_buf_release(&r->a.text);
	free(r);
}

/* A mail for its session ("mail:<address>"), answered by mail. */
static void dispatch(daimon_ctx *ctx, struct mail *ml, const char *uid, const cJSON *m)
{
	struct reply *r = daimon_xcalloc(1, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", uid);
	r->to = daimon_xstrdup(daimon_json_str(m, "from") ? daimon_json_str(m, "from") : "");
	r->subject = daimon_xstrdup(daimon_json_str(m, "subject") ? daimon_json_str(m, "subject") : "");
	r->message_id = daimon_xstrdup(daimon_json_str(m, "message_id") ? daimon_json_str(m, "message_id") : "");
	r->references = daimon_xstrdup(daimon_json_str(m, "references") ? daimon_json_str(m, "references") : "");
	daimon_answer_append(&ml->replies, &r->a);
	char key[300], mid[48];
	snprintf(key, sizeof(key), "mail:%s", r->to);
	snprintf(mid, sizeof(mid), "mail:%s", uid);
	const char *text = daimon_json_str(m, "text");
	if (daimon_answer_ask(ctx, ml->cf->host, &r->a, key, mid, text && *text ? text : r->subject, NULL) < 0)
		start_send(ctx, ml, r);
}

static void schedule_poll(daimon_ctx *ctx, struct mail *ml, long ms)
{
	ml->timer = daimon_timer_start(ctx, ms, 0);
}

static void start_poll(daimon_ctx *ctx, struct mail *ml)
{
	struct poll_arg *pa = daimon_xcalloc(1, sizeof(*pa));
	pa->cf = ml->cf;
	pa->mark = ml->mark;
	pa->j = ml->j;
	pa->home = ml->cf->host->store->home;
	daimon_journal_pin(ml->j);
	ml->poll = daimon_job_submit(daimon_ctx_rt(ctx), daimon_self(ctx), 0, poll_job, pa, poll_free);
	daimon_set_op(ctx, "polling");
}

/* New mail, journaled (with the new mark) on the pool before anything
 * else: pairing codes go out, the mails to their sessions. */
static void on_polled(daimon_ctx *ctx, struct mail *ml, const daimon_job_done *d)
{
	daimon_job_release(ml->poll);
	ml->poll = NULL;
	daimon_set_op(ctx, NULL);
	cJSON *doc = d->status == 0 ? cJSON_Parse(d->text) : NULL;
	if (!doc) {
		ml->failures++;
		state(ctx, ml, "failed", d->status ? d->text : "the poll's answer could not be read");
		schedule_poll(ctx, ml,
			      ml->cf->poll_ms < 2000L << ml->failures ? ml->cf->poll_ms : 2000L << ml->failures);
		return;
	}
	if (ml->failures)
		daimon_channel_state(ml->cf->host, "mail", "starting", NULL);
	ml->failures = 0;
	state(ctx, ml, "running", "");
	const cJSON *m;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(doc, "pairing"))
	{
		struct reply *r = daimon_xcalloc(1, sizeof(*r));
		snprintf(r->id, sizeof(r->id), "pair:%s", daimon_json_str(m, "id"));
		r->to = daimon_xstrdup(daimon_json_str(m, "sender"));
		r->subject = daimon_xstrdup(daimon_json_str(m, "subject") ? daimon_json_str(m, "subject") : "");
		r->message_id =
			daimon_xstrdup(daimon_json_str(m, "message_id") ? daimon_json_str(m, "message_id") : "");
		daimon_buf_addf(&r->a.text,
				"I don't know you yet. To write with me, ask my owner to run:\n\n"
				"    daimon pairing approve %s\n\n(the code is valid for an hour)\n",
				daimon_json_str(m, "code"));
		r->a.answered = 1;
		daimon_answer_append(&ml->replies, &r->a);
		start_send(ctx, ml, r);
	}
	double mark = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(doc, "mark"));
	ml->mark = mark > ml->mark ? mark : ml->mark;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(doc, "taken"))
		dispatch(ctx, ml, daimon_json_str(m, "id"), m);
	cJSON_Delete(doc);
	schedule_poll(ctx, ml, ml->cf->poll_ms);
}

static void on_sent(daimon_ctx *ctx, struct mail *ml, struct reply *r, const daimon_job_done *d)
{
	daimon_job_release(r->job);
	r->job = NULL;
	if (d->status == 0) {
		if (strncmp(r->id, "pair:", 5))
			daimon_journal_out_later(daimon_ctx_rt(ctx), ml->j, r->id);
		reply_free(ml, r);
		return;
	}
	fprintf(stderr, "daimon: mail: %s\n", d->text);
	if (++r->tries >= 5) { /* journaled "in" without "out": a restart tries again */
		reply_free(ml, r);
		return;
	}
	r->retry_timer = daimon_timer_start(ctx, 2000L << r->tries, 0);
}

static int mail_init(daimon_ctx *ctx, void *st)
{
	struct mail *ml = st;
	cJSON *pending = NULL;
	if (daimon_journal_open(&ml->j, ml->cf->host->store->home, "mail", &pending, &ml->mark) < 0) {
		state(ctx, ml, "failed", daimon_error_last());
		return DAIMON_STOP(DAIMON_EXIT_CRASHED);
	}
	state(ctx, ml, "starting", "");
	const cJSON *p;
	cJSON_ArrayForEach(p, pending)
	{
		cJSON *m = cJSON_Duplicate(p, 1);
		cJSON_AddStringToObject(m, "from", daimon_json_str(p, "chat"));
		dispatch(ctx, ml, daimon_json_str(p, "in"), m);
		cJSON_Delete(m);
	}
	cJSON_Delete(pending);
	start_poll(ctx, ml);
	return DAIMON_CONTINUE;
}

static int mail_handle(daimon_ctx *ctx, void *st, const daimon_msg *m)
{
	struct mail *ml = st;
	daimon_answer *a;
	switch (m->type) {
	case DAIMON_MSG_JOB_DONE: {
		const daimon_job_done *d = m->data;
		if (ml->poll && d->ref == 0) {
			on_polled(ctx, ml, d);
			break;
		}
		for (a = ml->replies; a; a = a->next)
			if (((struct reply *)a)->job && ((struct reply *)a)->ref == d->ref) {
				on_sent(ctx, ml, (struct reply *)a, d);
				break;
			}
		break;
	}
	case DAIMON_MSG_TIMER:
		if (m->ref == ml->timer) {
			ml->timer = 0;
			start_poll(ctx, ml);
			break;
		}
		for (a = ml->replies; a; a = a->next)
			if (((struct reply *)a)->retry_timer == m->ref) {
				((struct reply *)a)->retry_timer = 0;
				start_send(ctx, ml, (struct reply *)a);
				break;
			}
		break;
	default: /* the sessions' answers (no mail for a retry: mail is slow anyway) */
		if ((a = daimon_answer_take(ctx, ml->replies, m, NULL)))
			start_send(ctx, ml, (struct reply *)a);
	}
	return DAIMON_CONTINUE;
}

static void mail_terminate(daimon_ctx *ctx, void *st, int reason)
{
	(void)ctx, (void)reason;
	struct mail *ml = st;
	daimon_job_cancel(ml->poll);
	daimon_job_release(ml->poll);
	while (ml->replies) {
		struct reply *r = (struct reply *)ml->replies;
		daimon_job_cancel(r->job);
		reply_free(ml, r);
	}
	daimon_journal_close(ml->j);
	daimon_channel_state(ml->cf->host, "mail", "stopped", NULL);
	free(ml);
}

static const daimon_behaviour mail_behaviour = {
	.name = "mail", .init = mail_init, .handle = mail_handle, .terminate = mail_terminate};

static void *mail_make_state(void *conf)
{
	struct mail *ml = daimon_xcalloc(1, sizeof(*ml));
	ml->cf = conf;
	return ml;
}

static void mail_conf_free(void *conf)
{
	struct mail_conf *cf = conf;
	if (!cf)
		return;
	free(cf->imap), free(cf->smtp), free(cf->user), free(cf->pass), free(cf->address), free(cf->authserv);
	free(cf);
}

static char *dup_or_null(const char *s)
{
	return s && *s ? daimon_xstrdup(s) : NULL;
}

static int mail_configure(const daimon_channel_host *host, const daimon_settings *set, void **out)
{
	const char *imap, *smtp, *address, *user, *pass_set;
	int on;
	double poll_s;
	if (daimon_settings_bool(set, "channels.mail.enabled", &on) < 0 ||
	    daimon_settings_string(set, "channels.mail.imap_url", &imap) < 0 ||
	    daimon_settings_string(set, "channels.mail.smtp_url", &smtp) < 0)
		return -1;
	if (!imap || !*imap || !smtp || !*smtp || !on)
		return 0;
	const char *authserv;
	if (daimon_settings_string(set, "channels.mail.authserv_id", &authserv) < 0 ||
	    daimon_settings_string(set, "channels.mail.address", &address) < 0 ||
	    daimon_settings_string(set, "channels.mail.username", &user) < 0 ||
	    daimon_settings_string(set, "channels.mail.password", &pass_set) < 0 ||
	    daimon_settings_number(set, "channels.mail.poll_s", &poll_s) < 0)
		return -1;
	if (!address || !strchr(address, '@'))
		return daimon_error("channels.mail.address in config.json must be the address replies come from");
	struct mail_conf *cf = daimon_xcalloc(1, sizeof(*cf));
	cf->host = host;
	cf->imap = daimon_xstrdup(imap);
	cf->smtp = daimon_xstrdup(smtp);
	cf->user = dup_or_null(user);
	const char *pass = getenv("DAIMON_MAIL_PASSWORD");
	cf->pass = dup_or_null(pass && *pass ? pass : pass_set);
	cf->address = daimon_xstrdup(address);
	cf->trust_from = authserv && !strcmp(authserv, "none");
	cf->authserv = authserv && *authserv && !cf->trust_from ? daimon_xstrdup(authserv) : NULL;
	cf->poll_ms = (long)(poll_s * 1000);
	*out = cf;
	return 1;
}

const daimon_channel_kind daimon_channel_mail = {
	.name = "mail",
	.configure = mail_configure,
	.conf_free = mail_conf_free,
	.behaviour = &mail_behaviour,
	.make_state = mail_make_state,
};
