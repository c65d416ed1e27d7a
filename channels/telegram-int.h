/*
 * telegram-int.h — what the Telegram channel's two halves share:
 * telegram.c takes updates (polling, the journal, commands, callbacks)
 * and telegram-send.c shows the answers (a preview edited as the answer
 * streams, then the final text in Telegram's HTML, split at its limit);
 * telegram-file.c fetches what comes besides text (photos, voice,
 * documents) into the inbox.
 */
#ifndef DAIMON_CHANNELS_TELEGRAM_INT_H
#define DAIMON_CHANNELS_TELEGRAM_INT_H

#include <cjson/cJSON.h>

#include "channels/channels.h"
#include "channels/journal.h"
#include "core/http.h"
#include "core/work.h"

#define TG_LIMIT 4096 /* the Bot API's message size */

struct tg_conf {
	const daimon_channel_host *host;
	char *token, *api;
	long poll_timeout_s, poll_interval_ms, stream_ms;
	long long max_file_bytes; /* channels.telegram.max_file_mb */
	int no_images;            /* model.images is false */
	enum { TG_GROUPS_MENTION, TG_GROUPS_ALL, TG_GROUPS_OFF } groups;
};

/* A message at its session, and then its answer on the way out. */
struct tg_item {
	daimon_answer a; /* first: the list is of answers (channels.h) */
	char id[32];     /* the update id */
	char chat[32], sender[32];
	char key[160];      /* the conversation it went to */
	int own;            /* daimon's own reply (a command): no typing, no preview */
	daimon_aid deliver; /* sent unasked (DAIMON_CHANNEL_DELIVER): who hears DELIVERED */
	uint64_t deliver_ref;
	char *use;       /* once sent: the chat talks in this conversation now */
	cJSON *keyboard; /* an inline keyboard under the reply (its last part) */
	uint64_t job;    /* the lookup (/sessions, /status) or the file's fetch it waits for */
	int fetching;    /* ...the fetch of its file (telegram-file.c) */
	char file[16];   /* what the file is: "photo", "voice", "document" */
	char *text;      /* the message's text (a caption) while its file is fetched */
	char *who;       /* in a group: who wrote it (the model is told), else NULL */
	/* the preview: one message edited as the answer streams */
	long long preview; /* its message id (0: none yet) */
	int no_preview;    /* one failed: the answer comes whole */
	size_t shown;      /* bytes of the answer it shows */
	int64_t shown_at;
	uint64_t stream_timer, typing_timer;
	/* the answer: Telegram HTML, one part a message */
	char **parts;
	size_t nparts, part;
	int plain;     /* Telegram refused the part's formatting: it goes as text */
	int edit;      /* the part goes into the preview (editMessageText) */
	uint64_t xfer; /* the request in flight */
	int kind;      /* of the request: TG_PREVIEW or TG_PART */
	uint64_t retry_timer;
	int tries;
};

enum { TG_PREVIEW = 1, TG_PART };

/* A call that waits for the sender's approval: asked with two buttons. */
struct tg_ask {
	struct tg_ask *next;
	uint64_t ref;
	daimon_aid session;
	char chat[32], sender[32];
	char what[512];
};

struct tg {
	const struct tg_conf *cf;
	daimon_journal *j;
	double offset;
	uint64_t poll, poll_timer;
	int64_t poll_started;
	int failures;
	/* a batch being taken (journaled) on the work pool, and what it moves
	 * the offset to */
	daimon_job *take;
	double taking;
	int took;             /* how many updates it had */
	daimon_answer *items; /* struct tg_item, oldest first */
	cJSON *uses;          /* chat -> the conversation it talks in, when not its first */
	struct tg_ask *asks;
	uint64_t jobs; /* refs of lookups */
	/* the bot (getMe), to see it mentioned or replied to in a group */
	uint64_t me;
	char username[64];
	char bot_id[32];
};

/* telegram-send.c */
uint64_t tg_post(daimon_ctx *ctx, struct tg *t, const char *method, cJSON *body);
void tg_add_chat(cJSON *body, const char *chat);
/* A line of daimon's own, as it is (nobody waits for it to arrive). */
void tg_send_plain(daimon_ctx *ctx, struct tg *t, const char *chat, const char *text);
/* The item's text grew: show it, now or at the next edit allowed. */
void tg_grew(daimon_ctx *ctx, struct tg *t, struct tg_item *it);
/* The item is answered: send it (then "out" is journaled, it is dropped). */
void tg_finish(daimon_ctx *ctx, struct tg *t, struct tg_item *it);
/* The "typing…" Telegram shows until the answer comes, kept up. */
void tg_typing(daimon_ctx *ctx, struct tg *t, struct tg_item *it);
/* An answer to a request of the item's (1), or not the item's (0). */
int tg_sent(daimon_ctx *ctx, struct tg *t, struct tg_item *it, const daimon_http_result *r);
/* A timer of the item's (1), or not (0). */
int tg_timer(daimon_ctx *ctx, struct tg *t, struct tg_item *it, uint64_t ref);
/* telegram-file.c: the file a message carries, added to its journal
 * record `c` (1), or none (0). */
int tg_file_of(const cJSON *msg, cJSON *c);
/* Fetches the item's file into the inbox on the pool; -1 (last error)
 * when it is too big to ask for. */
int tg_fetch(daimon_ctx *ctx, struct tg *t, struct tg_item *it, const cJSON *file);
/* The fetch is done: what goes to the model is added to `text`, with
 * `*images` (malloc'd, or NULL) for a photo; a line for the sender to
 * `note`. -1: it failed, `note` says why. */
int tg_fetched(const struct tg *t, struct tg_item *it, const daimon_job_done *d, daimon_buf *text, daimon_buf *note,
	       char **images);
void tg_item_drop(daimon_ctx *ctx, struct tg *t, struct tg_item *it);
void tg_item_free(struct tg_item *it);

#endif
