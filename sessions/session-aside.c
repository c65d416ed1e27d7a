/*
 * session-aside.c — the model asked on the side, one call at a time:
 * context compression (past the threshold the middle of the history is
 * summarized and logged as a compaction record; compact.h has the data
 * side) and the session's title and summary when it goes idle.
 */
#include "sessions/session-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/jsonutil.h"
#include "core/llm_call.h"
#include "sessions/compact.h"

void session_aside_clear(daimon_ctx *ctx, struct session *s)
{
	if (s->aside.actor)
		daimon_cancel(daimon_ctx_rt(ctx), s->aside.actor, 1000);
	s->aside.actor = 0;
	s->aside.ref = 0;
	s->aside.for_session = 0;
}

/* Asks for a summary on the side (llm_call.h); its text comes back as a
 * DAIMON_MSG_JOB_DONE with ref s->aside.ref. */
static int ask_aside(daimon_ctx *ctx, struct session *s, const char *system, const cJSON *msgs, int for_session)
{
	s->aside.ref = ++s->next_ref;
	/* (a cheaper model may write them: model.summary_model) */
	const daimon_llm_config *cfg = s->set.cfg->summarizer ? s->set.cfg->summarizer : s->set.cfg;
	long ms = 2 * daimon_llm_limits_of(cfg).first_token_ms;
	if (!(s->aside.actor = daimon_llm_call_spawn(ctx, s->set.http, cfg, system, msgs, s->aside.ref, ms)))
		return -1;
	s->aside.for_session = for_session;
	daimon_set_op(ctx, for_session ? "summarizing the session" : "compressing the context");
	return 0;
}

/* ---- session summaries ---- */

void session_summary_told(daimon_ctx *ctx, struct session *s, int status, const char *error)
{
	if (!s->aside.summary_asker)
		return;
	daimon_session_done d = {.status = status};
	snprintf(d.error, sizeof(d.error), "%s", error ? error : "");
	snprintf(d.session, sizeof(d.session), "%s", s->id);
	session_tell_done(ctx, s->aside.summary_asker, &d);
	s->aside.summary_asker = 0;
}

/* Whether there is anything new to summarize: an answer since the last summary. */
static int worth_summarizing(const struct session *s)
{
	for (const cJSON *m = s->history ? s->history->child : NULL; m; m = m->next) {
		const cJSON *seq = cJSON_GetObjectItemCaseSensitive(m, "seq");
		const char *role = daimon_json_str(m, "role");
		if (role && !strcmp(role, "assistant") && cJSON_IsNumber(seq) &&
		    (uint64_t)seq->valuedouble > s->keep.summarized_seq)
			return 1;
	}
	return 0;
}

/* Asks the model for the session's title and summary. 0: started; 1:
 * nothing to do; <0: failed. */
int session_start_summary(daimon_ctx *ctx, struct session *s)
{
	if (s->turn.asker || s->aside.actor || !s->log || !worth_summarizing(s))
		return 1;
	cJSON *msgs = daimon_transcript(s->history, 0, cJSON_GetArraySize(s->history) - 1,
					"Write the title and summary of the conversation above.");
	static const char system[] =
		"You name and summarize conversations for a list the user browses and searches later. Answer "
		"with JSON only: {\"title\": \"at most eight words\", \"summary\": \"one to three sentences: what was "
		"discussed, decided or found\"}.";
	int rc = ask_aside(ctx, s, system, msgs, 1);
	cJSON_Delete(msgs);
	return rc;
}

/* The title and summary, from JSON if the model wrote it, else from the
 * first line and the rest. */
static void summary_done(daimon_ctx *ctx, struct session *s, const char *failure, const char *text)
{
	if (!failure && !*text)
		failure = "the model wrote an empty summary";
	int rc = failure ? -1 : 0;
	if (!failure) {
		const char *open = strchr(text, '{'), *close = strrchr(text, '}');
		cJSON *j = open && close > open ? cJSON_ParseWithLength(open, (size_t)(close - open + 1)) : NULL;
		const char *title = daimon_json_str(j, "title"), *summary = daimon_json_str(j, "summary");
		size_t first = strcspn(text, "\n");
		char *t = title ? daimon_xstrdup(title) : daimon_xstrndup(text, first);
		char *sm = summary ? daimon_xstrdup(summary) : daimon_xstrdup(text[first] ? text + first + 1 : "");
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "title", t);
		cJSON_AddStringToObject(f, "summary", sm);
		uint64_t upto = daimon_log_last_seq(s->log);
		cJSON_AddNumberToObject(f, "upto_seq", (double)upto);
		rc = daimon_log_append(s->log, DAIMON_REC_SUMMARY, NULL, f, NULL, NULL, NULL);
		if (rc == 0)
			rc = session_commit_async(ctx, s);
		if (rc == 0)
			s->keep.summarized_seq = upto;
		cJSON_Delete(f);
		cJSON_Delete(j);
		free(t);
		free(sm);
	}
	session_aside_clear(ctx, s);
	daimon_set_op(ctx, NULL);
	session_summary_told(ctx, s, rc < 0 ? -1 : 0, failure ? failure : rc < 0 ? daimon_error_last() : NULL);
}

/* The request is over the threshold: ask the model for a summary of the
 * middle first (the built request waits in s->model.req). */
int session_start_compaction(daimon_ctx *ctx, struct session *s)
{
	if (!daimon_compact_cut(s->history, s->set.head_messages, s->set.tail_tokens, &s->aside.from, &s->aside.to)) {
		s->keep.compress_floor = s->model.req.body.len / 4 * 5 / 4; /* too little to summarize yet */
		return session_send_request(ctx, s);
	}
	char *system;
	cJSON *msgs;
	daimon_compact_request(s->history, s->aside.from, s->aside.to, &system, &msgs);
	int rc = ask_aside(ctx, s, system, msgs, 0);
	free(system);
	cJSON_Delete(msgs);
	return rc;
}

/* The summary is in (or failed): the history is compacted and logged —
 * or, on failure, left whole and the failure logged — and the turn's
 * request goes out. */
static void compaction_done(daimon_ctx *ctx, struct session *s, const char *failure, const char *summary)
{
	size_t before = s->model.req.body.len / 4;
	int rc = 0;
	if (!failure && !*summary)
		failure = "the model wrote an empty summary";
	if (failure) {
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "reason", failure);
		rc = daimon_log_append(s->log, DAIMON_REC_COMPACTION_FAILED, NULL, f, NULL, NULL, NULL);
		cJSON_Delete(f);
		s->keep.compress_floor = before * 5 / 4; /* not again before the history grows */
	} else {
		const cJSON *first = cJSON_GetArrayItem(s->history, s->aside.from);
		const cJSON *last = cJSON_GetArrayItem(s->history, s->aside.to);
		double from = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(first, "seq"));
		double to = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(last, "seq"));
		daimon_compact_apply(s->history, s->aside.from, s->aside.to, daimon_compact_message(summary, from));
		/* A fresh snapshot of the curated files comes with it. */
		free(s->system);
		s->system = session_system_prompt(s->set.store->home, s->key, !s->set.grants);
		daimon_llm_request_release(&s->model.req);
		rc = daimon_llm_build(&s->model.req, s->set.cfg, s->system, s->history, s->tools);
		size_t after = s->model.req.body.len / 4;
		if (after * 5 > before * 4) /* saved less than a fifth: do not keep trying */
			s->keep.compress_floor = (size_t)-1;
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "summary", summary);
		cJSON_AddNumberToObject(f, "from_seq", from);
		cJSON_AddNumberToObject(f, "to_seq", to);
		cJSON_AddNumberToObject(f, "tokens_before", (double)before);
		cJSON_AddNumberToObject(f, "tokens_after", (double)after);
		if (rc == 0)
			rc = daimon_log_append(s->log, DAIMON_REC_COMPACTION, NULL, f, NULL, NULL, NULL);
		cJSON_Delete(f);
	}
	session_aside_clear(ctx, s);
	if (rc == 0)
		rc = daimon_log_flush(s->log);
	if (rc == 0)
		rc = session_send_request(ctx, s);
	if (rc == 0)
		rc = session_commit_async(ctx, s);
	if (rc < 0)
		session_abort_turn(ctx, s, rc);
}

/* The summary asked for on the side is in. */
void session_on_aside_done(daimon_ctx *ctx, struct session *s, const daimon_job_done *d)
{
	int for_session = s->aside.for_session;
	s->aside.actor = 0; /* (it has exited) */
	s->aside.ref = 0;
	char why[300] = "";
	if (d->status < 0)
		snprintf(why, sizeof(why), "the summary's model call failed: %s", d->text);
	if (for_session)
		summary_done(ctx, s, why[0] ? why : NULL, d->status < 0 ? "" : d->text);
	else
		compaction_done(ctx, s, why[0] ? why : NULL, d->status < 0 ? "" : d->text);
}
