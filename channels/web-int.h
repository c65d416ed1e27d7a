/*
 * web-int.h — what the web channel's files share: web.c (the server, the
 * page's API, the actor that streams an answer) and web-openai.c (the
 * OpenAI-compatible door on the same port, and OpenAI's shapes of an
 * answer).
 */
#ifndef DAIMON_CHANNELS_WEB_INT_H
#define DAIMON_CHANNELS_WEB_INT_H

#include <microhttpd.h>
#include <pthread.h>

#include <cjson/cJSON.h>

#include "channels/channels.h"
#include "core/buf.h"
#include "sessions/session.h"

#define KEY_MAX 200

struct web_conf {
	const daimon_channel_host *host;
	int port, max_connections, idle_s;
	size_t max_body; /* channels.web.max_body_mb */
	int no_images;   /* model.images is false */
	char mid_turn[16];
};

struct web {
	const struct web_conf *cf;
	struct MHD_Daemon *mhd;
	daimon_aid self;
	/* One connection at a time brings the index up to date: two at once
	 * would wait on each other's write lock and fail. */
	pthread_mutex_t ix_mu;
	long retry_ms; /* while the port cannot be had: the wait before the next try */
	char token[65];
};

/* A chat request: the actor and the stream between it and MHD. */
struct stream {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	daimon_buf out; /* SSE bytes not yet sent */
	int done;       /* the last event is in `out` */
	int refs;       /* the actor's and the connection's */
	const daimon_channel_host *host;
	char *key, *text, *images; /* (images: session.h's JSON, or NULL) */
	/* (the actor's) who asks whom, and the answer so far */
	daimon_rt *rt;
	daimon_ctx *ctx; /* (while it handles a message) */
	daimon_aid self, session;
	daimon_buf answer;
	uint64_t render_timer;
	int finished;
	/* for an OpenAI client (/v1/chat/completions): chunks as they come, or
	 * the completion whole at the end */
	int api; /* 0: the page's events; API_STREAM, API_WHOLE */
	char cid[48];
	int64_t created;
	int role_sent;
	unsigned status; /* a whole answer's HTTP status (0: 200) */
};

enum { API_STREAM = 1, API_WHOLE };

/* web.c */
enum MHD_Result web_reply(struct MHD_Connection *c, unsigned code, const char *type, const char *body, size_t len);
enum MHD_Result web_reply_json(struct MHD_Connection *c, unsigned code, cJSON *doc);
enum MHD_Result web_reply_error(struct MHD_Connection *c, unsigned code, const char *error);
/* A conversation key the page or a client may name. */
int web_key_ok(const char *key);
/* Starts the asker of `key` with `text` (and `images`, session.h's JSON,
 * or NULL); its events become the response (`api`: in OpenAI's shapes). */
enum MHD_Result web_start_stream(struct MHD_Connection *c, struct web *w, const char *key, const char *text,
				 const char *images, int api);

/* A message's pictures ([{"data": a data URL or base64}]) checked and
 * kept in the inbox: session.h's JSON in `out`, or why not in `why`. */
int web_keep_images(struct web *w, const cJSON *images, daimon_buf *out, char *why, size_t size);

/* web-openai.c: an answer in OpenAI's shapes — a chunk of text (NULL:
 * the end, with `finish`), and the end (the completion whole, or the
 * stream's last chunk and [DONE]) */
void web_api_chunk(struct stream *st, const char *text, size_t len, const char *finish);
void web_api_done(struct stream *st, const daimon_session_done *d);
/* ...and the door: an error as OpenAI's clients read it, whether the
 * request carries a key, and the /v1/ routes. */
enum MHD_Result web_api_fail(struct MHD_Connection *c, unsigned code, const char *message, const char *type);
int web_api_key_ok(struct MHD_Connection *c, const struct web *w);
enum MHD_Result web_v1(struct MHD_Connection *c, struct web *w, const char *url, const char *method,
		       const daimon_buf *body);

#endif
