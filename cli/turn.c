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
#include "core/config.h"
#include "core/error.h"
#include "core/jsonutil.h"
#include "sessions/skilltools.h"

static int turn_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	(void)ctx;
	struct cli_turn *t = state;
	if (m->type == DAIMON_SESSION_DELTA && m->len) {
		daimon_buf_add(&t->answer, m->data, m->len);
		if (!t->quiet) {
			fwrite(m->data, 1, m->len, stdout);
			fflush(stdout);
		}
	} else if (m->type == DAIMON_SESSION_TOOL && !t->quiet) {
		/* One line per finished tool call, beside the answer (stderr). */
		int tty = isatty(STDERR_FILENO);
		fprintf(stderr, "%s[%.*s]%s\n", tty ? "\033[2m" : "", (int)m->len, (const char *)m->data,
			tty ? "\033[0m" : "");
	} else if (m->type == DAIMON_SESSION_PROGRESS && !t->quiet) {
		int tty = isatty(STDERR_FILENO);
		fprintf(stderr, "%s[%.*s]%s\n", tty ? "\033[2m" : "", (int)m->len, (const char *)m->data,
			tty ? "\033[0m" : "");
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
	t->actor = daimon_spawn(rt, &o);
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
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 100000000L;
		if (until.tv_nsec >= 1000000000L)
			until.tv_sec++, until.tv_nsec -= 1000000000L;
		pthread_cond_timedwait(&t->cv, &t->mu, &until);
		if (t->approve_ref) { /* the user decides, here and now */
			uint64_t ref = t->approve_ref;
			char *what = t->approve_what;
			t->approve_ref = 0;
			t->approve_what = NULL;
			pthread_mutex_unlock(&t->mu);
			int allow = 0;
			if (t->interactive) {
				fprintf(stderr, "\nAllow %s? [y/N] ", what);
				char line[64];
				allow = fgets(line, sizeof(line), stdin) && (line[0] == 'y' || line[0] == 'Y');
			} else {
				fprintf(stderr, "[declined %s: it needs your approval; run it from `daimon chat`]\n", what);
			}
			daimon_session_approval a = {.ref = ref, .allow = allow};
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

void cli_skills_attach(struct cli_skills *s, const char *home, daimon_session_opts *opts)
{
	memset(s, 0, sizeof(*s));
	if (daimon_skillws_open(&s->ws, home) < 0) {
		fprintf(stderr, "daimon: skills are left out: %s\n", daimon_error_last());
		return;
	}
	daimon_skill_services_install();
	s->sk = daimon_skills_new(home);
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0)
		exe[n] = 0;
	cJSON *cfg = NULL;
	daimon_config_load(&cfg, home);
	const char *a = daimon_json_str(cJSON_GetObjectItemCaseSensitive(cfg, "skills"), "authoring");
	daimon_authoring authoring = !a || !strcmp(a, "approve") ? DAIMON_AUTHORING_APPROVE
				     : !strcmp(a, "auto")	 ? DAIMON_AUTHORING_AUTO
								 : DAIMON_AUTHORING_OFF;
	cJSON_Delete(cfg);
	s->ts = daimon_skill_toolset_new(s->ws, s->sk, n > 0 ? exe : NULL, daimon_builtin_tools, authoring);
	opts->tools = daimon_skill_toolset_tools(s->ts);
}

void cli_skills_detach(struct cli_skills *s)
{
	daimon_skill_toolset_free(s->ts);
	daimon_skills_free(s->sk);
	daimon_skillws_close(s->ws);
	memset(s, 0, sizeof(*s));
}
