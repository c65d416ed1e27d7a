/*
 * gateway.h — the daemon: the long-lived process every channel fans into.
 *
 * `daimon serve` builds one gateway: the runtime, the store, the http
 * actor, the skills, and one session actor per conversation key, started
 * on the first message for that key (from its log: a session that
 * crashed, was stopped by a reload or hibernated comes back the same) by
 * the "sessions" actor (daemon/sessions.h), which keeps them. Channels
 * (the control socket's clients, Telegram, the web page, mail) all post
 * their requests for a key to it, so `daimon chat` and a Telegram chat
 * talk to the same kind of actor, and the same actor when they name the
 * same key.
 *
 * Layering: cli -> daemon -> channels -> sessions -> core, memory,
 * skills. The channels get what they need of it through the
 * daimon_channel_host it fills in (channel_host), never this struct.
 */
#ifndef DAIMON_DAEMON_GATEWAY_H
#define DAIMON_DAEMON_GATEWAY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "channels/channels.h"
#include "core/actor.h"
#include "core/config.h"
#include "memory/store.h"
#include "sessions/skilltools.h"

/* A channel's health, for `daimon status` and `daimon ps`. */
typedef struct {
	char name[32];
	char state[16];  /* starting, running, failed, stopped */
	char error[200]; /* why it last failed, or "" */
	int restarts;
} daimon_channel_status;

#define DAIMON_GATEWAY_CHANNELS 8

typedef struct daimon_gateway {
	daimon_rt *rt;
	daimon_store store;
	daimon_aid http;
	daimon_aid sessions; /* the conversations' actor (daemon/sessions.h) */
	/* what it counts (sub-agents not counted): live, hibernated of them, in a turn */
	_Atomic long sessions_live, sessions_asleep, sessions_busy;
	/* The skills sessions start with: a skill built while the daemon runs
	 * makes a new set; the old ones stay (sessions hold their tools)
	 * until the gateway goes. */
	struct daimon_gateway_skills *skills;
	daimon_tools_live tools;
	pthread_mutex_t tools_mu; /* one new set is made at a time (each from what is newest) */
	int tools_made;           /* the first set was made (under mu): changes make new ones */
	/* The MCP servers (their tools join the skills'; a new list makes a
	 * new set) and their settings as started, to see a reload change them. */
	daimon_mcp *mcp;
	char *mcp_conf;
	int mcp_log, local;
	int64_t started_ms;   /* CLOCK_MONOTONIC */
	int64_t ready_ms;     /* how long start-up took */
	long stop_timeout_ms; /* running turns get this long at a stop, then are cancelled */
	pthread_mutex_t mu;   /* what follows */
	pthread_cond_t cv;
	/* The model settings sessions start with; a reload makes new ones
	 * and keeps the old (sessions hold a pointer) until the gateway goes. */
	struct daimon_gateway_settings *settings;
	int stopping;
	daimon_channel_status channels[DAIMON_GATEWAY_CHANNELS];
	int nchannels;
	daimon_channel_host channel_host; /* what the channels get of it */
} daimon_gateway;

typedef struct {
	/* Turns the last process died in that no channel delivers again go
	 * on (`daimon serve`; a command's own daemon leaves them to it). */
	int resume;
	int mcp_log; /* where MCP servers' stderr goes (0: the daemon's) */
	int local;   /* a command's own daemon (daemon/local.h), for `status` */
} daimon_gateway_opts;

/* Everything but the control socket and the channels; `home` is copied. */
int daimon_gateway_init(daimon_gateway *g, const char *home, const daimon_gateway_opts *o);
/* Cancels every session (running turns are logged as cancelled), frees
 * the runtime and the rest. */
void daimon_gateway_release(daimon_gateway *g);

/* The model settings new sessions start with (they outlive the
 * gateway's sessions), or NULL with why none is configured (or the
 * daemon is stopping). */
const daimon_llm_config *daimon_gateway_llm(daimon_gateway *g, char *why, size_t size);

/* The model new sessions start with (in out): 0 when none is configured. */
int daimon_gateway_model(daimon_gateway *g, char *out, size_t size);

/* The conversations' session actors now (sub-agents not counted): awake,
 * hibernated, and in a turn. */
void daimon_gateway_session_counts(daimon_gateway *g, size_t *live, size_t *hibernated, size_t *busy);

/* Re-reads config.json and the model settings for the sessions started
 * from now on; idle sessions are stopped, to come back with them on their
 * next message. Fails (last error) on a bad configuration, changing
 * nothing. */
int daimon_gateway_reload(daimon_gateway *g);

/* A skill was built: in-process ones swap in, isolated hosts are
 * replaced; a new skill makes a new tool set, which every session takes
 * as its next turn starts (so does a new list of an MCP server's
 * tools). The number swapped or
 * added, or < 0 (last error). Blocks (dlopen, git): not in a handler. */
int daimon_gateway_skills_changed(daimon_gateway *g);

/* Asks the daemon to stop (from a handler: a signal, `daimon stop`). */
void daimon_gateway_request_stop(daimon_gateway *g);
/* Blocks until a stop is requested. */
void daimon_gateway_wait_stop(daimon_gateway *g);
/* Waits up to stop_timeout_ms for running turns to end, then cancels
 * every session, so what they logged is committed. */
void daimon_gateway_drain(daimon_gateway *g);

/* Records a channel's state ("running", "failed"...) and the reason. */
void daimon_gateway_channel_state(daimon_gateway *g, const char *name, const char *state, const char *error);

/* The daemon's resident memory in kB (from /proc/self/status). */
long daimon_gateway_rss_kb(void);

#endif
