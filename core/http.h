/*
 * http.h — HTTP on the actor runtime, through libcurl's multi interface.
 *
 * One http actor owns a CURLM and drives every transfer from the
 * runtime's event thread: curl's socket callback becomes fd watches, its
 * timer callback a runtime timer, and readiness arrives as messages — no
 * thread ever blocks on the network. A requester asks with
 * daimon_http_request and receives DAIMON_MSG_HTTP_CHUNK messages as the
 * body arrives (if it asked to stream) and one DAIMON_MSG_HTTP_DONE at the
 * end. A requester that exits takes its transfers with it: the http actor
 * monitors requesters and aborts what they left.
 *
 * Work that already runs off the schedulers — a tool on the work pool, a
 * probe before the runtime starts — may instead make one blocking request
 * with daimon_http_fetch, the one other HTTP client.
 */
#ifndef DAIMON_CORE_HTTP_H
#define DAIMON_CORE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "core/actor.h"
#include "core/buf.h"

enum {
	DAIMON_MSG_HTTP_CHUNK = 0x48540001, /* data: daimon_http_chunk + bytes */
	DAIMON_MSG_HTTP_DONE = 0x48540002,  /* data: daimon_http_result + body */
};

typedef struct {
	const char *method; /* NULL: GET, or POST when there is a body */
	const char *url;
	const void *body;
	size_t body_len;
	const char *const *headers; /* "Name: value", NULL-terminated; may be NULL */
	long connect_timeout_ms;    /* 0: 10 s */
	long timeout_ms;            /* whole transfer; 0: none */
	long idle_timeout_ms;       /* abort when nothing arrives for this long; 0: none */
	int stream;                 /* deliver the body in chunks as it arrives */
	/* A stream's flow control: once this many bytes were delivered and not
	 * yet taken (daimon_http_ack), the transfer pauses until the requester
	 * catches up, so a fast server cannot fill its mailbox. 0: none. */
	size_t window;
} daimon_http_req;

typedef struct {
	uint64_t id;
	size_t len;
	char data[];
} daimon_http_chunk;

typedef struct {
	uint64_t id;
	int curl_code;       /* 0: the transfer completed */
	long status;         /* HTTP status, 0 if none */
	char error[256];     /* curl's message when curl_code != 0 */
	long retry_after_ms; /* from a Retry-After header (seconds), -1 if none */
	size_t body_len;     /* the body, unless streamed */
	char body[];
} daimon_http_result;

/* Whether a failed transfer is worth trying again: the connection failed,
 * timed out or broke before the answer was whole, or the server said it
 * is busy or failing for now (429, 500, 502, 503, 504, 529). */
int daimon_http_transient(const daimon_http_result *r);

/* Starts the http actor (a child of `parent`, if not 0). */
daimon_aid daimon_http_start(daimon_rt *rt, daimon_aid parent);
/* Inside a handler: starts a transfer; returns its id (0 on failure). */
uint64_t daimon_http_request(daimon_ctx *ctx, daimon_aid http, const daimon_http_req *req);
/* Aborts a transfer; its DONE arrives with CURLE_ABORTED_BY_CALLBACK. */
int daimon_http_cancel(daimon_ctx *ctx, daimon_aid http, uint64_t id);
/* The requester took `len` bytes of a windowed stream's chunks. */
int daimon_http_ack(daimon_ctx *ctx, daimon_aid http, uint64_t id, size_t len);

/* One blocking request (never on a scheduler): `method` (NULL: GET) with
 * `headers` ("Name: value", NULL-terminated; may be NULL) and `body` (may
 * be NULL), within timeout_ms. 0 with *status and the answer's body
 * appended to `out`, or < 0 with the reason as the last error. */
int daimon_http_fetch(const char *method, const char *url, const char *const *headers, const void *body,
		      size_t body_len, long timeout_ms, long *status, daimon_buf *out);
/* A GET of at most `max_bytes` of body: past them the transfer stops and
 * the error (DAIMON_ETOOBIG) says so. */
int daimon_http_download(const char *url, long timeout_ms, size_t max_bytes, long *status, daimon_buf *out);

#endif
