/*
 * cli.h — what every `daimon <command>` file shares.
 *
 * One file per command (tmux's cmd-*.c, git's builtin/), each exporting a
 * `const struct daimon_cmd` that daimon.c lists in its command table. A
 * command parses its own options, prints data to stdout (one JSON object
 * per line with --json) and errors to stderr as one line, and returns the
 * process exit status: 0 ok, 1 failed, 2 bad usage.
 */
#ifndef DAIMON_CLI_CLI_H
#define DAIMON_CLI_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <pthread.h>
#include <signal.h>

#include "core/actor.h"
#include "core/buf.h"
#include "daemon/local.h"
#include "memory/index.h"
#include "memory/store.h"
#include "sessions/session.h"
#include "sessions/skilltools.h"

struct daimon_cmd {
	const char *name;
	const char *usage;   /* the synopsis after "daimon " */
	const char *summary; /* one line for `daimon --help` */
	const char *help;    /* option descriptions for `daimon <name> --help` */
	int (*exec)(const struct daimon_cmd *cmd, int argc, char **argv);
};

extern const struct daimon_cmd daimon_cmd_init, daimon_cmd_search, daimon_cmd_sessions, daimon_cmd_index,
	daimon_cmd_import, daimon_cmd_debug, daimon_cmd_ask, daimon_cmd_chat, daimon_cmd_memory, daimon_cmd_skill,
	daimon_cmd_serve, daimon_cmd_status, daimon_cmd_stop, daimon_cmd_cancel, daimon_cmd_cron, daimon_cmd_ps,
	daimon_cmd_pairing, daimon_cmd_web, daimon_cmd_mcp, daimon_cmd_config, daimon_cmd_models, daimon_cmd_setup,
	daimon_cmd_doctor, daimon_cmd_owner, daimon_cmd_api_key, daimon_cmd_usage;

/* Prints "daimon: <message>" to stderr and returns 1. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the library's last error as above and returns 1. */
int cli_fail(void);
/* Prints "usage: daimon <usage>" plus help to stdout (for --help). */
int cli_help(const struct daimon_cmd *cmd);
/* Parses the options of a command whose only ones are --help and --json:
 * returns -1 to go on (optind at the first argument), or the exit status
 * to return (help shown, or bad usage). */
int cli_options_json(const struct daimon_cmd *cmd, int argc, char **argv, int *json);
/* Reports bad usage on stderr and returns 2. */
int cli_usage_error(const struct daimon_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Opens the store (and index if `ix` is given) of $DAIMON_HOME. With
 * `must_exist`, a missing home is reported as "no conversations yet" by
 * returning 1 without opening anything; errors return -1. */
int cli_open(daimon_store *st, daimon_index **ix, int must_exist);
/* --session: a conversation key ("cli:work") as it is — a new one starts
 * there — or a session's id (or a unique prefix of one), made the key
 * of its conversation, in place. */
int cli_conversation_key(daimon_store *st, char *key, size_t size);
/* Whether stdout / stderr is a terminal that takes colour. */
int cli_color_stdout(void);
int cli_tty_stderr(void);
/* "2026-11-24 03:28" in local time. */
void cli_local_time(char out[32], int64_t ms);

/* A connection to the running daemon (client.c; the protocol is in
 * daemon/control.h). */
struct cli_conn {
	int fd;
	daimon_buf in;
};
/* Connects and says hello: 1 connected, 0 no daemon runs for
 * $DAIMON_HOME, < 0 an error (last error). */
int cli_daemon_open(struct cli_conn *c);
void cli_daemon_close(struct cli_conn *c);
int cli_daemon_send(struct cli_conn *c, const cJSON *req);
/* The next line from the daemon: 1 (*out set), 0 nothing within
 * timeout_ms (-1: wait), < 0 the connection is gone. */
int cli_daemon_recv(struct cli_conn *c, cJSON **out, int timeout_ms);
/* Sends `req` and waits for its {"ok":...} reply; a refusal is an error
 * carrying the daemon's reason. */
int cli_daemon_request(struct cli_conn *c, const cJSON *req, cJSON **reply);
/* The same for {"op": op}. */
int cli_daemon_op(struct cli_conn *c, const char *op, cJSON **reply);
/* Connects to the running daemon, or, with none, starts the command's
 * own (daemon/local.h: *local, for cli_daemon_disconnect) and connects
 * to that: 1 connected, < 0 an error. */
int cli_daemon_connect(struct cli_conn *c, daimon_local **local, const char *home);
void cli_daemon_disconnect(struct cli_conn *c, daimon_local *local);
/* {"op": op} to the running daemon if there is one: 1 done, 0 none runs. */
int cli_daemon_tell(const char *op);

/* The command line's side of a session turn (turn.c), through the
 * daemon: prints the answer as it streams (unless quiet) and keeps it. */
struct cli_turn {
	struct cli_conn *conn;
	int quiet, finished;
	int interactive;    /* a tool call that needs approval is asked on the terminal */
	int show_thinking;  /* the model's reasoning on stderr (dimmed) as it streams */
	int thinking_shown; /* some of it is on stderr, its line not ended */
	int render;         /* stdout is a terminal: markdown laid out, block by block */
	size_t shown;       /* bytes of the answer shown so far (render) */
	int blocks;         /* blocks shown */
	daimon_buf answer, thinking;
	daimon_session_done done;
	/* interactive: what was typed while the answer streamed (not
	 * echoed): "/stop" stops it; other lines wait here, for the chat to
	 * take in turn; `partial` is a line not ended yet */
	daimon_buf typed, partial;
};
void cli_turn_init(struct cli_turn *t, struct cli_conn *conn, int quiet);
void cli_turn_release(struct cli_turn *t);
/* Asks the session `key` and waits for the outcome (in t->done); once
 * *interrupt is set (Ctrl-C), the turn is cancelled. */
void cli_turn_ask(struct cli_turn *t, const char *key, const char *text, volatile sig_atomic_t *interrupt);
/* The session's title and summary now (if there is anything new);
 * `wait` 0: asked for, not waited on (the daemon writes it). */
int cli_turn_summarize(struct cli_conn *c, const char *key, int wait);
/* The first line typed during the last answer, taken (malloc'd), or NULL. */
char *cli_turn_typed(struct cli_turn *t);

/* The file MCP servers started by a command write their stderr to
 * ($DAIMON_HOME/logs/mcp.log; 0 when it cannot be opened: stderr). */
int cli_mcp_log(const char *home);

/* A progress line on stderr when it is a terminal (throttled). */
void cli_progress(const char *label, size_t done, size_t total);
void cli_progress_end(void);

#endif
