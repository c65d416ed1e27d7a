/*
 * control.h — the control socket: how `daimon chat`, `ask`, `status`,
 * `ps`, `stop`, `skill build` and `pairing` talk to a running daemon.
 *
 * A Unix stream socket at $DAIMON_HOME/run/daimon.sock, mode 0600, in a
 * 0700 folder; a connecting process whose uid is not the daemon's is
 * turned away. At most one daemon per home: it holds an flock on
 * run/daimon.lock for as long as it runs (tmux's <socket>.lock).
 *
 * The protocol, version 1: JSON objects, one per line, both ways.
 *   client  {"op":"hello","version":1}            first, always
 *   daemon  {"ok":true,"version":1,"pid":N,"daimon":"0.1.0"}
 *           or {"ok":false,"error":"..."} and the connection closes
 * Then requests, one at a time, each answered by one line {"ok":true,...}
 * or {"ok":false,"error":"..."}:
 *   {"op":"status"}     pid, version, uptime_ms, ready_ms, rss_kb, home,
 *                       local (a command's own daemon, daemon/local.h),
 *                       model, model_from, provider, base_url,
 *                       base_url_from, key_from (or model_error),
 *                       actors, sessions {live, hibernated, busy},
 *                       channels [{name, state, error, restarts}]
 *   {"op":"ps"}         actors [{id, parent, name, behaviour, state, op,
 *                       op_age_ms, mailbox, handled, mem, children,
 *                       timers, fds, procs}], rss_kb
 *   {"op":"stop"}       the daemon stops; the connection closes when it is gone
 *   {"op":"reload"}     config.json read again (SIGHUP does the same)
 *   {"op":"skills"}     built skills swapped in; "swapped": N
 *   {"op":"summarize","session":KEY}   the session's title and summary now
 *   {"op":"pairing"}    "pending": [{code, channel, sender, name, expires}]
 *   {"op":"pair","code":C}             approves a pairing code
 *   {"op":"cancel","session":KEY}      stops the turn running there,
 *                       whoever asked it ("no turn is running in KEY")
 * and one that streams:
 *   {"op":"ask","session":KEY,"text":T}
 *       events {"event":"delta","text":...}, {"event":"thinking","text":...}
 *       (the model's reasoning), {"event":"tool","text":...},
 *       {"event":"progress","text":...}, {"event":"approve","ref":R,
 *       "what":...}, then {"event":"done","ok":bool,"status":N,"error":...,
 *       "session":ID,"tokens_in":N,"tokens_out":N}. While it runs the client
 *       may send {"op":"cancel"} (stop the turn) and {"op":"approval",
 *       "ref":R,"allow":bool}.
 * A client that goes away mid-ask (killed, Ctrl-C without a cancel) stops
 * its turn, and only its own: nobody would hear the rest, and it is
 * logged as stopped ("the client that asked went away").
 */
#ifndef DAIMON_DAEMON_CONTROL_H
#define DAIMON_DAEMON_CONTROL_H

#include "daemon/gateway.h"

#define DAIMON_CONTROL_VERSION 1

/* "<home>/run/daimon.sock" and "<home>/run/daimon.lock" (caller frees). */
char *daimon_control_path(const char *home);
char *daimon_control_lock_path(const char *home);

typedef struct daimon_control daimon_control;

/* Who holds the lock: `daimon serve`, or a command's own daemon (`ask`
 * or `chat` with none running, daemon/local.h), which has no channels,
 * leaves signals alone and ends with its command. */
enum { DAIMON_CONTROL_SERVE, DAIMON_CONTROL_LOCAL };

/* Takes run/daimon.lock for this process and writes its pid there: the
 * lock's fd, or < 0 (last error): DAIMON_EBUSY when another process
 * holds it (the message names its pid). A serve waits for a command's own daemon to
 * end (saying so) instead of failing. */
int daimon_control_lock(const char *home, int how);
/* Binds the socket and starts the listener actor; `lock_fd` (from
 * daimon_control_lock) is the control's from now on, even on failure.
 * For DAIMON_CONTROL_SERVE the listener also turns SIGTERM, SIGINT and
 * SIGHUP (blocked by the caller before the runtime started) into a stop
 * or a reload. */
int daimon_control_start(daimon_control **out, daimon_gateway *g, int lock_fd, int how);
/* The clients connected now. */
int daimon_control_clients(daimon_control *c);
void daimon_control_close(daimon_control *c);
void daimon_control_free(daimon_control *c);

#endif
