/*
 * local.h — a command's own daemon: `daimon ask` and `daimon chat` with
 * no daemon running run the daemon's code in their own process and speak
 * the control protocol to it, so the command line has one path.
 *
 * Like a tmux client starting its server: under the daemon's lock
 * (run/daimon.lock, which says "local"), the gateway starts without
 * channels and without resuming other turns, and the control socket
 * listens, so a second command started meanwhile talks to this one
 * instead of writing the same session's log beside it — one writer per
 * session, always. When the command is done, the socket goes, the
 * commands still connected are let finish, and the process ends.
 */
#ifndef DAIMON_DAEMON_LOCAL_H
#define DAIMON_DAEMON_LOCAL_H

typedef struct daimon_local daimon_local;

/* 1: started (*out); 0: another process holds the lock — a daemon that
 * is starting or ending: try connecting again; -1: error (last error).
 * MCP servers' stderr goes to mcp_log (0: this process's). */
int daimon_local_start(daimon_local **out, const char *home, int mcp_log);
/* After the command's own connection is closed: no new clients, those
 * connected are waited for (said on stderr), running turns are drained
 * as a serve's are, and everything goes. */
void daimon_local_stop(daimon_local *l);

#endif
