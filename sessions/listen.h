/*
 * listen.h — hearing a session: its events to whoever asked, as
 * callbacks.
 *
 * A session tells its asker how a turn goes in actor messages (the
 * answer's text as it streams, a line on each tool call and its
 * progress, a call that waits for the user's approval, and the outcome).
 * Every consumer — the control socket, the channels, the web page,
 * sub-agents, the command line — decodes them here, through one
 * listener of its own, and the control socket's JSON lines (see
 * daemon/control.h) are made and read here too, so the events have one
 * definition.
 */
#ifndef DAIMON_SESSIONS_LISTEN_H
#define DAIMON_SESSIONS_LISTEN_H

#include <stddef.h>
#include <stdint.h>

#include "core/actor.h"
#include "sessions/session.h"
#include <cjson/cJSON.h>

/* Any callback may be NULL: the event is then dropped, except an
 * approval request, which is declined (nobody to ask). */
typedef struct {
	void (*delta)(void *arg, const char *text, size_t len);    /* answer text as it streams */
	void (*thinking)(void *arg, const char *text, size_t len); /* the model's reasoning as it streams */
	void (*tool)(void *arg, const char *line, size_t len);     /* a tool call finished */
	void (*progress)(void *arg, const char *line, size_t len); /* how far a running call is */
	/* The answer waits (a retry, a fallback): a line; NULL: heard as progress. */
	void (*waiting)(void *arg, const char *line, size_t len);
	/* A call waits for the user: answer it with daimon_session_approve. */
	void (*approve)(void *arg, uint64_t ref, const char *what);
	void (*done)(void *arg, const daimon_session_done *d); /* the turn's (or summary's) outcome */
} daimon_session_listener;

/* Decodes `m` if it is an event of a session to its asker: 1 it was
 * (the listener heard it), 0 it is some other message. */
int daimon_session_hear(daimon_ctx *ctx, const daimon_msg *m, const daimon_session_listener *l, void *arg);

/* The user's answer to an approval request of `session`. */
void daimon_session_approve(daimon_rt *rt, daimon_aid from, daimon_aid session, uint64_t ref, int allow);

/* The event `m` as the control socket's JSON line ({"event": ...}); NULL
 * for a message that is not one. `ask` says whether the outcome of an
 * ask is awaited ({"event":"done",...}) or of a summary (no "event"). */
cJSON *daimon_session_event_json(const daimon_msg *m, int ask);

/* The same event read back from its JSON line: 1 it was one (heard), 0
 * it is not an event. A line without "event" is a done (a refusal or a
 * summary's outcome). */
int daimon_session_hear_json(const cJSON *e, const daimon_session_listener *l, void *arg);

#endif
