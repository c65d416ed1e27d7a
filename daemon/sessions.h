/*
 * sessions.h — the daemon's conversations: one actor, "sessions", that
 * keeps the table of them and is the only one to start or stop them.
 *
 * A simple_one_for_one supervisor of session actors with lazy starts,
 * the way OTP keeps one process per connection: a request for a key
 * (DAIMON_CHANNEL_POST, channels/channels.h) goes to the live session, or
 * the session is started — its settings read and its log replayed on the
 * work pool, never in a handler — and the requests that came meanwhile
 * wait for it, in order. Each session tells it when a turn begins and
 * ends and when it hibernates (DAIMON_SESSION_STATE), so which sessions
 * are mid-turn is known from this table, not from `daimon ps` labels. A
 * session that exits (crashed, stopped) leaves the table; the next
 * request starts it again from its log.
 *
 * A reload makes every session stale: each is stopped once it is idle
 * and no request is on its way to it (it says how many it has taken),
 * and requests for it wait until the new one is up — none is lost.
 */
#ifndef DAIMON_DAEMON_SESSIONS_H
#define DAIMON_DAEMON_SESSIONS_H

#include "core/actor.h"

struct daimon_gateway;

enum {
	/* to "sessions": the settings changed; sessions come back with them */
	DAIMON_SESSIONS_RELOAD = 0x53530001,
	/* to "sessions": the daemon stops; every session is cancelled (a
	 * running turn is logged as such) and no new one starts */
	DAIMON_SESSIONS_CANCEL = 0x53530002,
};

/* Starts the actor (registered as "sessions") for the gateway, whose
 * session counters it keeps. */
daimon_aid daimon_sessions_start(struct daimon_gateway *g);

#endif
