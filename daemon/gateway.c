/*
 * gateway.c — the daemon's shared state and its sessions.
 *
 * Sessions are found by name in the runtime's registry (a session
 * registers its key); a key with no live actor gets one started from its
 * log under the gateway's lock, so two channels asking at once for the
 * same key cannot start two writers of one log. That makes the gateway a
 * simple_one_for_one supervisor of sessions with lazy restarts: a
 * session that crashed or was stopped is started again, from its log, by
 * the next message for it.
 *
 * The model settings a session starts with are kept for as long as the
 * gateway lives: a session holds a pointer to them, and a reload
 * (SIGHUP) only changes what sessions started after it get.
 */
#include "daemon/gateway-int.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/http.h"
#include "core/jsonutil.h"
#include "core/settings.h"
#include "core/timefmt.h"
#include "daemon/schedule.h"
#include "daemon/sessions.h"
#include "memory/usage.h"
#include "sessions/session.h"

struct daimon_gateway_skills {
	daimon_skill_env env;
	struct daimon_gateway_skills *older;
};

struct daimon_gateway_settings {
	daimon_model_settings ms;
	int have_model; /* 0: none configured; `why` says what is wrong */
	char why[256];
	struct daimon_gateway_settings *older;
};

long daimon_gateway_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static void log_problem(void *payload, const char *problem)
{
	(void)payload;
	fprintf(stderr, "daimon: %s\n", problem);
}

/* The daemon's own settings ("daemon": {"stop_timeout_s"}) and the model's. */
static int load_settings(daimon_gateway *g, struct daimon_gateway_settings **out, long *stop_timeout_ms)
{
	daimon_settings *set;
	if (daimon_settings_load(&set, g->store.home) < 0)
		return -1;
	double stop_s, budget = 0;
	int rc = daimon_settings_number(set, "daemon.stop_timeout_s", &stop_s);
	if (rc == 0)
		rc = daimon_settings_number(set, "model.daily_budget", &budget);
	if (rc == 0) /* (a bad price list is said by `daimon usage` and doctor) */
		daimon_budget_set(g->budget, budget, daimon_settings_json(set, "usage.prices"));
	/* Unknown keys and bad values, said once at start and at each reload:
	 * a bad value fails only the part that reads it. */
	if (rc == 0)
		daimon_settings_problems(set, log_problem, NULL);
	daimon_settings_free(set);
	if (rc < 0)
		return rc;
	*stop_timeout_ms = (long)(stop_s * 1000);
	struct daimon_gateway_settings *s = daimon_xcalloc(1, sizeof(*s));
	/* No model is no error for the daemon: search, memory and skills work
	 * without one, and a message gets the reason as its answer. */
	s->have_model = daimon_model_settings_load(&s->ms, g->store.home) == 0;
	if (!s->have_model)
		snprintf(s->why, sizeof(s->why), "%s", daimon_error_last());
	else if (s->ms.note)
		fprintf(stderr, "daimon: %s\n", s->ms.note);
	*out = s;
	return 0;
}

/* The daemon's housekeeping: memory that hibernated sessions and
 * finished turns gave back to malloc goes back to the system, so a daemon
 * that was busy an hour ago is small again when idle. */
static int keeper_init(daimon_ctx *ctx, void *state)
{
	(void)state;
	daimon_timer_start(ctx, 5000, 5000);
	daimon_set_state_label(ctx, "idle");
	return DAIMON_CONTINUE;
}

static int keeper_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	(void)ctx, (void)state;
	if (m->type == DAIMON_MSG_TIMER)
		malloc_trim(0);
	return DAIMON_CONTINUE;
}

static const daimon_behaviour keeper_behaviour = {.name = "housekeeper", .init = keeper_init, .handle = keeper_handle};

static int new_toolset(daimon_gateway *g);

/* A server's tools changed (listed for the first time, list_changed, back
 * after a crash): the sessions' next turns get them. */
static void mcp_changed(void *arg)
{
	daimon_gateway *g = arg;
	pthread_mutex_lock(&g->mu);
	int made = g->tools_made; /* (during start-up the first set is made once they are listed) */
	pthread_mutex_unlock(&g->mu);
	if (made)
		new_toolset(g);
}

static char *mcp_conf(const char *home)
{
	cJSON *servers = NULL;
	daimon_mcp_config(&servers, home);
	char *text = servers ? cJSON_PrintUnformatted(servers) : daimon_xstrdup("{}");
	cJSON_Delete(servers);
	return text;
}

/* The MCP servers: their tools join as each lists them (a new toolset). */
static void start_mcp(daimon_gateway *g)
{
	g->mcp_conf = mcp_conf(g->store.home);
	daimon_mcp *mcp = daimon_mcp_start(g->rt, g->store.home, NULL, g->mcp_log);
	if (!mcp)
		fprintf(stderr, "daimon: MCP servers are left out: %s\n", daimon_error_last());
	pthread_mutex_lock(&g->mu);
	g->mcp = mcp;
	pthread_mutex_unlock(&g->mu);
	daimon_mcp_on_change(mcp, mcp_changed, g);
}

/* Turns the last process died in that no channel delivers again go on
 * (their sessions say so in their logs). */
static void resume_unfinished(daimon_gateway *g)
{
	cJSON *keys = daimon_session_unfinished(g->store.home);
	for (const cJSON *k = keys->child; k; k = k->next) {
		if (daimon_channel_post(&g->channel_host, 0, 0, k->valuestring, DAIMON_SESSION_RESUME, NULL, 0) == 0)
			fprintf(stderr, "daimon: resuming the turn %s was in when daimon stopped\n", k->valuestring);
	}
	cJSON_Delete(keys);
}

static void host_state(void *g, const char *name, const char *state, const char *error)
{
	daimon_gateway_channel_state(g, name, state, error);
}

int daimon_gateway_new(daimon_gateway **out, const char *home, const daimon_gateway_opts *o)
{
	/* Few malloc arenas: the scheduler and pool threads share them, and
	 * what one frees serves the others instead of staying resident. */
	mallopt(M_ARENA_MAX, 2);
	/* Large buffers (requests, answers, histories) always come from mmap
	 * and go back whole, instead of growing the heap around long-lived
	 * small objects (glibc otherwise raises this threshold as it goes). */
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	daimon_gateway *g = daimon_xcalloc(1, sizeof(*g));
	g->started_ms = daimon_mono_ms();
	g->mcp_log = o->mcp_log;
	g->local = o->local;
	pthread_mutex_init(&g->mu, NULL);
	pthread_mutex_init(&g->tools_mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->budget = daimon_budget_new(&g->store);
	daimon_schedule_zone(home); /* (before any thread: TZ is read unlocked) */
	if (daimon_store_open(&g->store, home) < 0 || load_settings(g, &g->settings, &g->stop_timeout_ms) < 0 ||
	    daimon_rt_new(&g->rt, NULL) < 0) {
		daimon_gateway_free(g);
		return -1;
	}
	g->http = daimon_http_start(g->rt, 0);
	g->sessions = daimon_sessions_start(g);
	g->channel_host = (daimon_channel_host){.rt = g->rt,
						.store = &g->store,
						.http = g->http,
						.sessions = g->sessions,
						.state = host_state,
						.payload = g};
	g->scheduler = daimon_schedule_start(g);
	daimon_spawn_opts ko = {.behaviour = &keeper_behaviour};
	daimon_spawn(g->rt, &ko);
	start_mcp(g);
	/* The first sessions should have the servers' tools: the daemon is
	 * ready once they are listed (or failed), 15 s at most; then the
	 * first set of tools is made, once. */
	if (g->mcp && !daimon_mcp_wait(g->mcp, 15000))
		fprintf(stderr,
			"daimon: some MCP servers did not list their tools within 15 s; they join when they do\n");
	pthread_mutex_lock(&g->mu);
	g->tools_made = 1; /* (a list that comes from now on makes a set after this one) */
	pthread_mutex_unlock(&g->mu);
	if (new_toolset(g) < 0)
		fprintf(stderr, "daimon: skills are left out: %s\n", daimon_error_last());
	if (o->resume)
		resume_unfinished(g);
	*out = g;
	return 0;
}

void daimon_gateway_free(daimon_gateway *g)
{
	if (!g)
		return;
	daimon_mcp_stop(g->mcp);
	g->mcp = NULL;
	free(g->mcp_conf);
	g->mcp_conf = NULL;
	if (g->rt)
		daimon_rt_free(g->rt);
	g->rt = NULL;
	for (struct daimon_gateway_skills *k = g->skills, *older; k; k = older) {
		older = k->older;
		daimon_skill_env_close(&k->env);
		free(k);
	}
	g->skills = NULL;
	struct daimon_gateway_settings *s = g->settings, *next;
	for (; s; s = next) {
		next = s->older;
		if (s->have_model)
			daimon_model_settings_release(&s->ms);
		free(s);
	}
	g->settings = NULL;
	daimon_store_release(&g->store);
	daimon_budget_free(g->budget);
	pthread_mutex_destroy(&g->mu);
	pthread_mutex_destroy(&g->tools_mu);
	pthread_cond_destroy(&g->cv);
	free(g);
}

const char *daimon_gateway_home(const daimon_gateway *g)
{
	return g->store.home;
}

const daimon_channel_host *daimon_gateway_channel_host(const daimon_gateway *g)
{
	return &g->channel_host;
}

void daimon_gateway_ready(daimon_gateway *g, int64_t ms)
{
	g->ready_ms = ms;
}

const daimon_llm_config *daimon_gateway_llm(daimon_gateway *g, char *why, size_t size)
{
	pthread_mutex_lock(&g->mu);
	const daimon_llm_config *cfg = g->settings->have_model && !g->stopping ? &g->settings->ms.llm : NULL;
	snprintf(why, size, "%s", g->stopping ? "the daemon is stopping" : g->settings->why);
	pthread_mutex_unlock(&g->mu);
	return cfg;
}

void daimon_gateway_model_json(daimon_gateway *g, cJSON *o)
{
	pthread_mutex_lock(&g->mu);
	const daimon_model_settings *ms = &g->settings->ms;
	if (g->settings->have_model) {
		cJSON_AddStringToObject(o, "model", ms->model);
		cJSON_AddStringToObject(o, "model_from", ms->model_from);
		cJSON_AddStringToObject(o, "provider", ms->provider);
		cJSON_AddStringToObject(o, "base_url", ms->base_url);
		cJSON_AddStringToObject(o, "base_url_from", ms->base_url_from);
		if (ms->key_from) /* (which variable: never the key) */
			cJSON_AddStringToObject(o, "key_from", ms->key_from);
	} else {
		cJSON_AddStringToObject(o, "model_error", g->settings->why);
	}
	pthread_mutex_unlock(&g->mu);
}

void daimon_gateway_session_counts(daimon_gateway *g, size_t *live, size_t *hibernated, size_t *busy)
{
	long all = atomic_load(&g->sessions_live), asleep = atomic_load(&g->sessions_asleep);
	*live = (size_t)(all - asleep);
	*hibernated = (size_t)asleep;
	*busy = (size_t)atomic_load(&g->sessions_busy);
}

int daimon_gateway_skills_changed(daimon_gateway *g)
{
	pthread_mutex_lock(&g->mu);
	struct daimon_gateway_skills *cur = g->skills;
	pthread_mutex_unlock(&g->mu);
	int added = 0;
	int n = cur && cur->env.ts ? daimon_skill_toolset_refresh(cur->env.ts, g->rt, &added) : 0;
	if (n < 0 || (!added && cur && cur->env.ts))
		return n;
	return new_toolset(g) < 0 ? -1 : n + 1;
}

/* A new set of tools: sessions take it as their next turn starts (the
 * sets before stay: a turn in progress holds its own). */
static int new_toolset(daimon_gateway *g)
{
	/* (one at a time: a set made from an older list never replaces a newer one) */
	pthread_mutex_lock(&g->tools_mu);
	struct daimon_gateway_skills *k = daimon_xcalloc(1, sizeof(*k));
	const daimon_tool *tools = NULL;
	pthread_mutex_lock(&g->mu);
	daimon_mcp *mcp = g->mcp;
	pthread_mutex_unlock(&g->mu);
	int rc = daimon_skill_env_open(&k->env, g->store.home, mcp, &tools);
	if (rc < 0) {
		free(k);
	} else {
		pthread_mutex_lock(&g->mu);
		k->older = g->skills;
		g->skills = k;
		atomic_store(&g->tools, tools); /* each session's next turn takes it */
		pthread_mutex_unlock(&g->mu);
	}
	pthread_mutex_unlock(&g->tools_mu);
	return rc;
}

int daimon_gateway_reload(daimon_gateway *g)
{
	struct daimon_gateway_settings *s;
	long stop_timeout_ms;
	if (load_settings(g, &s, &stop_timeout_ms) < 0)
		return -1;
	pthread_mutex_lock(&g->mu);
	s->older = g->settings;
	g->settings = s;
	g->stop_timeout_ms = stop_timeout_ms;
	pthread_mutex_unlock(&g->mu);
	char *conf = mcp_conf(g->store.home);
	if (strcmp(conf, g->mcp_conf ? g->mcp_conf : "")) { /* servers added, removed or changed */
		daimon_mcp *old = g->mcp;
		pthread_mutex_lock(&g->mu);
		g->mcp = NULL;
		pthread_mutex_unlock(&g->mu);
		daimon_mcp_stop(old);
		free(g->mcp_conf);
		start_mcp(g);
		new_toolset(g);
	}
	free(conf);
	/* Idle sessions go: their next message starts them with what is new.
	 * A session in a turn keeps what it has until it idles. */
	daimon_send(g->rt, g->sessions, DAIMON_SESSIONS_RELOAD, NULL, 0);
	if (g->scheduler)
		daimon_send(g->rt, g->scheduler, DAIMON_SCHEDULE_RELOAD, NULL, 0);
	return 0;
}

void daimon_gateway_request_stop(daimon_gateway *g)
{
	pthread_mutex_lock(&g->mu);
	g->stopping = 1;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

void daimon_gateway_wait_stop(daimon_gateway *g)
{
	pthread_mutex_lock(&g->mu);
	while (!g->stopping)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

void daimon_gateway_drain(daimon_gateway *g)
{
	int64_t until = daimon_mono_ms() + g->stop_timeout_ms;
	struct timespec ts = {0, 20 * 1000000L};
	/* no job starts a turn from now on (one in flight runs again after the
	 * restart: its record says it started) */
	if (g->scheduler)
		daimon_cancel(g->rt, g->scheduler, 1000);
	while (atomic_load(&g->sessions_busy) > 0 && daimon_mono_ms() < until)
		nanosleep(&ts, NULL);
	/* a running turn is logged as cancelled; then each has its deadline
	 * to commit and exit */
	daimon_send(g->rt, g->sessions, DAIMON_SESSIONS_CANCEL, NULL, 0);
	for (int i = 0; i < 150 && atomic_load(&g->sessions_live) > 0; i++)
		nanosleep(&ts, NULL);
}

void daimon_gateway_channel_state(daimon_gateway *g, const char *name, const char *state, const char *error)
{
	pthread_mutex_lock(&g->mu);
	daimon_channel_status *c = NULL;
	for (int i = 0; i < g->nchannels; i++)
		if (!strcmp(g->channels[i].name, name))
			c = &g->channels[i];
	if (!c && g->nchannels < DAIMON_GATEWAY_CHANNELS) {
		c = &g->channels[g->nchannels++];
		snprintf(c->name, sizeof(c->name), "%s", name);
	}
	if (c) {
		if (!strcmp(state, "starting") && c->state[0] && strcmp(c->state, "starting"))
			c->restarts++;
		snprintf(c->state, sizeof(c->state), "%s", state);
		if (error)
			snprintf(c->error, sizeof(c->error), "%s", error);
	}
	pthread_mutex_unlock(&g->mu);
}
