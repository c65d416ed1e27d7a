/*
 * http.c — see http.h. The http actor's state is a CURLM and its
 * transfers; curl's callbacks run inside the actor's own handler (during
 * curl_multi_socket_action), so they may use the runtime's calls that
 * need a daimon_ctx — the current one is kept in the state for them.
 */
#include "core/http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>

#include "core/buf.h"
#include "core/error.h"

enum { HTTP_REQUEST = 1, HTTP_CANCEL = 2, HTTP_ACK = 3 };

struct transfer {
	uint64_t id;
	daimon_aid requester;
	CURL *easy;
	struct curl_slist *headers;
	daimon_buf body; /* the response, unless streamed */
	char *req_body;
	int stream;
	int paused;
	uint64_t window, unacked; /* flow control of a stream (daimon_http_req.window) */
	long retry_after_ms;
	char error[CURL_ERROR_SIZE];
	struct transfer *next;
};

struct sockwatch {
	curl_socket_t fd;
	uint64_t watch;
	struct sockwatch *next;
};

struct http {
	CURLM *multi;
	daimon_ctx *ctx; /* valid while a handler runs */
	struct transfer *transfers;
	struct sockwatch *socks;
	uint64_t timer;
	struct idmon {
		daimon_aid who;
		uint64_t ref;
		struct idmon *next;
	} * monitored;
};

/* ---- curl's callbacks: sockets and a timer, mapped onto the runtime ---- */

static uint32_t poll_events(int what)
{
	return (what == CURL_POLL_IN ? EPOLLIN : what == CURL_POLL_OUT ? EPOLLOUT : EPOLLIN | EPOLLOUT);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	(void)easy, (void)socketp;
	struct http *h = userp;
	struct sockwatch **p = &h->socks;
	while (*p && (*p)->fd != fd)
		p = &(*p)->next;
	if (what == CURL_POLL_REMOVE) {
		if (*p) {
			struct sockwatch *s = *p;
			daimon_unwatch_fd(h->ctx, s->watch); /* borrowed: curl closes it */
			*p = s->next;
			free(s);
		}
		return 0;
	}
	if (*p)
		return daimon_watch_fd_modify(h->ctx, (*p)->watch, poll_events(what)) < 0 ? -1 : 0;
	struct sockwatch *s = daimon_xcalloc(1, sizeof(*s));
	s->fd = fd;
	s->watch = daimon_watch_fd_borrowed(h->ctx, fd, poll_events(what));
	if (!s->watch) {
		free(s);
		return -1;
	}
	s->next = h->socks;
	h->socks = s;
	return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	(void)multi;
	struct http *h = userp;
	if (h->timer)
		daimon_timer_cancel(h->ctx, h->timer);
	h->timer = timeout_ms >= 0 ? daimon_timer_start(h->ctx, timeout_ms, 0) : 0;
	return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
	struct transfer *t = userp;
	if (t->window && t->unacked + t->body.len >= t->window) { /* the requester is behind: wait for it */
		t->paused = 1;
		return CURL_WRITEFUNC_PAUSE; /* (curl keeps these bytes for later) */
	}
	daimon_buf_add(&t->body, data, size * n);
	return size * n;
}

/* Retry-After, in seconds (the HTTP-date form is taken as "soon"). */
static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
	struct transfer *t = userp;
	size_t len = size * n;
	if (len > 12 && !strncasecmp(data, "retry-after:", 12)) {
		char v[32];
		snprintf(v, sizeof(v), "%.*s", (int)(len - 12 < 31 ? len - 12 : 31), data + 12);
		char *end;
		long secs = strtol(v, &end, 10);
		t->retry_after_ms = end != v && secs >= 0 ? secs * 1000 : 1000;
	}
	return len;
}

/* ---- transfers ---- */

static void send_chunk(daimon_ctx *ctx, struct transfer *t, const char *data, size_t len)
{
	daimon_http_chunk *c = daimon_xmalloc(sizeof(*c) + len);
	c->id = t->id;
	c->len = len;
	memcpy(c->data, data, len);
	daimon_send(daimon_ctx_rt(ctx), t->requester, DAIMON_MSG_HTTP_CHUNK, c, sizeof(*c) + len);
	free(c);
}

/* A requester with no transfer left is no longer watched: thousands of
 * sessions that asked once each leave nothing behind here. */
static void forget_requester(struct http *h, daimon_aid who)
{
	for (struct transfer *o = h->transfers; o; o = o->next)
		if (o->requester == who)
			return;
	for (struct idmon **p = &h->monitored; *p; p = &(*p)->next)
		if ((*p)->who == who) {
			struct idmon *w = *p;
			*p = w->next;
			daimon_demonitor(h->ctx, who, w->ref);
			free(w);
			return;
		}
}

static void transfer_free(struct http *h, struct transfer *t)
{
	curl_multi_remove_handle(h->multi, t->easy);
	curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->headers);
	daimon_buf_release(&t->body);
	free(t->req_body);
	free(t);
}

static void finish(struct http *h, struct transfer *t, int code)
{
	long status = 0;
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	size_t len = t->stream ? 0 : t->body.len;
	daimon_http_result *r = daimon_xcalloc(1, sizeof(*r) + len);
	r->id = t->id;
	r->curl_code = code;
	r->status = status;
	r->retry_after_ms = t->retry_after_ms;
	snprintf(r->error, sizeof(r->error), "%s", code ? (t->error[0] ? t->error : curl_easy_strerror(code)) : "");
	r->body_len = len;
	if (len)
		memcpy(r->body, t->body.ptr, len);
	daimon_send(daimon_ctx_rt(h->ctx), t->requester, DAIMON_MSG_HTTP_DONE, r, sizeof(*r) + len);
	free(r);
}

static void unlink_transfer(struct http *h, struct transfer *t)
{
	for (struct transfer **p = &h->transfers; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			return;
		}
}

static void check_done(struct http *h)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(h->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct transfer *t = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		int code = m->data.result;
		unlink_transfer(h, t);
		finish(h, t, code);
		daimon_aid who = t->requester;
		transfer_free(h, t);
		forget_requester(h, who);
	}
}

/* The requester took `len` bytes: a paused stream goes on once it is
 * half the window behind. */
static void on_ack(struct http *h, const daimon_msg *m)
{
	uint64_t ack[2];
	if (m->len != sizeof(ack))
		return;
	memcpy(ack, m->data, sizeof(ack));
	for (struct transfer *t = h->transfers; t; t = t->next)
		if (t->id == ack[0]) {
			t->unacked -= ack[1] < t->unacked ? ack[1] : t->unacked;
			if (t->paused && t->unacked <= t->window / 2) {
				t->paused = 0;
				curl_easy_pause(t->easy, CURLPAUSE_CONT);
			}
			return;
		}
}

/* Streaming: what curl has written since the last event is sent as one
 * chunk. Collected in body and flushed after each socket action. */
static void flush_streams(struct http *h)
{
	for (struct transfer *t = h->transfers; t; t = t->next)
		if (t->stream && t->body.len) {
			send_chunk(h->ctx, t, t->body.ptr, t->body.len);
			t->unacked += t->body.len;
			daimon_buf_clear(&t->body);
		}
}

static void start_transfer(struct http *h, const daimon_msg *m)
{
	/* The request, flattened by daimon_http_request: see there. */
	const char *p = m->data, *end = p + m->len;
	struct transfer *t = daimon_xcalloc(1, sizeof(*t));
	memcpy(&t->id, p, 8);
	p += 8;
	int32_t stream;
	long ct, to, idle;
	uint64_t blen;
	memcpy(&stream, p, 4), p += 4;
	memcpy(&t->window, p, 8), p += 8;
	memcpy(&ct, p, sizeof(long)), p += sizeof(long);
	memcpy(&to, p, sizeof(long)), p += sizeof(long);
	memcpy(&idle, p, sizeof(long)), p += sizeof(long);
	memcpy(&blen, p, 8), p += 8;
	t->req_body = daimon_xstrndup(p, (size_t)blen);
	p += blen;
	const char *method = p;
	p += strlen(p) + 1;
	const char *url = p;
	p += strlen(p) + 1;
	t->requester = m->from;
	t->stream = stream;
	t->easy = curl_easy_init();
	while (p < end && *p) {
		t->headers = curl_slist_append(t->headers, p);
		p += strlen(p) + 1;
	}
	CURL *e = t->easy;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body); /* streamed bodies are flushed per event */
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
	t->retry_after_ms = -1;
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ct > 0 ? ct : 10000L);
	if (to > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, to);
	if (idle > 0) { /* under 1 byte/s for that long: the stream has stalled */
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (idle + 999) / 1000);
	}
	if (t->headers)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
	if (blen) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->req_body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
	}
	if (*method)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	t->next = h->transfers;
	h->transfers = t;
	/* Watch the requester: a transfer never outlives whoever wanted it. */
	struct idmon *w = h->monitored;
	while (w && w->who != t->requester)
		w = w->next;
	if (!w) {
		w = daimon_xmalloc(sizeof(*w));
		w->who = t->requester;
		w->next = h->monitored;
		h->monitored = w;
		w->ref = daimon_monitor(h->ctx, t->requester);
	}
	CURLMcode rc = curl_multi_add_handle(h->multi, e);
	if (rc != CURLM_OK) {
		unlink_transfer(h, t);
		finish(h, t, CURLE_FAILED_INIT);
		transfer_free(h, t);
	}
}

static void abort_where(struct http *h, int (*match)(struct transfer *, uint64_t), uint64_t key)
{
	for (struct transfer **p = &h->transfers; *p;) {
		struct transfer *t = *p;
		if (!match(t, key)) {
			p = &t->next;
			continue;
		}
		*p = t->next;
		finish(h, t, CURLE_ABORTED_BY_CALLBACK);
		daimon_aid who = t->requester;
		transfer_free(h, t);
		forget_requester(h, who);
	}
}

static int by_id(struct transfer *t, uint64_t id)
{
	return t->id == id;
}
static int by_requester(struct transfer *t, uint64_t who)
{
	return t->requester == who;
}

static int http_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct http *h = state;
	h->ctx = ctx;
	int running;
	switch (m->type) {
	case HTTP_REQUEST:
		start_transfer(h, m);
		break;
	case HTTP_ACK:
		on_ack(h, m);
		break;
	case HTTP_CANCEL: {
		uint64_t id;
		memcpy(&id, m->data, sizeof(id));
		abort_where(h, by_id, id);
		break;
	}
	case DAIMON_MSG_DOWN: /* a requester exited: abort what it left */
		abort_where(h, by_requester, m->from);
		for (struct idmon **p = &h->monitored; *p; p = &(*p)->next)
			if ((*p)->who == m->from) {
				struct idmon *w = *p;
				*p = w->next;
				free(w);
				break;
			}
		break;
	case DAIMON_MSG_FD:
		for (struct sockwatch *s = h->socks; s; s = s->next)
			if (s->watch == m->ref) {
				int ev = (m->arg & EPOLLIN ? CURL_CSELECT_IN : 0) |
					 (m->arg & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
					 (m->arg & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
				curl_multi_socket_action(h->multi, s->fd, ev, &running);
				break;
			}
		break;
	case DAIMON_MSG_TIMER:
		if (m->ref == h->timer) {
			h->timer = 0;
			curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		}
		break;
	}
	flush_streams(h);
	check_done(h);
	h->ctx = NULL;
	return DAIMON_CONTINUE;
}

static int http_init(daimon_ctx *ctx, void *state)
{
	struct http *h = state;
	h->ctx = ctx;
	daimon_set_state_label(ctx, "http");
	h->multi = curl_multi_init();
	if (!h->multi)
		return DAIMON_EXIT_CRASHED;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	h->ctx = NULL;
	return DAIMON_CONTINUE;
}

static void http_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)reason;
	struct http *h = state;
	h->ctx = ctx;
	while (h->transfers) {
		struct transfer *t = h->transfers;
		h->transfers = t->next;
		transfer_free(h, t); /* the runtime unwatches the sockets as the actor goes */
	}
	while (h->socks) {
		struct sockwatch *s = h->socks;
		h->socks = s->next;
		free(s);
	}
	while (h->monitored) {
		struct idmon *w = h->monitored;
		h->monitored = w->next;
		free(w);
	}
	if (h->multi)
		curl_multi_cleanup(h->multi);
	free(h);
}

static const daimon_behaviour http_behaviour = {
	.name = "http",
	.init = http_init,
	.handle = http_handle,
	.terminate = http_terminate,
};

static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

daimon_aid daimon_http_start(daimon_rt *rt, daimon_aid parent)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, global_init);
	struct http *h = daimon_xcalloc(1, sizeof(*h));
	daimon_spawn_opts o = {
		.behaviour = &http_behaviour,
		.state = h,
		.flags = parent ? DAIMON_SPAWN_LINK | DAIMON_SPAWN_CHILD : 0,
		.parent = parent,
	};
	daimon_aid id = daimon_spawn(rt, &o);
	if (!id)
		free(h);
	return id;
}

static _Atomic uint64_t next_transfer = 1;

uint64_t daimon_http_request(daimon_ctx *ctx, daimon_aid http, const daimon_http_req *req)
{
	daimon_buf b = DAIMON_BUF_INIT;
	uint64_t id = atomic_fetch_add(&next_transfer, 1);
	int32_t stream = req->stream;
	long ct = req->connect_timeout_ms, to = req->timeout_ms, idle = req->idle_timeout_ms;
	uint64_t blen = req->body ? req->body_len : 0, window = req->window;
	daimon_buf_add(&b, &id, 8);
	daimon_buf_add(&b, &stream, 4);
	daimon_buf_add(&b, &window, 8);
	daimon_buf_add(&b, &ct, sizeof(long));
	daimon_buf_add(&b, &to, sizeof(long));
	daimon_buf_add(&b, &idle, sizeof(long));
	daimon_buf_add(&b, &blen, 8);
	if (blen)
		daimon_buf_add(&b, req->body, (size_t)blen);
	const char *method = req->method ? req->method : "";
	daimon_buf_add(&b, method, strlen(method) + 1);
	daimon_buf_add(&b, req->url, strlen(req->url) + 1);
	for (const char *const *hd = req->headers; hd && *hd; hd++)
		daimon_buf_add(&b, *hd, strlen(*hd) + 1);
	daimon_buf_addc(&b, '\0');
	int rc = daimon_send(daimon_ctx_rt(ctx), http, HTTP_REQUEST, b.ptr, b.len);
	daimon_buf_release(&b);
	return rc == 0 ? id : 0;
}

int daimon_http_cancel(daimon_ctx *ctx, daimon_aid http, uint64_t id)
{
	return daimon_send(daimon_ctx_rt(ctx), http, HTTP_CANCEL, &id, sizeof(id));
}

int daimon_http_ack(daimon_ctx *ctx, daimon_aid http, uint64_t id, size_t len)
{
	uint64_t ack[2] = {id, len};
	return daimon_send(daimon_ctx_rt(ctx), http, HTTP_ACK, ack, sizeof(ack));
}

int daimon_http_transient(const daimon_http_result *r)
{
	switch (r->curl_code) {
	case CURLE_OK:
		break;
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
		return 1;
	default:
		return 0;
	}
	switch (r->status) {
	case 429:
	case 500:
	case 502:
	case 503:
	case 504:
	case 529:
		return 1;
	default:
		return 0;
	}
}

/* ---- one blocking request ---- */

struct fetched {
	daimon_buf *out;
	size_t max; /* 0: no bound */
	int over;
};

static size_t fetch_body(char *data, size_t size, size_t n, void *userp)
{
	struct fetched *f = userp;
	if (f->max && f->out->len + size * n > f->max) {
		f->over = 1;
		return 0; /* (curl stops: a write error) */
	}
	daimon_buf_add(f->out, data, size * n);
	return size * n;
}

static int fetch(const char *method, const char *url, const char *const *headers, const void *body, size_t body_len,
		 long timeout_ms, size_t max, long *status, daimon_buf *out)
{
	CURL *c = curl_easy_init();
	if (!c)
		return daimon_error("cannot fetch %s: libcurl cannot start a transfer", url);
	struct curl_slist *hl = NULL;
	for (size_t i = 0; headers && headers[i]; i++)
		hl = curl_slist_append(hl, headers[i]);
	struct fetched f = {.out = out, .max = max};
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method ? method : "GET");
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	CURLcode rc = curl_easy_perform(c);
	*status = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	if (f.over)
		return daimon_error_code(DAIMON_ETOOBIG, "cannot fetch %s: it is larger than %zu bytes", url, max);
	if (rc != CURLE_OK)
		return daimon_error("cannot fetch %s: %s", url, curl_easy_strerror(rc));
	return 0;
}

int daimon_http_fetch(const char *method, const char *url, const char *const *headers, const void *body,
		      size_t body_len, long timeout_ms, long *status, daimon_buf *out)
{
	return fetch(method, url, headers, body, body_len, timeout_ms, 0, status, out);
}

int daimon_http_download(const char *url, long timeout_ms, size_t max_bytes, long *status, daimon_buf *out)
{
	return fetch(NULL, url, NULL, NULL, 0, timeout_ms, max_bytes, status, out);
}
