/*
 * turn.c — the CLI's side of a session turn (ask, chat): an actor that
 * prints the answer as it streams, keeps it, and hands the outcome to the
 * thread waiting in cli_turn_run. That thread turns an interrupt flag
 * (Ctrl-C) into a stop request to the session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"

/* The answer's text as it streams (stdout), and a line on a tool call
 * or its progress (stderr, dimmed on a terminal). */
static void show_delta(struct cli_turn *t, const char *text, size_t len)
{
	daimon_buf_add(&t->answer, text, len);
	if (!t->quiet) {
		fwrite(text, 1, len, stdout);
		fflush(stdout);
	}
}

static void show_line(struct cli_turn *t, const char *text, size_t len)
{
	if (t->quiet)
		return;
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

static int turn_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	(void)ctx;
	struct cli_turn *t = state;
	if (m->type == DAIMON_SESSION_DELTA && m->len) {
		show_delta(t, m->data, m->len);
	} else if (m->type == DAIMON_SESSION_TOOL || m->type == DAIMON_SESSION_PROGRESS) {
		show_line(t, m->data, m->len);
	} else if (m->type == DAIMON_SESSION_APPROVE && m->len >= sizeof(daimon_session_approval)) {
		const daimon_session_approval *a = m->data;
		pthread_mutex_lock(&t->mu);
		free(t->approve_what);
		t->approve_what = daimon_xstrdup(a->what);
		t->approve_ref = a->ref;
		pthread_cond_signal(&t->cv);
		pthread_mutex_unlock(&t->mu);
	} else if (m->type == DAIMON_SESSION_DONE) {
		pthread_mutex_lock(&t->mu);
		memcpy(&t->done, m->data, sizeof(t->done));
		t->finished = 1;
		pthread_cond_signal(&t->cv);
		pthread_mutex_unlock(&t->mu);
	}
	return DAIMON_CONTINUE;
}

static const daimon_behaviour turn_b = {.name = "cli", .handle = turn_handle};

void cli_turn_init(struct cli_turn *t, daimon_rt *rt, int quiet)
{
	memset(t, 0, sizeof(*t));
	t->quiet = quiet;
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	daimon_spawn_opts o = {.behaviour = &turn_b, .state = t};
	t->actor = rt ? daimon_spawn(rt, &o) : 0; /* no runtime: a turn through the daemon */
}

void cli_turn_release(struct cli_turn *t)
{
	free(t->approve_what);
	daimon_buf_release(&t->answer);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
}

/* Sends `type` to the session from the listener and waits for its done;
 * an interrupt (Ctrl-C) becomes a stop request, or — with `give_up` —
 * ends the wait. */
static void request(struct cli_turn *t, daimon_rt *rt, daimon_aid session, int type, const char *text,
		    volatile sig_atomic_t *interrupt, int give_up)
{
	pthread_mutex_lock(&t->mu);
	t->finished = 0;
	daimon_buf_clear(&t->answer);
	pthread_mutex_unlock(&t->mu);
	/* Sent "from" the listener, so the answer goes to it. */
	daimon_send_from(rt, t->actor, session, type, text, text ? strlen(text) : 0);
	int stopped = 0;
	pthread_mutex_lock(&t->mu);
	while (!t->finished) {
		struct timespec until;
		daimon_realtime_after(&until, 100);
		pthread_cond_timedwait(&t->cv, &t->mu, &until);
		if (t->approve_ref) { /* the user decides, here and now */
			uint64_t ref = t->approve_ref;
			char *what = t->approve_what;
			t->approve_ref = 0;
			t->approve_what = NULL;
			pthread_mutex_unlock(&t->mu);
			daimon_session_approval a = {.ref = ref, .allow = ask_user(t, what)};
			daimon_send_from(rt, t->actor, session, DAIMON_SESSION_APPROVAL, &a, sizeof(a));
			free(what);
			pthread_mutex_lock(&t->mu);
		}
		if (interrupt && *interrupt && give_up)
			break;
		if (interrupt && *interrupt && !stopped) {
			stopped = 1;
			daimon_send(rt, session, DAIMON_SESSION_STOP, NULL, 0);
		}
	}
	pthread_mutex_unlock(&t->mu);
}

void cli_turn_run(struct cli_turn *t, daimon_rt *rt, daimon_aid session, const char *text,
		  volatile sig_atomic_t *interrupt)
{
	request(t, rt, session, DAIMON_SESSION_ASK, text, interrupt, 0);
	if (!t->quiet && t->answer.len && t->answer.ptr[t->answer.len - 1] != '\n')
		putchar('\n');
}

void cli_turn_summarize(struct cli_turn *t, daimon_rt *rt, daimon_aid session, volatile sig_atomic_t *interrupt)
{
	request(t, rt, session, DAIMON_SESSION_SUMMARIZE, NULL, interrupt, 1);
}

daimon_mcp *cli_skills_attach(daimon_skill_env *s, const char *home, daimon_session_opts *opts, daimon_rt *rt)
{
	daimon_mcp *mcp = daimon_mcp_start(rt, home, NULL, cli_mcp_log(home));
	if (!mcp)
		fprintf(stderr, "daimon: MCP servers are left out: %s\n", daimon_error_last());
	else if (!daimon_mcp_wait(mcp, 15000))
		fprintf(stderr, "daimon: some MCP servers did not list their tools within 15 s\n");
	if (daimon_skill_env_open(s, home, mcp, &opts->tools) < 0)
		fprintf(stderr, "daimon: skills are left out: %s\n", daimon_error_last());
	return mcp;
}

void cli_turn_remote(struct cli_turn *t, struct cli_conn *c, const char *key, const char *text,
		     volatile sig_atomic_t *interrupt)
{
	daimon_buf_clear(&t->answer);
	memset(&t->done, 0, sizeof(t->done));
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", "ask");
	cJSON_AddStringToObject(req, "session", key);
	cJSON_AddStringToObject(req, "text", text);
	int rc = cli_daemon_send(c, req);
	cJSON_Delete(req);
	int stopped = 0;
	while (rc >= 0) {
		cJSON *e = NULL;
		rc = cli_daemon_recv(c, &e, 100);
		if (interrupt && *interrupt && !stopped) {
			stopped = 1;
			cJSON *r = cJSON_CreateObject();
			cJSON_AddStringToObject(r, "op", "cancel");
			cli_daemon_send(c, r);
			cJSON_Delete(r);
		}
		if (rc <= 0)
			continue;
		const char *ev = daimon_json_str(e, "event"), *s = daimon_json_str(e, "text");
		if (!ev) {
			ev = "done"; /* a refused request */
		}
		if (!strcmp(ev, "delta") && s) {
			show_delta(t, s, strlen(s));
		} else if ((!strcmp(ev, "tool") || !strcmp(ev, "progress")) && s) {
			show_line(t, s, strlen(s));
		} else if (!strcmp(ev, "approve")) {
			cJSON *r = cJSON_CreateObject();
			cJSON_AddStringToObject(r, "op", "approval");
			cJSON_AddItemToObject(r, "ref", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(e, "ref"), 1));
			const char *what = daimon_json_str(e, "what");
			cJSON_AddBoolToObject(r, "allow", ask_user(t, what ? what : "a tool call"));
			cli_daemon_send(c, r);
			cJSON_Delete(r);
		} else if (!strcmp(ev, "done")) {
			const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "status");
			t->done.status = cJSON_IsNumber(st) ? st->valueint : -1;
			snprintf(t->done.error, sizeof(t->done.error), "%s",
				 daimon_json_str(e, "error") ? daimon_json_str(e, "error") : "");
			snprintf(t->done.session, sizeof(t->done.session), "%s",
				 daimon_json_str(e, "session") ? daimon_json_str(e, "session") : "");
			t->done.tokens_in =
				(int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "tokens_in"));
			t->done.tokens_out =
				(int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "tokens_out"));
			cJSON_Delete(e);
			break;
		}
		cJSON_Delete(e);
	}
	if (rc < 0) {
		t->done.status = -1;
		snprintf(t->done.error, sizeof(t->done.error), "%s", daimon_error_last());
	}
	if (!t->quiet && t->answer.len && t->answer.ptr[t->answer.len - 1] != '\n')
		putchar('\n');
}

int cli_summarize_remote(struct cli_conn *c, const char *key)
{
	cJSON *req = cJSON_CreateObject(), *reply = NULL;
	cJSON_AddStringToObject(req, "op", "summarize");
	cJSON_AddStringToObject(req, "session", key);
	int rc = cli_daemon_request(c, req, &reply);
	cJSON_Delete(req);
	cJSON_Delete(reply);
	return rc;
}
