/*
 * listen.c — a session's events as callbacks, and as JSON lines.
 */
#include "sessions/listen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/jsonutil.h"

void daimon_session_approve(daimon_rt *rt, daimon_aid from, daimon_aid session, uint64_t ref, int allow)
{
	daimon_session_approval a = {.ref = ref, .allow = allow};
	daimon_send_from(rt, from, session, DAIMON_SESSION_APPROVAL, &a, sizeof(a));
}

static void hear_line(void (*cb)(void *, const char *, size_t), void *arg, const daimon_msg *m)
{
	if (cb)
		cb(arg, m->data, m->len);
}

int daimon_session_hear(daimon_ctx *ctx, const daimon_msg *m, const daimon_session_listener *l, void *arg)
{
	switch (m->type) {
	case DAIMON_SESSION_DELTA:
		hear_line(l->delta, arg, m);
		return 1;
	case DAIMON_SESSION_THINKING:
		hear_line(l->thinking, arg, m);
		return 1;
	case DAIMON_SESSION_TOOL:
		hear_line(l->tool, arg, m);
		return 1;
	case DAIMON_SESSION_PROGRESS:
		hear_line(l->progress, arg, m);
		return 1;
	case DAIMON_SESSION_WAITING:
		hear_line(l->waiting ? l->waiting : l->progress, arg, m);
		return 1;
	case DAIMON_SESSION_APPROVE: {
		if (m->len < sizeof(daimon_session_approval))
			return 1;
		const daimon_session_approval *a = m->data;
		/* (the text after the header is NUL-terminated by the sender) */
		if (l->approve)
			l->approve(arg, a->ref, a->what);
		else
			daimon_session_approve(daimon_ctx_rt(ctx), daimon_self(ctx), m->from, a->ref, 0);
		return 1;
	}
	case DAIMON_SESSION_DONE:
		if (m->len >= sizeof(daimon_session_done) && l->done)
			l->done(arg, m->data);
		return 1;
	}
	return 0;
}

/* ---- the control socket's lines ---- */

static cJSON *text_event(const char *name, const void *text, size_t len)
{
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "event", name);
	char *t = daimon_xstrndup(text, len);
	cJSON_AddStringToObject(e, "text", t);
	free(t);
	return e;
}

cJSON *daimon_session_event_json(const daimon_msg *m, int ask)
{
	switch (m->type) {
	case DAIMON_SESSION_DELTA:
		return text_event("delta", m->data, m->len);
	case DAIMON_SESSION_THINKING:
		return text_event("thinking", m->data, m->len);
	case DAIMON_SESSION_TOOL:
		return text_event("tool", m->data, m->len);
	case DAIMON_SESSION_PROGRESS:
	case DAIMON_SESSION_WAITING: /* (a line on the terminal, like progress) */
		return text_event("progress", m->data, m->len);
	case DAIMON_SESSION_APPROVE: {
		if (m->len < sizeof(daimon_session_approval))
			return NULL;
		const daimon_session_approval *a = m->data;
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "event", "approve");
		cJSON_AddNumberToObject(e, "ref", (double)a->ref);
		cJSON_AddStringToObject(e, "what", a->what);
		return e;
	}
	case DAIMON_SESSION_DONE: {
		if (m->len < sizeof(daimon_session_done))
			return NULL;
		const daimon_session_done *d = m->data;
		cJSON *e = cJSON_CreateObject();
		if (ask)
			cJSON_AddStringToObject(e, "event", "done");
		cJSON_AddBoolToObject(e, "ok", d->status >= 0);
		cJSON_AddNumberToObject(e, "status", d->status);
		cJSON_AddStringToObject(e, "error", d->error);
		cJSON_AddStringToObject(e, "session", d->session);
		cJSON_AddNumberToObject(e, "tokens_in", (double)d->tokens_in);
		cJSON_AddNumberToObject(e, "tokens_out", (double)d->tokens_out);
		return e;
	}
	}
	return NULL;
}

static void hear_text(void (*cb)(void *, const char *, size_t), void *arg, const cJSON *e)
{
	const char *s = daimon_json_str(e, "text");
	if (cb && s)
		cb(arg, s, strlen(s));
}

static void copy_str(char *dst, size_t size, const cJSON *e, const char *name)
{
	const char *s = daimon_json_str(e, name);
	snprintf(dst, size, "%s", s ? s : "");
}

int daimon_session_hear_json(const cJSON *e, const daimon_session_listener *l, void *arg)
{
	const char *ev = daimon_json_str(e, "event");
	if (!ev)
		ev = "done"; /* a refused request, or a summary's outcome */
	if (!strcmp(ev, "delta")) {
		hear_text(l->delta, arg, e);
	} else if (!strcmp(ev, "thinking")) {
		hear_text(l->thinking, arg, e);
	} else if (!strcmp(ev, "tool")) {
		hear_text(l->tool, arg, e);
	} else if (!strcmp(ev, "progress")) {
		hear_text(l->progress, arg, e);
	} else if (!strcmp(ev, "approve")) {
		const char *what = daimon_json_str(e, "what");
		int64_t ref = 0;
		daimon_json_int(e, "ref", &ref);
		if (l->approve)
			l->approve(arg, (uint64_t)ref, what ? what : "a tool call");
	} else if (!strcmp(ev, "done")) {
		daimon_session_done d = {0};
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "status");
		d.status = cJSON_IsNumber(st) ? st->valueint : -1;
		copy_str(d.error, sizeof(d.error), e, "error");
		copy_str(d.session, sizeof(d.session), e, "session");
		daimon_json_int(e, "tokens_in", &d.tokens_in);
		daimon_json_int(e, "tokens_out", &d.tokens_out);
		if (l->done)
			l->done(arg, &d);
	} else {
		return 0;
	}
	return 1;
}
