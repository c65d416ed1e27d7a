/*
 * recall.c — see recall.h.
 */
#include "sessions/recall.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fanout.h"
#include "core/llm_call.h"
#include "core/work.h"
#include "sessions/compact.h"
#include "sessions/session.h"

static const char recall_system[] =
	"You help the user recall a past conversation. Given the conversation and what the user searched for, say "
	"in two to four sentences what the conversation says about it: facts, decisions, outcomes. Keep names and "
	"numbers exact. If it says nothing relevant, say so in one sentence.";

struct recall {
	daimon_aid http, reply_to;
	const daimon_llm_config *cfg;
	cJSON **messages; /* per session: the transcript and the question */
	size_t n;
	long timeout_ms;
};

static daimon_aid start_one(daimon_ctx *ctx, size_t i, void *arg)
{
	struct recall *r = arg;
	return daimon_llm_call_spawn(ctx, r->http, r->cfg, recall_system, r->messages[i], i, r->timeout_ms + 1000);
}

static void one_done(daimon_ctx *ctx, size_t i, const daimon_fanout_result *res, void *arg)
{
	struct recall *r = arg;
	daimon_job_reply(daimon_ctx_rt(ctx), 0, r->reply_to, i, res->status, res->text, strlen(res->text));
}

static void all_done(daimon_ctx *ctx, const daimon_fanout_result *res, size_t n, void *arg)
{
	(void)res, (void)n;
	struct recall *r = arg;
	daimon_send(daimon_ctx_rt(ctx), r->reply_to, DAIMON_RECALL_DONE, NULL, 0);
}

static void recall_free(void *arg)
{
	struct recall *r = arg;
	for (size_t i = 0; i < r->n; i++)
		cJSON_Delete(r->messages[i]);
	free(r->messages);
	free(r);
}

daimon_aid daimon_recall_start(daimon_rt *rt, const daimon_recall_opts *o)
{
	struct recall *r = daimon_xcalloc(1, sizeof(*r));
	r->http = o->http;
	r->reply_to = o->reply_to;
	r->cfg = o->cfg;
	r->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 60000;
	r->messages = daimon_xcalloc(o->n + 1, sizeof(cJSON *));
	char *ask =
		daimon_xasprintf("The user searched for: %s\nWhat does the conversation above say about it?", o->query);
	for (; r->n < o->n; r->n++) {
		cJSON *history = cJSON_CreateArray();
		char *path = daimon_store_log_path(o->store, o->ids[r->n]);
		int rc = daimon_history_load(path, history, NULL);
		free(path);
		if (rc < 0) {
			cJSON_Delete(history);
			free(ask);
			recall_free(r);
			return 0;
		}
		r->messages[r->n] = daimon_transcript(history, 0, cJSON_GetArraySize(history) - 1, ask);
		cJSON_Delete(history);
	}
	free(ask);
	daimon_fanout_opts fo = {.n = r->n,
				 .max_parallel = o->max_parallel,
				 .timeout_ms = r->timeout_ms,
				 .start = start_one,
				 .item = one_done,
				 .finish = all_done,
				 .free_arg = recall_free,
				 .arg = r};
	return daimon_fanout_spawn(rt, &fo, 0);
}
