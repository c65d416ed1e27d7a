/*
 * channels.c — starting the configured channels under one supervisor
 * (one_for_one: a crashing channel is restarted alone), and what the
 * channels share.
 */
#include "channels/channels.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/settings.h"
#include "sessions/listen.h"
#include "sessions/session.h"

static const daimon_channel_kind *const kinds[] = {&daimon_channel_web, &daimon_channel_telegram, &daimon_channel_mail,
						   NULL};

struct daimon_channels {
	const daimon_channel_host *host;
	daimon_aid sup;
	void *conf[8];
	daimon_child_spec specs[8];
	size_t n;
};

/* A post: ref, type, the key and a NUL, then the payload. */
struct post {
	uint64_t ref;
	int32_t type;
	char key[];
};

int daimon_channel_post(const daimon_channel_host *h, daimon_aid from, uint64_t ref, const char *key, int type,
			const void *data, size_t len)
{
	size_t klen = strlen(key) + 1, size = sizeof(struct post) + klen + len;
	struct post *p = daimon_xmalloc(size);
	p->ref = ref;
	p->type = type;
	memcpy(p->key, key, klen);
	if (len)
		memcpy(p->key + klen, data, len);
	int rc = daimon_send_from(h->rt, from, h->sessions, DAIMON_CHANNEL_POST, p, size);
	free(p);
	return rc;
}

int daimon_channel_post_read(const daimon_msg *m, uint64_t *ref, int *type, const char **key, const void **data,
			     size_t *len)
{
	if (m->type != DAIMON_CHANNEL_POST || m->len < sizeof(struct post) + 1)
		return -1;
	const struct post *p = m->data;
	size_t room = m->len - sizeof(*p);
	const char *nul = memchr(p->key, 0, room);
	if (!nul)
		return -1;
	*ref = p->ref;
	*type = p->type;
	*key = p->key;
	*data = nul + 1;
	*len = room - (size_t)(nul + 1 - p->key);
	return 0;
}

void daimon_channel_state(const daimon_channel_host *h, const char *name, const char *state, const char *error)
{
	h->state(h->payload, name, state, error);
}

int daimon_channels_start(daimon_channels **out, const daimon_channel_host *host)
{
	daimon_channels *c = daimon_xcalloc(1, sizeof(*c));
	c->host = host;
	daimon_settings *set;
	if (daimon_settings_load(&set, host->store->home) < 0) {
		free(c);
		return -1;
	}
	for (size_t i = 0; kinds[i]; i++) {
		void *conf = NULL;
		int on = kinds[i]->configure(host, set, &conf);
		if (on < 0) {
			daimon_settings_free(set);
			daimon_channels_free(c);
			return -1;
		}
		if (!on)
			continue;
		c->conf[c->n] = conf;
		c->specs[c->n] = (daimon_child_spec){.name = kinds[i]->name,
						     .behaviour = kinds[i]->behaviour,
						     .make_state = kinds[i]->make_state,
						     .arg = conf,
						     .restart = DAIMON_PERMANENT};
		daimon_channel_state(host, kinds[i]->name, "starting", NULL);
		c->n++;
	}
	daimon_settings_free(set);
	if (c->n) {
		daimon_sup_spec spec = {.strategy = DAIMON_ONE_FOR_ONE,
					.max_restarts = 10,
					.period_ms = 60000,
					.children = c->specs,
					.nchildren = c->n};
		c->sup = daimon_supervisor_start(host->rt, &spec, 0);
		if (!c->sup) {
			daimon_channels_free(c);
			return -1;
		}
		daimon_register(host->rt, "channels", c->sup);
	}
	*out = c;
	return 0;
}

void daimon_channels_stop(daimon_channels *c)
{
	if (c && c->sup)
		daimon_cancel(c->host->rt, c->sup, 2000);
}

void daimon_channels_free(daimon_channels *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		for (size_t k = 0; kinds[k]; k++)
			if (!strcmp(kinds[k]->name, c->specs[i].name))
				kinds[k]->conf_free(c->conf[i]);
	free(c);
}

size_t daimon_channel_split(const char *text, size_t len, size_t limit)
{
	if (len <= limit)
		return len;
	size_t cut = 0;
	static const char *const breaks[] = {"\n\n", "\n", " "};
	for (int b = 0; b < 3 && !cut; b++) {
		size_t bl = strlen(breaks[b]);
		for (size_t i = limit - bl + 1; i > limit / 2; i--)
			if (!memcmp(text + i - 1, breaks[b], bl)) {
				cut = i - 1 + bl;
				break;
			}
	}
	if (!cut) {
		cut = limit;
		while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80) /* not inside a character */
			cut--;
	}
	return cut;
}

void daimon_answer_append(daimon_answer **list, daimon_answer *a)
{
	while (*list)
		list = &(*list)->next;
	a->next = NULL;
	*list = a;
}

void daimon_answer_unlink(daimon_answer **list, daimon_answer *a)
{
	for (; *list; list = &(*list)->next)
		if (*list == a) {
			*list = a->next;
			return;
		}
}

int daimon_answer_ask(daimon_ctx *ctx, const daimon_channel_host *host, daimon_answer *a, const char *key,
		      const char *mid, const char *text, const char *images)
{
	static _Atomic uint64_t refs;
	a->ref = atomic_fetch_add(&refs, 1) + 1;
	daimon_buf b = DAIMON_BUF_INIT;
	daimon_buf_add(&b, mid, strlen(mid) + 1);
	daimon_buf_adds(&b, text);
	if (images) /* "mid\0text\0images\0" (session.h) */
		daimon_buf_add(&b, "", 1), daimon_buf_add(&b, images, strlen(images) + 1);
	int rc = daimon_channel_post(host, daimon_self(ctx), a->ref, key, DAIMON_SESSION_ASK_ONCE, b.ptr, b.len);
	daimon_buf_release(&b);
	if (rc < 0) { /* told to the sender, as the answer */
		daimon_buf_addf(&a->text, "(daimon cannot answer: %s)", daimon_error_last());
		a->answered = 1;
	}
	return rc;
}

/* Which session took the message, or why none could. */
static daimon_answer *opened(daimon_answer *list, const daimon_msg *m)
{
	if (m->len < sizeof(daimon_channel_opened))
		return NULL;
	const daimon_channel_opened *o = m->data;
	daimon_answer *a = list;
	while (a && a->ref != o->ref)
		a = a->next;
	if (!a || o->session) {
		if (a)
			a->session = o->session;
		return NULL;
	}
	daimon_buf_clear(&a->text);
	daimon_buf_addf(&a->text, "(daimon cannot answer: %s)", o->error);
	a->answered = 1;
	return a;
}

/* What a session's events do to the answer they are for. */
struct take {
	daimon_ctx *ctx;
	daimon_aid from; /* the session */
	daimon_answer *a;
	int finished, news;
	daimon_answer_news *n; /* (NULL: the caller wants only the finished answer) */
};

static void take_delta(void *arg, const char *text, size_t len)
{
	struct take *t = arg;
	if (!t->a)
		return;
	daimon_buf_add(&t->a->text, text, len);
	if (t->n)
		t->n->grew = t->news = 1;
}

static void take_done(void *arg, const daimon_session_done *d)
{
	struct take *t = arg;
	if (!t->a)
		return;
	t->finished = t->a->answered = 1;
	t->a->stopped = d->status == DAIMON_SESSION_CANCELLED;
	if (d->status < 0 && d->status != DAIMON_SESSION_CANCELLED) {
		daimon_buf_clear(&t->a->text);
		daimon_buf_addf(&t->a->text, "(daimon cannot answer: %s)", d->error);
	}
}

static void take_waiting(void *arg, const char *line, size_t len)
{
	struct take *t = arg;
	if (!t->a || !t->n || !t->n->waits)
		return;
	daimon_buf_addc(t->n->waits, '(');
	daimon_buf_add(t->n->waits, line, len);
	daimon_buf_addc(t->n->waits, ')');
	t->news = 1;
}

static void take_approve(void *arg, uint64_t ref, const char *what)
{
	struct take *t = arg;
	if (!t->a || !t->n || !t->n->can_ask) { /* nobody to ask */
		daimon_session_approve(daimon_ctx_rt(t->ctx), daimon_self(t->ctx), t->from, ref, 0);
		return;
	}
	t->n->ask = ref;
	snprintf(t->n->what, sizeof(t->n->what), "%s", what);
	t->news = 1;
}

/* (no progress: a channel shows the answer, not each step) */
static const daimon_session_listener take_listener = {
	.delta = take_delta, .waiting = take_waiting, .approve = take_approve, .done = take_done};

daimon_answer *daimon_answer_take(daimon_ctx *ctx, daimon_answer *list, const daimon_msg *m, daimon_answer_news *news)
{
	if (m->type == DAIMON_CHANNEL_OPENED)
		return opened(list, m);
	daimon_answer *a = list;
	while (a && (a->session != m->from || a->answered))
		a = a->next;
	struct take t = {.ctx = ctx, .from = m->from, .a = a, .n = news};
	daimon_session_hear(ctx, m, &take_listener, &t);
	return t.finished || t.news ? a : NULL;
}
