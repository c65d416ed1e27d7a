/*
 * channels.h — the daemon's channels (Telegram, mail, the web page) under
 * one supervisor.
 *
 * Each channel is an actor that takes messages from its peer, hands each
 * to the session of its conversation ("telegram:<chat id>") and sends the
 * answer back. A channel whose peer fails (down, a refused token) says so
 * in `daimon status` and `daimon ps` and retries with a growing delay,
 * on its own; one whose handler crashes is restarted by the supervisor.
 * Either way the other channels keep running.
 */
#ifndef DAIMON_CHANNELS_CHANNELS_H
#define DAIMON_CHANNELS_CHANNELS_H

#include "core/actor.h"
#include "core/buf.h"
#include "core/settings.h"
#include "core/supervisor.h"
#include "memory/store.h"

typedef struct daimon_channels daimon_channels;

/* What a channel needs of the daemon above it, which fills this in and
 * outlives its channels: the runtime, the store, the http actor, the
 * actor that keeps the conversations' sessions, and a place to say how
 * it is. */
typedef struct {
	daimon_rt *rt;
	daimon_store *store;
	daimon_aid http;
	/* Takes requests for the session of a conversation key
	 * (daimon_channel_post), starting it from its log if it is not live. */
	daimon_aid sessions;
	/* Records a channel's state ("starting", "running", "failed",
	 * "stopped") and why, for `daimon status` and `daimon ps`. */
	void (*state)(void *payload, const char *name, const char *state, const char *error);
	void *payload;
} daimon_channel_host;

/* Requests to a conversation's session go through host->sessions: the
 * one who posts first hears DAIMON_CHANNEL_OPENED (which session has it,
 * or why none could be started: then it was not delivered), then the
 * session's own replies (sessions/listen.h). */
enum {
	DAIMON_CHANNEL_POST = 0x43480001,   /* data: made by daimon_channel_post */
	DAIMON_CHANNEL_OPENED = 0x43480002, /* data: daimon_channel_opened */
	/* To a channel, registered by its name ("telegram"): send a message
	 * unasked (a reminder). data: a daimon_job_done (work.h, as
	 * daimon_job_send makes it) whose text is the conversation key, a
	 * NUL, then the message (markdown). The channel answers with a
	 * DAIMON_CHANNEL_DELIVERED of the same shape and ref: status 0 once
	 * its peer took the whole message, <0 and why when it will not. */
	DAIMON_CHANNEL_DELIVER = 0x43480003,
	DAIMON_CHANNEL_DELIVERED = 0x43480004,
};

typedef struct {
	uint64_t ref;       /* the post's */
	daimon_aid session; /* 0: none, and `error` says why */
	char error[256];
} daimon_channel_opened;

/* Posts a session request (DAIMON_SESSION_ASK, _ASK_ONCE, _SUMMARIZE,
 * _RESUME) with `data` for the session of `key`, as `from` (0 from
 * outside an actor: nobody hears back); `ref` comes back in the OPENED. */
int daimon_channel_post(const daimon_channel_host *h, daimon_aid from, uint64_t ref, const char *key, int type,
			const void *data, size_t len);
/* What a DAIMON_CHANNEL_POST carries (the payload points into it): 0, or
 * -1 for one that is malformed. */
int daimon_channel_post_read(const daimon_msg *m, uint64_t *ref, int *type, const char **key, const void **data,
			     size_t *len);
void daimon_channel_state(const daimon_channel_host *h, const char *name, const char *state, const char *error);

/* Starts the channels config.json and the environment turn on (none is
 * no error). A bad channel setting fails naming it. */
int daimon_channels_start(daimon_channels **out, const daimon_channel_host *host);
/* Stops them (before the sessions are drained). */
void daimon_channels_stop(daimon_channels *c);
void daimon_channels_free(daimon_channels *c);

/* One channel: its behaviour, and a state made fresh for each start from
 * `conf` (which the channel parsed from its config object). */
typedef struct {
	const char *name;
	/* Reads the channel's settings (channels.NAME.*): 1 it is on (*conf
	 * set), 0 off, < 0 a bad setting (last error). */
	int (*configure)(const daimon_channel_host *host, const daimon_settings *set, void **conf);
	void (*conf_free)(void *conf);
	const daimon_behaviour *behaviour;
	void *(*make_state)(void *conf);
} daimon_channel_kind;

extern const daimon_channel_kind daimon_channel_telegram, daimon_channel_web, daimon_channel_mail;

/* The Bot API's base URL as the Telegram channel uses it:
 * DAIMON_TELEGRAM_API_URL, else channels.telegram.api_url (`set` may be
 * NULL: its default), without a trailing '/'. *out is the caller's. */
int daimon_telegram_api_url(const daimon_settings *set, char **out);

/* The answer a channel awaits from a session for one message taken from
 * its peer: the first member of the channel's own record of the message,
 * kept in a list, oldest first (a session answers its messages in turn). */
typedef struct daimon_answer {
	struct daimon_answer *next;
	uint64_t ref;       /* its post's (daimon_channel_post) */
	daimon_aid session; /* the session that has it (0: not known yet) */
	daimon_buf text;
	int answered; /* the session is done: what is left is sending it */
	int stopped;  /* ...because the turn was stopped */
} daimon_answer;

void daimon_answer_append(daimon_answer **list, daimon_answer *a);
void daimon_answer_unlink(daimon_answer **list, daimon_answer *a);
/* Hands the message to the session of `key` with its id (`mid`, so the
 * session answers a repeat from its log); the answer comes to the running
 * actor. When it cannot be posted, the reason becomes the answer
 * (answered) and -1 is returned: the channel sends it as it is.
 * `images`: its pictures, saved in the inbox, as a JSON array of
 * {"path","mime"} (session.h), or NULL. */
int daimon_answer_ask(daimon_ctx *ctx, const daimon_channel_host *host, daimon_answer *a, const char *key,
		      const char *mid, const char *text, const char *images);
/* What else a message told of an answer, for a channel that streams or
 * asks (daimon_answer_take). */
typedef struct {
	/* in: where a line that the answer waits (a retry after a rate
	 * limit, a fallback to another model) goes, "(line)", for the sender
	 * to hear before the answer; NULL: dropped */
	daimon_buf *waits;
	int can_ask;    /* in: the channel asks its sender approvals (else declined) */
	uint64_t ask;   /* out: a call waits for approval: its ref (daimon_session_approve) */
	char what[512]; /* out: what the call would do */
	int grew;       /* out: the answer's text grew */
} daimon_answer_news;

/* A message to the channel about its answers: OPENED says which session
 * has one (or, none could be started, finishes it with the reason);
 * a session's DELTA grows the oldest unanswered answer of that session;
 * DONE finishes it — a failure's reason becomes its text, a stop marks
 * it `stopped`. A finished answer is returned, to be sent; so is one
 * that `news` (may be NULL) has news of: unfinished then. NULL for
 * everything else. */
daimon_answer *daimon_answer_take(daimon_ctx *ctx, daimon_answer *list, const daimon_msg *m, daimon_answer_news *news);

/* Splits `text` for a peer that takes at most `limit` bytes a message:
 * the length of the first part — at a paragraph, line or word break when
 * there is one in the second half, never inside a UTF-8 character. */
size_t daimon_channel_split(const char *text, size_t len, size_t limit);

#endif
