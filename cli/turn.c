/*
 * turn.c — the command line's side of a session turn (ask, chat): the
 * request to the daemon (the running one, or the command's own), the
 * session's events heard from its lines (sessions/listen.h) — the answer
 * printed as it streams and kept, a line on each tool call, the user
 * asked about a call that needs approval — and Ctrl-C or a typed /stop
 * turned into a cancel.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "channels/markdown.h"
#include "cli/cli.h"
#include "core/error.h"
#include "core/jsonutil.h"
#include "sessions/listen.h"

/* The answer's text as it streams (stdout), and a line on a tool call
 * or its progress (stderr, dimmed on a terminal). */
/* The reasoning shown so far ends on a line of its own. */
static void end_thinking(struct cli_turn *t)
{
	if (t->thinking_shown && t->thinking.ptr[t->thinking.len - 1] != '\n')
		fputc('\n', stderr);
	t->thinking_shown = 0;
}

/* On a terminal the answer is markdown laid out (markdown.h): each block
 * once it is whole — up to a blank line outside a code fence — so it
 * still comes as it streams. Elsewhere it is printed as it came. */
static void show_blocks(struct cli_turn *t, int all)
{
	size_t end = t->shown, at = t->shown;
	int fence = 0; /* (`shown` is always at a block's start, outside any fence) */
	while (!all && at < t->answer.len) {
		const char *nl = memchr(t->answer.ptr + at, '\n', t->answer.len - at);
		if (!nl)
			break;
		const char *line = t->answer.ptr + at;
		size_t n = (size_t)(nl - line);
		while (n && (*line == ' ' || *line == '\t'))
			line++, n--;
		if (n >= 3 && (!strncmp(line, "```", 3) || !strncmp(line, "~~~", 3)))
			fence = !fence;
		else if (!n && !fence)
			end = (size_t)(nl + 1 - t->answer.ptr);
		at = (size_t)(nl + 1 - t->answer.ptr);
	}
	if (all)
		end = t->answer.len;
	if (end <= t->shown)
		return;
	char *out = daimon_md_terminal(t->answer.ptr + t->shown, end - t->shown, cli_color_stdout());
	if (*out)
		printf("%s%s%s", t->blocks ? "\n" : "", out, all ? "" : "\n");
	t->blocks += *out != 0;
	free(out);
	t->shown = end;
}

static void heard_delta(void *arg, const char *text, size_t len)
{
	struct cli_turn *t = arg;
	end_thinking(t);
	daimon_buf_add(&t->answer, text, len);
	if (t->quiet)
		return;
	if (t->render)
		show_blocks(t, 0);
	else
		fwrite(text, 1, len, stdout);
	fflush(stdout);
}

/* The model's reasoning: kept, and shown (stderr, dimmed) when asked. */
static void heard_thinking(void *arg, const char *text, size_t len)
{
	struct cli_turn *t = arg;
	daimon_buf_add(&t->thinking, text, len);
	if (t->quiet || !t->show_thinking)
		return;
	int tty = isatty(STDERR_FILENO);
	fprintf(stderr, "%s%.*s%s", tty ? "\033[2m" : "", (int)len, text, tty ? "\033[0m" : "");
	fflush(stderr);
	t->thinking_shown = len > 0;
}

static void heard_tool(void *arg, const char *text, size_t len)
{
	struct cli_turn *t = arg;
	if (t->quiet)
		return;
	end_thinking(t);
	int tty = isatty(STDERR_FILENO);
	fprintf(stderr, "%s[%.*s]%s\n", tty ? "\033[2m" : "", (int)len, text, tty ? "\033[0m" : "");
}

/* Asks the user about a tool call that needs approval (on a terminal;
 * declined, saying why, otherwise). */
static int ask_user(struct cli_turn *t, const char *what)
{
	if (!t->interactive) {
		fprintf(stderr, "[declined %s: it needs your approval; run it from `daimon chat`]\n", what);
		return 0;
	}
	fprintf(stderr, "\nAllow %s? [y/N] ", what);
	char line[64];
	return fgets(line, sizeof(line), stdin) && (line[0] == 'y' || line[0] == 'Y');
}

static void heard_approve(void *arg, uint64_t ref, const char *what)
{
	struct cli_turn *t = arg;
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "op", "approval");
	cJSON_AddNumberToObject(r, "ref", (double)ref);
	cJSON_AddBoolToObject(r, "allow", ask_user(t, what));
	cli_daemon_send(t->conn, r);
	cJSON_Delete(r);
}

static void heard_done(void *arg, const daimon_session_done *d)
{
	struct cli_turn *t = arg;
	t->done = *d;
	t->finished = 1;
}

static const daimon_session_listener turn_listener = {
	.delta = heard_delta,
	.thinking = heard_thinking,
	.tool = heard_tool,
	.progress = heard_tool,
	.approve = heard_approve,
	.done = heard_done,
};

void cli_turn_init(struct cli_turn *t, struct cli_conn *conn, int quiet)
{
	memset(t, 0, sizeof(*t));
	t->conn = conn;
	t->quiet = quiet;
	t->render = !quiet && isatty(STDOUT_FILENO);
}

void cli_turn_release(struct cli_turn *t)
{
	daimon_buf_release(&t->answer);
	daimon_buf_release(&t->thinking);
	daimon_buf_release(&t->typed);
	daimon_buf_release(&t->partial);
}

char *cli_turn_typed(struct cli_turn *t)
{
	const char *nl = t->typed.len ? memchr(t->typed.ptr, '\n', t->typed.len) : NULL;
	if (!nl)
		return NULL;
	size_t n = (size_t)(nl - t->typed.ptr);
	char *line = daimon_xstrndup(t->typed.ptr, n);
	memmove(t->typed.ptr, nl + 1, t->typed.len - n - 1);
	t->typed.len -= n + 1;
	return line;
}

/* What the user typed while the answer streams: 1 when it was /stop. */
static int typed_stop(struct cli_turn *t)
{
	struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
	char buf[4096];
	ssize_t n;
	int stop = 0;
	while (poll(&p, 1, 0) == 1 && (p.revents & POLLIN) && (n = read(STDIN_FILENO, buf, sizeof(buf))) > 0) {
		daimon_buf_add(&t->partial, buf, (size_t)n);
		char *nl;
		while (t->partial.len && (nl = memchr(t->partial.ptr, '\n', t->partial.len))) {
			size_t len = (size_t)(nl - t->partial.ptr);
			const char *line = t->partial.ptr;
			while (len && (*line == ' ' || *line == '\t'))
				line++, len--;
			if (len == 5 && !memcmp(line, "/stop", 5))
				stop = 1;
			else if (len) /* (the next message, once this answer is done) */
				daimon_buf_add(&t->typed, line, len), daimon_buf_addc(&t->typed, '\n');
			size_t used = (size_t)(nl + 1 - t->partial.ptr);
			memmove(t->partial.ptr, nl + 1, t->partial.len - used);
			t->partial.len -= used;
		}
		p.revents = 0;
	}
	return stop;
}

void cli_turn_ask(struct cli_turn *t, const char *key, const char *text, volatile sig_atomic_t *interrupt)
{
	daimon_buf_clear(&t->answer);
	daimon_buf_clear(&t->thinking);
	memset(&t->done, 0, sizeof(t->done));
	t->finished = 0;
	t->shown = 0;
	t->blocks = 0;
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", "ask");
	cJSON_AddStringToObject(req, "session", key);
	cJSON_AddStringToObject(req, "text", text);
	int rc = cli_daemon_send(t->conn, req);
	cJSON_Delete(req);
	/* On a terminal, what is typed meanwhile is read, not echoed into
	 * the answer: a /stop stops it, the rest waits its turn. */
	struct termios tio, quiet;
	int watch = t->interactive && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &tio) == 0;
	if (watch) {
		quiet = tio;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
	}
	int stopped = 0;
	while (rc >= 0 && !t->finished) {
		cJSON *e = NULL;
		rc = cli_daemon_recv(t->conn, &e, 100);
		if (watch && !stopped && typed_stop(t) && interrupt)
			*interrupt = 1;
		if (interrupt && *interrupt && !stopped) {
			stopped = 1;
			cJSON *r = cJSON_CreateObject();
			cJSON_AddStringToObject(r, "op", "cancel");
			cli_daemon_send(t->conn, r);
			cJSON_Delete(r);
		}
		if (rc > 0)
			daimon_session_hear_json(e, &turn_listener, t);
		cJSON_Delete(e);
	}
	if (watch) {
		typed_stop(t); /* (a /stop that came too late stops nothing) */
		tcsetattr(STDIN_FILENO, TCSANOW, &tio);
	}
	if (rc < 0) {
		t->done.status = -1;
		snprintf(t->done.error, sizeof(t->done.error), "%s", daimon_error_last());
	}
	end_thinking(t);
	if (t->render)
		show_blocks(t, 1);
	if (!t->quiet && t->answer.len && (t->render || t->answer.ptr[t->answer.len - 1] != '\n'))
		putchar('\n');
	fflush(stdout);
}

int cli_turn_summarize(struct cli_conn *c, const char *key, int wait)
{
	cJSON *req = cJSON_CreateObject(), *reply = NULL;
	cJSON_AddStringToObject(req, "op", "summarize");
	cJSON_AddStringToObject(req, "session", key);
	int rc = wait ? cli_daemon_request(c, req, &reply) : cli_daemon_send(c, req);
	cJSON_Delete(req);
	cJSON_Delete(reply);
	return rc;
}
