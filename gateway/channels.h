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
#ifndef DAIMON_GATEWAY_CHANNELS_H
#define DAIMON_GATEWAY_CHANNELS_H

#include "core/supervisor.h"
#include "gateway/gateway.h"

typedef struct daimon_channels daimon_channels;

/* Starts the channels config.json and the environment turn on (none is
 * no error). A bad channel setting fails naming it. */
int daimon_channels_start(daimon_channels **out, daimon_gateway *g);
/* Stops them (before the sessions are drained). */
void daimon_channels_stop(daimon_channels *c);
void daimon_channels_free(daimon_channels *c);

/* One channel: its behaviour, and a state made fresh for each start from
 * `conf` (which the channel parsed from its config object). */
typedef struct {
	const char *name;
	/* Reads the channel's settings: 1 it is on (*conf set), 0 off, < 0 a
	 * bad setting (last error). */
	int (*configure)(daimon_gateway *g, const cJSON *cfg, void **conf);
	void (*conf_free)(void *conf);
	const daimon_behaviour *behaviour;
	void *(*make_state)(void *conf);
} daimon_channel_kind;

extern const daimon_channel_kind daimon_channel_telegram, daimon_channel_web, daimon_channel_mail;

/* Splits `text` for a peer that takes at most `limit` bytes a message:
 * the length of the first part — at a paragraph, line or word break when
 * there is one in the second half, never inside a UTF-8 character. */
size_t daimon_channel_split(const char *text, size_t len, size_t limit);

#endif
