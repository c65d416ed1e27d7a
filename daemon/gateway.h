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

#include <stddef.h>
#include <stdint.h>

#include "channels/channels.h"
#include "core/actor.h"
#include "core/llm.h"

/* The daemon's state (opaque: the daemon's own files see its insides
 * through daemon/gateway-int.h). */
typedef struct daimon_gateway daimon_gateway;

typedef struct {
	/* Turns the last process died in that no channel delivers again go
	 * on (`daimon serve`; a command's own daemon leaves them to it). */
	int resume;
	int mcp_log; /* where MCP servers' stderr goes (0: the daemon's) */
	int local;   /* a command's own daemon (daemon/local.h), for `status` */
} daimon_gateway_opts;

/* Everything but the control socket and the channels; `home` is copied. */
int daimon_gateway_new(daimon_gateway **out, const char *home, const daimon_gateway_opts *o);
/* Cancels every session (running turns are logged as cancelled), frees
 * the runtime and the rest. */
void daimon_gateway_free(daimon_gateway *g);

/* The home it serves, and what its channels get of it. */
const char *daimon_gateway_home(const daimon_gateway *g);
const daimon_channel_host *daimon_gateway_channel_host(const daimon_gateway *g);
/* Says how long start-up took (for `status`), once everything is up. */
void daimon_gateway_ready(daimon_gateway *g, int64_t ms);

/* The model settings new sessions start with (they outlive the
 * gateway's sessions), or NULL with why none is configured (or the
 * daemon is stopping). */
const daimon_llm_config *daimon_gateway_llm(daimon_gateway *g, char *why, size_t size);

/* The model's settings into `o`, for `status`: model, provider,
 * base_url and where each came from (key_from names the variable, never
 * the key), or model_error. */
void daimon_gateway_model_json(daimon_gateway *g, cJSON *o);

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
