/*
 * cmd-chat.c — `daimon chat`: a conversation in the terminal. Line
 * editing and history (libedit) on a terminal, plain lines in a pipe.
 * Answers stream as they arrive; Ctrl-C or /stop typed meanwhile stops
 * the turn (the transfer is aborted and the log says so), other lines
 * typed meanwhile are the next messages; Ctrl-D or /quit leaves, and
 * Ctrl-C at the prompt asks first. Leaving does not wait for the
 * conversation's summary when a daemon runs (it writes it).
 * Slash commands: /new /sessions /search /stop /help /quit.
 */
#include <editline/readline.h>
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"
#include "memory/search.h"
#include "sessions/session.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

struct chat {
	daimon_store *st;
	daimon_session_opts opts;
	struct cli_turn turn;
	char key[128];
	int tty;
	struct cli_conn conn; /* the running daemon's, or this command's own */
	daimon_local *local;
};

/* One turn; Ctrl-C stops it. */
static void turn(struct chat *c, const char *text)
{
	interrupted = 0;
	cli_turn_ask(&c->turn, c->key, text, &interrupted);
	if (c->turn.done.status == DAIMON_SESSION_CANCELLED)
		fprintf(stderr, "[stopped]\n");
	else if (c->turn.done.status < 0)
		fprintf(stderr, "daimon: %s\n", c->turn.done.error);
	interrupted = 0;
}

static void cmd_search(struct chat *c, const char *q)
{
	daimon_index *ix;
	if (daimon_index_open(&ix, c->st) < 0) {
		fprintf(stderr, "daimon: %s\n", daimon_error_last());
		return;
	}
	daimon_search_opts o = {.query = q,
				.limit = 5,
				.mark_open = c->tty ? "\033[1;31m" : "**",
				.mark_close = c->tty ? "\033[0m" : "**"};
	daimon_search_result r;
	if (daimon_index_refresh(ix, NULL) == 0 && daimon_search(ix, &o, &r) == 0) {
		if (!r.n)
			printf("no matches for '%s'\n", q);
		for (size_t i = 0; i < r.n; i++) {
			char when[32];
			cli_local_time(when, r.hits[i].ts);
			printf("%s #%llu  %s\n    %s\n", r.hits[i].session, (unsigned long long)r.hits[i].seq, when,
			       r.hits[i].snippet);
		}
		daimon_search_result_release(&r);
	} else {
		fprintf(stderr, "daimon: %s\n", daimon_error_last());
	}
	daimon_index_close(ix);
}

static int print_session(const daimon_index_session *s, void *payload)
{
	(void)payload;
	printf("%-28s %5lld  %s\n", s->key ? s->key : "-", (long long)s->messages, s->title ? s->title : "");
	return 0;
}

static void cmd_sessions(struct chat *c)
{
	daimon_index *ix;
	if (daimon_index_open(&ix, c->st) < 0 || daimon_index_refresh(ix, NULL) < 0) {
		fprintf(stderr, "daimon: %s\n", daimon_error_last());
		return;
	}
	if (daimon_index_sessions(ix, 10, print_session, NULL) < 0)
		fprintf(stderr, "daimon: %s\n", daimon_error_last());
	daimon_index_close(ix);
}

/* The model the daemon's sessions start with, for the greeting. */
static void chat_model(struct cli_conn *conn, char *out, size_t size)
{
	cJSON *st = NULL;
	if (cli_daemon_op(conn, "status", &st) == 0)
		snprintf(out, size, "%s", daimon_json_str(st, "model") ? daimon_json_str(st, "model") : "none");
	cJSON_Delete(st);
}

static const char chat_help[] = "/new             start a new conversation\n"
				"/sessions        the last conversations\n"
				"/search QUERY    search every conversation\n"
				"/stop            stop the answer (Ctrl-C does too)\n"
				"/help            this\n"
				"/quit            leave (or Ctrl-D)\n";

/* Leaving a conversation: it gets its title and summary — written by the
 * daemon, when one runs; this command's own waits for it (Ctrl-C skips). */
static void summarize(struct chat *c)
{
	if (!c->opts.summarize)
		return;
	interrupted = 0;
	if (c->tty && c->local)
		fprintf(stderr, "[summarizing the conversation; Ctrl-C skips]\n");
	if (cli_turn_summarize(&c->conn, c->key, c->local != NULL) < 0 &&
	    strcmp(daimon_error_last(), "nothing new to summarize"))
		fprintf(stderr, "daimon: %s\n", daimon_error_last());
	interrupted = 0;
}

/* Ctrl-C at the prompt: leave only if the user says so. */
static int want_to_leave(void)
{
	interrupted = 0;
	fprintf(stderr, "\nLeave the chat? [y/N] ");
	char answer[16];
	if (!fgets(answer, sizeof(answer), stdin))
		return 1; /* (Ctrl-D: yes) */
	interrupted = 0;
	return answer[0] == 'y' || answer[0] == 'Y';
}

/* Handles a line; returns 0 to go on, 1 to quit. */
static int line(struct chat *c, char *text)
{
	while (*text == ' ')
		text++;
	if (!*text)
		return 0;
	if (text[0] != '/') {
		turn(c, text);
		return 0;
	}
	if (!strcmp(text, "/quit") || !strcmp(text, "/exit"))
		return 1;
	if (!strcmp(text, "/help"))
		fputs(chat_help, stdout);
	else if (!strcmp(text, "/stop"))
		printf("nothing is running\n");
	else if (!strcmp(text, "/sessions"))
		cmd_sessions(c);
	else if (!strncmp(text, "/search ", 8))
		cmd_search(c, text + 8);
	else if (!strcmp(text, "/new")) {
		summarize(c);
		char id[DAIMON_ID_MAX + 1];
		daimon_session_id_new(id, daimon_now_ms());
		snprintf(c->key, sizeof(c->key), "cli:%s", id);
		printf("new conversation %s\n", c->key);
	} else
		printf("unknown command %s (try /help)\n", text);
	return 0;
}

static int exec_chat(const struct daimon_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'},
					     {"session", required_argument, 0, 's'},
					     {"show-thinking", no_argument, 0, 'T'},
					     {0}};
	struct chat c = {0};
	snprintf(c.key, sizeof(c.key), "cli:default");
	int o, thinking = 0;
	while ((o = getopt_long(argc, argv, "hs:", opts, NULL)) != -1) {
		if (o == 'h')
			return cli_help(cmd);
		if (o == 'T')
			thinking = 1;
		else if (o == 's')
			snprintf(c.key, sizeof(c.key), "%s", optarg);
		else
			return cli_usage_error(cmd, "unknown option");
	}
	daimon_store st;
	if (cli_open(&st, NULL, 0) < 0)
		return cli_fail();
	if (cli_conversation_key(&st, c.key, sizeof(c.key)) < 0) {
		daimon_store_release(&st);
		return cli_fail();
	}
	int rc = daimon_session_opts_load(&c.opts, st.home, c.key);
	if (rc == 0 && cli_daemon_connect(&c.conn, &c.local, st.home) < 0)
		rc = -1;
	if (rc < 0) {
		daimon_store_release(&st);
		return cli_fail();
	}
	c.st = &st;
	c.tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	setlocale(LC_CTYPE, ""); /* libedit reads the terminal's encoding from it */
	cli_turn_init(&c.turn, &c.conn, 0);
	c.turn.interactive = c.tty;
	c.turn.show_thinking = thinking;
	char model[128] = "";
	if (c.local && c.tty)
		chat_model(&c.conn, model, sizeof(model));
	struct sigaction sa = {0};
	sa.sa_handler = on_sigint;
	sigaction(SIGINT, &sa, NULL);
	if (c.tty)
		printf("daimon chat (%s, %s%s) — /help for commands\n", c.key,
		       c.local ? "model " : "through the daemon", model);
	for (;;) {
		char *text = NULL;
		if (c.tty && (text = cli_turn_typed(&c.turn))) { /* typed during the last answer */
			printf("> %s\n", text);
		} else if (c.tty) {
			interrupted = 0;
			text = readline("> ");
			if (!text && interrupted) {
				if (want_to_leave())
					break;
				continue;
			}
			if (text && *text)
				add_history(text);
		} else {
			char buf[65536];
			if (fgets(buf, sizeof(buf), stdin))
				text = strdup(buf), text[strcspn(text, "\n")] = '\0';
		}
		if (!text)
			break;
		int quit = line(&c, text);
		free(text);
		if (quit)
			break;
	}
	summarize(&c);
	cli_daemon_disconnect(&c.conn, c.local);
	/* Bring the search index up to date with what was said. */
	daimon_index *ix;
	if (daimon_index_open(&ix, &st) == 0) {
		daimon_index_update(ix, NULL, NULL);
		daimon_index_close(ix);
	}
	cli_turn_release(&c.turn);
	daimon_store_release(&st);
	return rc;
}

const struct daimon_cmd daimon_cmd_chat = {
	"chat",
	"chat [--session KEY] [--show-thinking]",
	"Talk with the assistant in the terminal.",
	"Answers stream as they arrive. Ctrl-C or /stop stops the answer; lines typed\n"
	"while it streams are the next messages. Ctrl-D or /quit leaves (Ctrl-C at the\n"
	"prompt asks first). In a pipe, each line is a message and the output is plain.\n\n"
	"  -s, --session KEY   the conversation to continue (default cli:default): a key,\n"
	"                      or a session's id (or a unique prefix of it)\n"
	"      --show-thinking the model's reasoning, dimmed, before each answer\n\n"
	"Commands:\n"
	"  /new /sessions /search QUERY /stop /help /quit\n",
	exec_chat,
};
