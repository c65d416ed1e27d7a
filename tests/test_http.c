/*
 * test_http.c — libcurl's multi interface on the runtime's event thread:
 * a response, many transfers at once, a streamed body, a refused
 * connection, and a requester that exits mid-transfer (the transfer is
 * aborted: the server sees the connection closed). The server is a small
 * one of the test's own on 127.0.0.1.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/actor.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/http.h"
#include "core/timefmt.h"
#include "tests/test.h"

struct server {
	int lfd, port;
	pthread_t thread;
	_Atomic int stop, served, closed_early;
};

static void respond(int fd, const char *path, struct server *s)
{
	char buf[256];
	if (!strcmp(path, "/hello")) {
		const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
		(void)!write(fd, r, strlen(r));
	} else if (!strcmp(path, "/chunks")) {
		const char *h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
		(void)!write(fd, h, strlen(h));
		for (int i = 0; i < 3; i++) {
			int n = snprintf(buf, sizeof(buf), "6\r\npart-%d\r\n", i);
			(void)!write(fd, buf, (size_t)n);
			usleep(50000);
		}
		(void)!write(fd, "0\r\n\r\n", 5);
	} else if (!strcmp(path, "/flood")) { /* 4 MB as fast as the client takes it */
		const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 4194304\r\nConnection: close\r\n\r\n";
		(void)!write(fd, h, strlen(h));
		static char block[65536];
		memset(block, 'f', sizeof(block));
		for (int i = 0; i < 64; i++)
			if (write(fd, block, sizeof(block)) < 0)
				break;
	} else if (!strcmp(path, "/slow")) {
		/* Answers in 5 s, unless the client goes away first. */
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 5000) > 0 && recv(fd, buf, sizeof(buf), 0) <= 0)
			atomic_store(&s->closed_early, 1);
	} else {
		const char *r = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
		(void)!write(fd, r, strlen(r));
	}
}

static void *serve(void *arg)
{
	struct server *s = arg;
	while (!atomic_load(&s->stop)) {
		struct pollfd p = {s->lfd, POLLIN, 0};
		if (poll(&p, 1, 50) <= 0)
			continue;
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		char req[4096];
		size_t len = 0;
		while (len < sizeof(req) - 1 && !memmem(req, len, "\r\n\r\n", 4)) {
			ssize_t n = recv(fd, req + len, sizeof(req) - 1 - len, 0);
			if (n <= 0)
				break;
			len += (size_t)n;
		}
		req[len] = '\0';
		char path[128] = "";
		sscanf(req, "%*s %127s", path);
		respond(fd, path, s);
		atomic_fetch_add(&s->served, 1);
		close(fd);
	}
	return NULL;
}

static void server_start(struct server *s)
{
	memset(s, 0, sizeof(*s));
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s->lfd, 64) < 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &al) < 0)
		abort();
	s->port = ntohs(a.sin_port);
	pthread_create(&s->thread, NULL, serve, s);
}

static void server_stop(struct server *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->thread, NULL);
	close(s->lfd);
}

struct requester {
	daimon_aid http;
	char url[128];
	int stream;
	_Atomic int done;
	int code;
	long status;
	char body[256];
	char streamed[256];
	_Atomic int chunks;
	size_t window;      /* flow control asked for */
	_Atomic size_t got; /* bytes of chunks received */
	int acking;         /* each chunk acknowledged (after message 2) */
	size_t unacked;
	uint64_t id;
};

static int req_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct requester *r = state;
	if (m->type == 1) {
		daimon_http_req q = {
			.url = r->url, .stream = r->stream, .connect_timeout_ms = 2000, .window = r->window};
		if (!(r->id = daimon_http_request(ctx, r->http, &q)))
			return DAIMON_EXIT_CRASHED;
	} else if (m->type == DAIMON_MSG_HTTP_CHUNK) {
		const daimon_http_chunk *c = m->data;
		if (!r->window)
			strncat(r->streamed, c->data, c->len < 64 ? c->len : 64);
		atomic_fetch_add(&r->chunks, 1);
		atomic_fetch_add(&r->got, c->len);
		r->unacked += c->len;
		if (r->acking) {
			daimon_http_ack(ctx, r->http, c->id, r->unacked);
			r->unacked = 0;
		}
	} else if (m->type == 2) { /* catch up: what came is taken, and all that comes */
		r->acking = 1;
		if (r->unacked)
			daimon_http_ack(ctx, r->http, r->id, r->unacked);
		r->unacked = 0;
	} else if (m->type == DAIMON_MSG_HTTP_DONE) {
		const daimon_http_result *res = m->data;
		r->code = res->curl_code;
		r->status = res->status;
		snprintf(r->body, sizeof(r->body), "%.*s", (int)res->body_len, res->body);
		atomic_store(&r->done, 1);
	}
	return DAIMON_CONTINUE;
}

static const daimon_behaviour req_b = {.name = "requester", .handle = req_handle};

static daimon_aid ask(daimon_rt *rt, struct requester *r, daimon_aid http, int port, const char *path, int stream)
{
	memset(r, 0, sizeof(*r));
	r->http = http;
	r->stream = stream;
	snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d%s", port, path);
	daimon_spawn_opts o = {.behaviour = &req_b, .state = r};
	daimon_aid id = daimon_spawn(rt, &o);
	daimon_send(rt, id, 1, NULL, 0);
	return id;
}

/* A server, a runtime and an http actor for one test. */
struct fixture {
	struct server s;
	daimon_rt *rt;
	daimon_aid http;
};

static void up(struct fixture *f)
{
	server_start(&f->s);
	daimon_rt_new(&f->rt, NULL);
	f->http = daimon_http_start(f->rt, 0);
}

static void down(struct fixture *f)
{
	daimon_rt_free(f->rt);
	server_stop(&f->s);
}

static void test_http__a_response_arrives_as_a_message(void)
{
	struct fixture f;
	up(&f);
	struct requester r;
	ask(f.rt, &r, f.http, f.s.port, "/hello", 0);
	EVENTUALLY(atomic_load(&r.done));
	CHECK_INT(r.code, 0);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, "hello");
	down(&f);
}

static void test_http__many_transfers_at_once(void)
{
	struct fixture f;
	up(&f);
	static struct requester r[20];
	for (int i = 0; i < 20; i++)
		ask(f.rt, &r[i], f.http, f.s.port, i % 2 ? "/hello" : "/nope", 0);
	for (int i = 0; i < 20; i++) {
		EVENTUALLY(atomic_load(&r[i].done));
		CHECK_INT(r[i].status, i % 2 ? 200 : 404);
	}
	down(&f);
}

static void test_http__a_streamed_body_arrives_in_chunks(void)
{
	struct fixture f;
	up(&f);
	struct requester r;
	ask(f.rt, &r, f.http, f.s.port, "/chunks", 1);
	EVENTUALLY(atomic_load(&r.done));
	CHECK_INT(r.code, 0);
	CHECK_STR(r.streamed, "part-0part-1part-2");
	CHECK(atomic_load(&r.chunks) >= 2); /* as they came, 50 ms apart */
	CHECK_STR(r.body, "");
	down(&f);
}

/* A stream with a window: a requester that does not keep up stops the
 * transfer at about the window (the server's writes block), and it goes
 * on, whole, once the requester catches up. */
static void test_http__a_windowed_stream_waits_for_its_requester(void)
{
	struct fixture f;
	up(&f);
	struct requester r;
	memset(&r, 0, sizeof(r));
	r.http = f.http;
	r.stream = 1;
	r.window = 64 * 1024;
	snprintf(r.url, sizeof(r.url), "http://127.0.0.1:%d/flood", f.s.port);
	daimon_spawn_opts o = {.behaviour = &req_b, .state = &r};
	daimon_aid id = daimon_spawn(f.rt, &o);
	daimon_send(f.rt, id, 1, NULL, 0);
	EVENTUALLY(atomic_load(&r.got) >= r.window);
	usleep(300000); /* (without the window all 4 MB would be here by now) */
	size_t held = atomic_load(&r.got);
	CHECK(held < 1024 * 1024);
	CHECK(!atomic_load(&r.done));
	daimon_send(f.rt, id, 2, NULL, 0);
	EVENTUALLY(atomic_load(&r.done));
	CHECK_INT(r.code, 0);
	CHECK_INT((long)atomic_load(&r.got), 4194304);
	down(&f);
}

static void test_http__a_refused_connection_is_an_error_result(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &al);
	close(fd); /* nobody listens there now */
	daimon_rt *rt;
	daimon_rt_new(&rt, NULL);
	daimon_aid http = daimon_http_start(rt, 0);
	struct requester r;
	ask(rt, &r, http, ntohs(a.sin_port), "/", 0);
	EVENTUALLY(atomic_load(&r.done));
	CHECK_INT(r.code, 7); /* CURLE_COULDNT_CONNECT */
	CHECK(r.status == 0);
	daimon_rt_free(rt);
}

static void test_http__a_requester_that_exits_aborts_its_transfer(void)
{
	struct fixture f;
	up(&f);
	struct requester r;
	daimon_aid who = ask(f.rt, &r, f.http, f.s.port, "/slow", 0);
	usleep(200000); /* the request is at the server */
	daimon_kill(f.rt, who);
	uint64_t t0 = daimon_mono_ns();
	EVENTUALLY(atomic_load(&f.s.closed_early));
	CHECK(daimon_mono_ns() - t0 < 2000000000ull); /* long before the 5 s answer */
	daimon_actor_info *v;
	size_t n = daimon_rt_snapshot(f.rt, &v);
	CHECK_INT(n, 1); /* only the http actor */
	free(v);
	down(&f);
}

/* What a session retries: a refused or broken connection, a busy or
 * failing server; never a client error or an answer it cannot use. */
/* The blocking request (tools on the work pool, the start-up probe): the
 * status and body; a deadline that passes, or nobody listening, is an
 * error that names the address. */
static void test_http__a_blocking_fetch_returns_status_and_body(void)
{
	struct server s;
	server_start(&s);
	char url[64];
	daimon_buf out = DAIMON_BUF_INIT;
	long status = -1;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hello", s.port);
	CHECK_INT(daimon_http_fetch(NULL, url, NULL, NULL, 0, 5000, &status, &out), 0);
	CHECK_INT(status, 200);
	CHECK_STR(daimon_buf_cstr(&out), "hello");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/missing", s.port);
	CHECK_INT(daimon_http_fetch("POST", url, NULL, "x", 1, 5000, &status, &out), 0);
	CHECK_INT(status, 404);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", s.port);
	CHECK(daimon_http_fetch(NULL, url, NULL, NULL, 0, 200, &status, &out) < 0);
	CHECK_CONTAINS(daimon_error_last(), "cannot fetch http://127.0.0.1:");
	CHECK_INT(status, 0);
	/* a download past its bound stops there and says so */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hello", s.port);
	daimon_buf_clear(&out);
	CHECK_INT(daimon_http_download(url, 5000, 3, &status, &out), DAIMON_ETOOBIG);
	CHECK_CONTAINS(daimon_error_last(), "larger than 3 bytes");
	CHECK(out.len <= 3);
	daimon_buf_clear(&out);
	CHECK_INT(daimon_http_download(url, 5000, 5, &status, &out), 0);
	CHECK_STR(daimon_buf_cstr(&out), "hello");
	server_stop(&s);
	daimon_buf_release(&out);
}

static void test_http__transient_failures_are_told_apart(void)
{
	daimon_http_result r = {.curl_code = 7}; /* connection refused */
	CHECK(daimon_http_transient(&r));
	r.curl_code = 28; /* timed out */
	CHECK(daimon_http_transient(&r));
	r.curl_code = 6; /* the host's name did not resolve: no use trying again */
	CHECK(!daimon_http_transient(&r));
	r.curl_code = 0;
	static const long again[] = {429, 500, 502, 503, 504, 529}, never[] = {200, 400, 401, 404, 501};
	for (size_t i = 0; i < sizeof(again) / sizeof(again[0]); i++) {
		r.status = again[i];
		CHECK(daimon_http_transient(&r));
	}
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		r.status = never[i];
		CHECK(!daimon_http_transient(&r));
	}
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	static const struct test_case cases[] = {
		TEST_CASE(test_http__a_response_arrives_as_a_message),
		TEST_CASE(test_http__many_transfers_at_once),
		TEST_CASE(test_http__a_streamed_body_arrives_in_chunks),
		TEST_CASE(test_http__a_windowed_stream_waits_for_its_requester),
		TEST_CASE(test_http__a_refused_connection_is_an_error_result),
		TEST_CASE(test_http__a_requester_that_exits_aborts_its_transfer),
		TEST_CASE(test_http__a_blocking_fetch_returns_status_and_body),
		TEST_CASE(test_http__transient_failures_are_told_apart),
		{0},
	};
	return test_main(argc, argv, cases);
}
