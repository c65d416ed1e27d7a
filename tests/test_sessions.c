/*
 * test_sessions.c — the daemon's table of conversations (daemon/
 * sessions.c): requests that race for one key start one session and are
 * all answered; a log that cannot be opened is the requests' answer, not
 * a crash; a session that exits is started again by the next request; a
 * reload stops an idle session so the next one starts with what is new;
 * and the counters `status` reads follow. No model is called: a summary
 * of an empty conversation answers at once.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channels/channels.h"
#include "core/error.h"
#include "daemon/gateway.h"
#include "sessions/listen.h"
#include "tests/test.h"

/* A client: posts one summary request and keeps what it hears. */
struct client {
	daimon_gateway *g;
	const char *key;
	pthread_mutex_t mu;
	daimon_aid session; /* from the OPENED */
	int opened, done, status;
	int wrong; /* an OPENED with another ref, or after the reply */
	char error[256];
};

static void heard_done(void *arg, const daimon_session_done *d)
{
	struct client *c = arg;
	c->done = 1;
	c->status = d->status;
	snprintf(c->error, sizeof(c->error), "%s", d->error);
}

static const daimon_session_listener client_listener = {.done = heard_done};

static int client_init(daimon_ctx *ctx, void *state)
{
	struct client *c = state;
	daimon_channel_post(daimon_gateway_channel_host(c->g), daimon_self(ctx), 7, c->key, DAIMON_SESSION_SUMMARIZE,
			    NULL, 0);
	return DAIMON_CONTINUE;
}

static int client_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct client *c = state;
	pthread_mutex_lock(&c->mu);
	if (m->type == DAIMON_CHANNEL_OPENED) {
		const daimon_channel_opened *o = m->data;
		c->wrong += o->ref != 7 || c->done; /* (the OPENED comes before the session's reply) */
		c->opened = 1;
		c->session = o->session;
		if (!o->session)
			snprintf(c->error, sizeof(c->error), "%s", o->error);
	} else if (m->from == c->session) {
		daimon_session_hear(ctx, m, &client_listener, c);
	}
	pthread_mutex_unlock(&c->mu);
	return DAIMON_CONTINUE;
}

static const daimon_behaviour client_behaviour = {.name = "client", .init = client_init, .handle = client_handle};

static void client_start(struct client *c, daimon_gateway *g, const char *key)
{
	memset(c, 0, sizeof(*c));
	c->g = g;
	c->key = key;
	pthread_mutex_init(&c->mu, NULL);
	daimon_spawn_opts o = {.behaviour = &client_behaviour, .state = c};
	CHECK(daimon_spawn(daimon_gateway_channel_host(g)->rt, &o) != 0);
}

static int client_finished(struct client *c)
{
	pthread_mutex_lock(&c->mu);
	int f = c->opened && (c->done || !c->session);
	pthread_mutex_unlock(&c->mu);
	return f;
}

static daimon_gateway *gateway_up(void)
{
	setenv("DAIMON_MODEL", "m", 1);
	setenv("DAIMON_BASE_URL", "http://127.0.0.1:1", 1); /* never called */
	daimon_gateway_opts o = {0};
	daimon_gateway *g = NULL;
	if (daimon_gateway_new(&g, test_tmpdir(), &o) < 0)
		abort();
	return g;
}

/* The sessions it counts, awake or hibernated. */
static size_t live(daimon_gateway *g)
{
	size_t awake, asleep, busy;
	daimon_gateway_session_counts(g, &awake, &asleep, &busy);
	return awake + asleep;
}

static void test_sessions__racing_requests_start_one_session(void)
{
	daimon_gateway *g = gateway_up();
	daimon_rt *rt = daimon_gateway_channel_host(g)->rt;
	enum { N = 16 };
	static struct client c[N];
	for (int i = 0; i < N; i++)
		client_start(&c[i], g, "cli:race");
	for (int i = 0; i < N; i++)
		EVENTUALLY(client_finished(&c[i]));
	for (int i = 0; i < N; i++) {
		CHECK_INT(c[i].wrong, 0);
		CHECK(c[i].session != 0);
		CHECK_INT(c[i].session, c[0].session);
		CHECK_INT(c[i].status, 0);
		CHECK_STR(c[i].error, "nothing new to summarize");
	}
	CHECK_INT(live(g), 1);
	CHECK_INT(daimon_whereis(rt, "cli:race"), c[0].session);
	daimon_gateway_drain(g);
	CHECK_INT(live(g), 0);
	daimon_gateway_free(g);
	for (int i = 0; i < N; i++)
		pthread_mutex_destroy(&c[i].mu);
}

static void test_sessions__a_log_that_cannot_open_is_the_answer(void)
{
	daimon_gateway *g = gateway_up();
	char id[DAIMON_ID_MAX + 1];
	daimon_session_id_for_key(id, "cli:bad");
	char *path = daimon_store_log_path(daimon_gateway_channel_host(g)->store, id);
	CHECK_INT(mkdir(path, 0700), 0); /* a folder where its log should be */
	free(path);
	struct client c, d;
	client_start(&c, g, "cli:bad");
	EVENTUALLY(client_finished(&c));
	CHECK_INT(c.session, 0);
	CHECK(c.error[0] != 0);
	CHECK_INT(live(g), 0);
	/* the table kept nothing: the next request tries again, and others work */
	client_start(&d, g, "cli:good");
	EVENTUALLY(client_finished(&d));
	CHECK(d.session != 0);
	CHECK_INT(d.status, 0);
	daimon_gateway_drain(g);
	daimon_gateway_free(g);
	pthread_mutex_destroy(&c.mu);
	pthread_mutex_destroy(&d.mu);
}

static void test_sessions__a_session_that_exits_is_started_again(void)
{
	daimon_gateway *g = gateway_up();
	daimon_rt *rt = daimon_gateway_channel_host(g)->rt;
	struct client a, b, c;
	client_start(&a, g, "cli:again");
	EVENTUALLY(client_finished(&a));
	CHECK(a.session != 0);
	daimon_kill(rt, a.session); /* as a crash would */
	EVENTUALLY(live(g) == 0);
	client_start(&b, g, "cli:again");
	EVENTUALLY(client_finished(&b));
	CHECK(b.session != 0 && b.session != a.session);
	CHECK_INT(b.status, 0);
	/* a reload: the idle session goes, and the next request gets a new one */
	CHECK_INT(daimon_gateway_reload(g), 0);
	EVENTUALLY(live(g) == 0);
	client_start(&c, g, "cli:again");
	EVENTUALLY(client_finished(&c));
	CHECK(c.session != 0 && c.session != b.session);
	CHECK_INT(live(g), 1);
	daimon_gateway_drain(g);
	daimon_gateway_free(g);
	pthread_mutex_destroy(&a.mu);
	pthread_mutex_destroy(&b.mu);
	pthread_mutex_destroy(&c.mu);
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		TEST_CASE(test_sessions__racing_requests_start_one_session),
		TEST_CASE(test_sessions__a_log_that_cannot_open_is_the_answer),
		TEST_CASE(test_sessions__a_session_that_exits_is_started_again),
		{0},
	};
	return test_main(argc, argv, cases);
}
