/*
 * cmd-search.c — `daimon search`: full-text search over every session,
 * best hits first, as a shell user runs it: a whole process per query, so
 * start-up is part of the cost and the index is only caught up when the
 * set of sessions changed (see daimon_index_refresh).
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/error.h"
#include "core/http.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"
#include "core/work.h"
#include "memory/search.h"
#include "memory/text.h"
#include "sessions/recall.h"

static void print_json(const daimon_search_hit *h)
{
	char ts[DAIMON_TS_LEN];
	daimon_ts_format(ts, h->ts);
	daimon_buf b = DAIMON_BUF_INIT;
	daimon_buf_adds(&b, "{\"session\":");
	daimon_json_quote(&b, h->session);
	daimon_buf_addf(&b, ",\"seq\":%llu,\"ts\":\"%s\",\"role\":\"%s\",\"score\":%.4f,\"channel\":",
			(unsigned long long)h->seq, ts, daimon_role_name(h->role), h->score);
	daimon_json_quote(&b, h->channel);
	daimon_buf_adds(&b, ",\"title\":");
	daimon_json_quote(&b, h->title);
	daimon_buf_adds(&b, ",\"snippet\":");
	daimon_json_quote(&b, h->snippet);
	daimon_buf_adds(&b, "}\n");
	fwrite(b.ptr, 1, b.len, stdout);
	daimon_buf_release(&b);
}

static void print_human(const daimon_search_hit *h, int color)
{
	char when[32];
	cli_local_time(when, h->ts);
	if (color)
		printf("\033[33m%s\033[0m \033[2m#%llu  %s  %s\033[0m", h->session, (unsigned long long)h->seq, when,
		       daimon_role_name(h->role));
	else
		printf("%s #%llu  %s  %s", h->session, (unsigned long long)h->seq, when, daimon_role_name(h->role));
	if (*h->title)
		printf(color ? "  \033[2m%s\033[0m" : "  %s", h->title);
	printf("\n    %s\n", h->snippet);
}

/* ---- --summarize: each session found, summarized for the query ---- */

#define SUMMARIZE_SESSIONS 5

struct listener {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, json, color;
	const char **ids, **titles;
};

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int listener_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	(void)ctx;
	struct listener *l = state;
	if (m->type == DAIMON_MSG_JOB_DONE) {
		const daimon_job_done *d = m->data;
		const char *id = l->ids[d->ref], *title = l->titles[d->ref];
		const char *status = d->status == 0 ? "ok" : d->status == DAIMON_ETIMEDOUT ? "timed out" : "failed";
		if (l->json) {
			daimon_buf b = DAIMON_BUF_INIT;
			daimon_buf_adds(&b, "{\"session\":");
			daimon_json_quote(&b, id);
			daimon_buf_adds(&b, ",\"title\":");
			daimon_json_quote(&b, title);
			daimon_buf_addf(&b, ",\"status\":\"%s\",\"%s\":", status, d->status == 0 ? "summary" : "error");
			daimon_json_quote(&b, d->text);
			daimon_buf_adds(&b, "}\n");
			fwrite(b.ptr, 1, b.len, stdout);
			daimon_buf_release(&b);
		} else {
			printf(l->color ? "\n\033[1m%s\033[0m \033[2m(%s)\033[0m\n" : "\n== %s (%s)\n",
			       *title ? title : id, id);
			if (d->status == 0)
				printf("%s\n", d->text);
			else
				printf("(%s: %s)\n", status, d->text);
		}
		fflush(stdout);
	} else if (m->type == DAIMON_RECALL_DONE) {
		pthread_mutex_lock(&l->mu);
		l->done = 1;
		pthread_cond_signal(&l->cv);
		pthread_mutex_unlock(&l->mu);
	}
	return DAIMON_CONTINUE;
}

static const daimon_behaviour listener_b = {.name = "cli", .handle = listener_handle};

/* The sessions of the hits (first SUMMARIZE_SESSIONS, best first), each
 * summarized with respect to the query as it comes. Without a model, says
 * so: the hits above stand. */
static int summarize(daimon_store *st, const daimon_search_result *res, const char *query, int json, int color)
{
	const char *ids[SUMMARIZE_SESSIONS], *titles[SUMMARIZE_SESSIONS];
	size_t n = 0;
	for (size_t i = 0; i < res->n && n < SUMMARIZE_SESSIONS; i++) {
		size_t k = 0;
		while (k < n && strcmp(ids[k], res->hits[i].session))
			k++;
		if (k == n)
			ids[n] = res->hits[i].session, titles[n++] = res->hits[i].title;
	}
	if (!n)
		return 0;
	daimon_model_settings ms;
	if (daimon_model_settings_load(&ms, st->home) < 0) {
		fprintf(stderr, "daimon: cannot summarize (%s); the hits are above as found\n", daimon_error_last());
		return 0;
	}
	daimon_rt *rt;
	if (daimon_rt_new(&rt, NULL) < 0) {
		daimon_model_settings_release(&ms);
		return cli_fail();
	}
	struct listener l = {.json = json, .color = color, .ids = ids, .titles = titles};
	pthread_mutex_init(&l.mu, NULL);
	pthread_cond_init(&l.cv, NULL);
	daimon_spawn_opts lo = {.behaviour = &listener_b, .state = &l};
	daimon_recall_opts ro = {.store = st,
				 .http = daimon_http_start(rt, 0),
				 .cfg = &ms.llm,
				 .query = query,
				 .ids = ids,
				 .n = n,
				 .reply_to = daimon_spawn(rt, &lo)};
	if (!json && cli_tty_stderr())
		fprintf(stderr, "summarizing %zu session%s for '%s' (Ctrl-C stops)\n", n, n == 1 ? "" : "s", query);
	struct sigaction sa = {0}, old;
	sa.sa_handler = on_sigint;
	sigaction(SIGINT, &sa, &old);
	int rc = 0;
	daimon_aid fan = daimon_recall_start(rt, &ro);
	if (!fan) {
		rc = cli_fail();
	} else {
		pthread_mutex_lock(&l.mu);
		while (!l.done && !interrupted) {
			struct timespec until;
			daimon_realtime_after(&until, 1000);
			pthread_cond_timedwait(&l.cv, &l.mu, &until);
		}
		pthread_mutex_unlock(&l.mu);
		if (interrupted)
			fprintf(stderr, "daimon: stopped\n");
	}
	sigaction(SIGINT, &old, NULL);
	daimon_rt_free(rt); /* (cancels what still runs) */
	pthread_mutex_destroy(&l.mu);
	pthread_cond_destroy(&l.cv);
	daimon_model_settings_release(&ms);
	return rc;
}

static void warn_damage(void *payload, const char *msg)
{
	(void)payload;
	fprintf(stderr, "daimon: warning: %s\n", msg);
}

static int exec_search(const struct daimon_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, 0, 'h'},
		{"json", no_argument, 0, 'j'},
		{"limit", required_argument, 0, 'n'},
		{"session", required_argument, 0, 's'},
		{"role", required_argument, 0, 'r'},
		{"since", required_argument, 0, 'S'},
		{"until", required_argument, 0, 'U'},
		{"summarize", no_argument, 0, 'z'},
		{0},
	};
	daimon_search_opts o = {0};
	int json = 0, c, summarize_too = 0;
	int64_t now = daimon_now_ms();
	while ((c = getopt_long(argc, argv, "hjn:s:r:z", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'h':
			return cli_help(cmd);
		case 'j':
			json = 1;
			break;
		case 'z':
			summarize_too = 1;
			break;
		case 'n':
			o.limit = strtoul(optarg, &end, 10);
			if (*end || !o.limit || o.limit > 100000)
				return cli_usage_error(cmd, "--limit wants a number from 1 to 100000, not '%s'",
						       optarg);
			break;
		case 's':
			o.session = optarg;
			break;
		case 'r':
			if (!(o.role = daimon_role_parse(optarg)))
				return cli_usage_error(
					cmd, "unknown role '%s' (user, assistant, system, tool, summary)", optarg);
			break;
		case 'S':
		case 'U':
			if (daimon_ts_parse_user(optarg, now, c == 'S' ? &o.since : &o.until) < 0)
				return cli_usage_error(cmd,
						       "cannot read the time '%s' (use 2026-11-24, an RFC 3339 time, "
						       "or an age such as 7d or 12h)",
						       optarg);
			break;
		default:
			return cli_usage_error(cmd, "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage_error(cmd, "what should I search for?");
	daimon_buf query = DAIMON_BUF_INIT;
	for (int i = optind; i < argc; i++) {
		if (query.len)
			daimon_buf_addc(&query, ' ');
		daimon_buf_adds(&query, argv[i]);
	}
	int color = !json && cli_color_stdout();
	o.query = query.ptr;
	o.mark_open = color ? "\033[1;31m" : "**";
	o.mark_close = color ? "\033[0m" : "**";

	daimon_store st;
	daimon_index *ix = NULL;
	int rc = cli_open(&st, &ix, 1);
	if (rc != 0) {
		daimon_buf_release(&query);
		if (rc < 0)
			return cli_fail();
		if (!json)
			printf("no conversations yet (run `daimon init`, or `daimon import`)\n");
		return 0;
	}
	daimon_index_hooks hooks = {NULL, warn_damage, NULL};
	daimon_search_result res;
	char *only = NULL;
	rc = daimon_index_refresh(ix, &hooks);
	if (rc == 0 && o.session && !(only = daimon_index_resolve(ix, o.session))) /* (an id, a prefix or a key) */
		rc = -1;
	o.session = only;
	if (rc == 0)
		rc = daimon_search(ix, &o, &res);
	free(only);
	if (rc < 0) {
		rc = cli_fail();
	} else {
		if (res.plain_words)
			fprintf(stderr, "daimon: '%s' is not an FTS5 query; searched for the words %s\n", query.ptr,
				res.query_used);
		for (size_t i = 0; i < res.n; i++)
			json ? print_json(&res.hits[i]) : print_human(&res.hits[i], color);
		if (res.n == 0) {
			if (json)
				fprintf(stderr, "daimon: no matches for '%s'\n", query.ptr);
			else
				printf("no matches for '%s'\n", query.ptr);
		}
		fflush(stdout);
		if (summarize_too)
			rc = summarize(&st, &res, query.ptr, json, color);
		daimon_search_result_release(&res);
	}
	daimon_index_close(ix);
	daimon_store_release(&st);
	daimon_buf_release(&query);
	return rc;
}

const struct daimon_cmd daimon_cmd_search = {
	"search",
	"search QUERY... [--limit N] [--session ID] [--role R] [--since T] [--until T] [--summarize] [--json]",
	"Search every conversation, best matches first.",
	"QUERY is FTS5 syntax: words (all must match), \"a phrase\", prefix*, OR, NOT,\n"
	"NEAR(a b, 5). Anything that is not valid FTS5 is searched as plain words.\n\n"
	"  -n, --limit N      show at most N hits (default 20)\n"
	"  -s, --session ID   only this session: an id, a unique prefix of one, or a key\n"
	"  -r, --role R       only user, assistant, system, tool (results) or summary\n"
	"      --since T      only messages at or after T: 2026-11-24, an RFC 3339 time,\n"
	"                     or an age such as 30m, 12h, 7d, 2w\n"
	"      --until T      only messages at or before T\n"
	"  -z, --summarize    then have the model summarize each session found (the first\n"
	"                     5) with respect to the query, side by side, each printed as\n"
	"                     it is done; without a model configured, says so\n"
	"  -j, --json         one JSON object per hit per line: session, seq, ts, role,\n"
	"                     score (higher is better), channel, title, snippet (matches\n"
	"                     marked **like this**); with --summarize, then one per\n"
	"                     session: session, title, status, summary or error\n\n"
	"Finding nothing is not an error: the exit status is 0.\n",
	exec_search,
};
