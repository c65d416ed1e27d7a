/*
 * session-durable.c — durable turns: a side-effecting call's intent and
 * idempotency key reach the disk before it runs, its outcome as soon as it
 * is known; a turn the process died in is marked in run/turns. After a
 * crash, a message delivered again is answered from the log, a dead turn's
 * calls are taken up from the journal (a finished one is never run twice),
 * or, when a new message comes first, closed from it.
 */
#include "sessions/session-int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fault.h"
#include "core/fsutil.h"
#include "core/home.h"
#include "core/jsonutil.h"

/* run/turns/<id>: this session's turn must go on after a crash. (Not
 * synced: it is for the process dying; after a power cut the next
 * message closes the turn from the journal instead.) */
static char *mark_path(const struct session *s)
{
	char *dir = daimon_home_path(s->set.store->home, "run/turns");
	char *path = daimon_xasprintf("%s/%s", dir, s->id);
	free(dir);
	return path;
}

static void mark(struct session *s)
{
	char *dir = daimon_home_path(s->set.store->home, "run/turns");
	daimon_mkdir_p(dir, 0700);
	char *path = mark_path(s);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		daimon_write_all(fd, s->key, strlen(s->key));
		close(fd);
		s->turn.marked = 1;
	}
	free(dir);
	free(path);
}

void session_unmark(struct session *s)
{
	if (!s->turn.marked)
		return;
	char *path = mark_path(s);
	unlink(path);
	free(path);
	s->turn.marked = 0;
}

cJSON *daimon_session_unfinished(const char *home)
{
	cJSON *keys = cJSON_CreateArray();
	char *dir = daimon_home_path(home, "run/turns");
	DIR *d = opendir(dir);
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char *path = daimon_xasprintf("%s/%s", dir, e->d_name);
		daimon_buf key = DAIMON_BUF_INIT;
		if (daimon_read_file(&key, path) == 0 && key.len)
			cJSON_AddItemToArray(keys, cJSON_CreateString(daimon_buf_cstr(&key)));
		daimon_buf_release(&key);
		free(path);
	}
	if (d)
		closedir(d);
	free(dir);
	return keys;
}

/* A side-effecting call whose intent did not reach the disk is not run. */
void session_not_journaled(daimon_ctx *ctx, struct session *s, struct call *c)
{
	daimon_buf_addf(&c->result, "%s was not run: its intent could not be journaled: %s", c->tool->name,
			daimon_error_last());
	session_call_finished(ctx, s, c, 1);
}

/* The journal of a turn the daemon died in: the tool_intent and
 * tool_outcome records after seq `after`, by call id. */
static void read_journal(struct session *s, uint64_t after, cJSON *intents, cJSON *outcomes)
{
	char *path = daimon_store_log_path(s->set.store, s->id);
	daimon_log_reader *r;
	if (daimon_log_reader_open(&r, path, 0, 0, 0) == 0) {
		daimon_record rec;
		while (daimon_log_reader_next(r, &rec) == 1) {
			int intent = !strcmp(rec.type, DAIMON_REC_TOOL_INTENT),
			    outcome = !strcmp(rec.type, DAIMON_REC_TOOL_OUTCOME);
			const char *id = daimon_json_str(rec.json, "call_id");
			if (rec.seq > after && (intent || outcome) && id) {
				cJSON *to = intent ? intents : outcomes;
				cJSON_DeleteItemFromObjectCaseSensitive(to, id);
				cJSON_AddItemToObject(to, id, cJSON_Duplicate(rec.json, 1));
			}
			daimon_record_clear(&rec);
		}
		daimon_log_reader_free(r);
	}
	free(path);
}

/* The tool calls of the model's last answer that have no result (a turn
 * the daemon died in): NULL if there are none; *asked_seq is the answer's. */
static cJSON *dangling_calls(struct session *s, uint64_t *asked_seq)
{
	int n = cJSON_GetArraySize(s->history), at = -1;
	for (int i = n - 1; i >= 0 && at < 0; i--) {
		const cJSON *m = cJSON_GetArrayItem(s->history, i);
		const char *role = daimon_json_str(m, "role");
		if (role && !strcmp(role, "assistant") &&
		    cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "tool_calls")))
			at = i;
		else if (!role || strcmp(role, "tool"))
			break;
	}
	if (at < 0)
		return NULL;
	const cJSON *asked = cJSON_GetArrayItem(s->history, at);
	*asked_seq = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(asked, "seq"));
	cJSON *missing = cJSON_CreateArray();
	const cJSON *tc = cJSON_GetObjectItemCaseSensitive(asked, "tool_calls");
	for (const cJSON *c = tc->child; c; c = c->next) {
		const char *id = daimon_json_str(c, "id");
		int have = 0;
		for (int i = at + 1; i < n && !have; i++) {
			const char *cid = daimon_json_str(cJSON_GetArrayItem(s->history, i), "call_id");
			have = cid && id && !strcmp(cid, id);
		}
		if (!have)
			cJSON_AddItemToArray(missing, cJSON_Duplicate(c, 1));
	}
	if (!cJSON_GetArraySize(missing)) {
		cJSON_Delete(missing);
		return NULL;
	}
	return missing;
}

/* A dead turn's calls without a result, and what the journal says of them. */
struct dangling {
	cJSON *missing, *intents, *outcomes; /* outcomes and intents by call id */
};

static int dangling_open(struct session *s, struct dangling *d)
{
	uint64_t asked = 0;
	if (!(d->missing = dangling_calls(s, &asked)))
		return 0;
	d->intents = cJSON_CreateObject();
	d->outcomes = cJSON_CreateObject();
	read_journal(s, asked, d->intents, d->outcomes);
	return 1;
}

static void dangling_close(struct dangling *d)
{
	cJSON_Delete(d->intents);
	cJSON_Delete(d->outcomes);
	cJSON_Delete(d->missing);
}

static const char unknown_text[] = "outcome unknown: %s was started before daimon stopped, and whether it took "
				   "effect is not known; it was not run again (it is not idempotent). Check before "
				   "doing it again.";

/* A new message while the turn before never ended (its asker went with
 * the daemon, as a command-line ask does): the calls it left get their
 * results from the journal — or say they did not run, or that their
 * outcome is unknown — so the history is whole again; none is run. */
int session_close_dangling(struct session *s)
{
	struct dangling d;
	if (!dangling_open(s, &d))
		return 0;
	int rc = 0;
	for (const cJSON *j = d.missing->child; j && rc == 0; j = j->next) {
		const char *id = daimon_json_str(j, "id"), *name = daimon_json_str(j, "name");
		const cJSON *outcome = id ? cJSON_GetObjectItemCaseSensitive(d.outcomes, id) : NULL;
		if (outcome) {
			rc = session_append_tool_result(
				s, j, daimon_json_str(outcome, "content") ? daimon_json_str(outcome, "content") : "",
				cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(outcome, "is_error")));
		} else {
			char *text = id && cJSON_GetObjectItemCaseSensitive(d.intents, id)
					     ? daimon_xasprintf(unknown_text, name ? name : "the tool")
					     : daimon_xstrdup("not run: daimon stopped before this call ran");
			rc = session_append_tool_result(s, j, text, 1);
			free(text);
		}
	}
	dangling_close(&d);
	return rc;
}

/* A turn the daemon died in, taken up where it stopped: the tool calls of
 * the model's last answer that have no result run now — except that a
 * call whose outcome was journaled is not run again (its logged result
 * is used), and one that was started (its intent journaled) but whose
 * outcome is unknown runs again, with the same idempotency key, only if
 * its tool is idempotent; otherwise its result, for the model and the
 * user, says that its outcome is unknown. Returns 1 if calls were taken
 * up (the turn goes on from them), 0 if there were none. */
static int resume_calls(daimon_ctx *ctx, struct session *s)
{
	struct dangling d;
	if (!dangling_open(s, &d))
		return 0;
	cJSON *missing = d.missing, *intents = d.intents, *outcomes = d.outcomes;
	daimon_set_op(ctx, "resuming a turn");
	s->calls.n = cJSON_GetArraySize(missing);
	s->calls.list = daimon_xcalloc((size_t)s->calls.n, sizeof(*s->calls.list));
	int i = 0;
	for (const cJSON *j = missing->child; j; j = j->next, i++) {
		struct call *c = &s->calls.list[i];
		const char *id = daimon_json_str(j, "id");
		const cJSON *intent = id ? cJSON_GetObjectItemCaseSensitive(intents, id) : NULL;
		const cJSON *outcome = id ? cJSON_GetObjectItemCaseSensitive(outcomes, id) : NULL;
		c->call = cJSON_Duplicate(j, 1);
		c->ref = ++s->next_ref;
		if (daimon_tool_prepare(s->keep.toolset, s->set.depth, s->set.grants, j, &c->tool, &c->args,
					&c->result)) {
			session_call_finished(ctx, s, c, 1);
		} else if (outcome) { /* it finished before the crash: its result stands */
			daimon_buf_adds(&c->result,
					daimon_json_str(outcome, "content") ? daimon_json_str(outcome, "content") : "");
			session_call_finished(ctx, s, c,
					      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(outcome, "is_error")));
		} else if (intent && c->tool->idempotent) { /* again, with the same key: the tool sees it is a repeat */
			c->key = daimon_xstrdup(daimon_json_str(intent, "key") ? daimon_json_str(intent, "key") : "");
			c->journaled = 1;
		} else if (intent) {
			daimon_buf_addf(&c->result, unknown_text, c->tool->name);
			session_call_finished(ctx, s, c, 1);
		}
	}
	dangling_close(&d);
	session_pump(ctx, s);
	return 1;
}

/* A message a channel may deliver again after a crash carries its id
 * (`mid`); one already in the log is not logged or answered twice: its
 * logged answer is told again, or, when the daemon died before the
 * answer, the turn runs again from the logged message (resumed). Returns
 * 1 when it was handled so. */
int session_seen_before(daimon_ctx *ctx, struct session *s, daimon_aid asker, const char *mid)
{
	int n = cJSON_GetArraySize(s->history), at = -1;
	for (int i = n - 1; i >= 0 && i >= n - 400 && at < 0; i--) {
		const char *m = daimon_json_str(cJSON_GetArrayItem(s->history, i), "mid");
		if (m && !strcmp(m, mid))
			at = i;
	}
	if (at < 0)
		return 0;
	for (int i = at + 1; i < n; i++) {
		const cJSON *m = cJSON_GetArrayItem(s->history, i);
		const char *role = daimon_json_str(m, "role");
		if (role && !strcmp(role, "user"))
			break; /* the next turn began: this one never ended */
		if (role && !strcmp(role, "assistant") && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "failed"))) {
			daimon_session_done d = {.status = -1}; /* it failed then: it is told so again */
			snprintf(d.error, sizeof(d.error), "%s", daimon_json_str(m, "content"));
			snprintf(d.session, sizeof(d.session), "%s", s->id);
			session_tell_done(ctx, asker, &d);
			return 1;
		}
		if (role && !strcmp(role, "assistant") && !cJSON_GetObjectItemCaseSensitive(m, "tool_calls")) {
			const char *text = daimon_json_str(m, "content");
			daimon_send(daimon_ctx_rt(ctx), asker, DAIMON_SESSION_DELTA, text, strlen(text ? text : ""));
			daimon_session_done d = {.status = 0};
			snprintf(d.session, sizeof(d.session), "%s", s->id);
			session_tell_done(ctx, asker, &d);
			return 1;
		}
	}
	/* Logged, never answered: the turn goes on from its journal, or the
	 * model is asked again from the log. */
	if (resume_calls(ctx, s))
		return 1;
	int rc = session_call_model(ctx, s, 0);
	if (rc < 0)
		session_abort_turn(ctx, s, rc);
	return 1;
}

/* A journaled call's outcome goes to the disk as soon as it is known: a
 * crash after this point finds it and does not run the call again. */
void session_journal_outcome(daimon_ctx *ctx, struct session *s, struct call *c, int is_error)
{
	daimon_fault_point("returned");
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "call_id", daimon_json_str(c->call, "id") ? daimon_json_str(c->call, "id") : "");
	cJSON_AddStringToObject(f, "name", c->tool->name);
	cJSON_AddStringToObject(f, "key", c->key);
	cJSON_AddStringToObject(f, "content", daimon_buf_cstr(&c->result));
	cJSON_AddBoolToObject(f, "is_error", is_error);
	if (daimon_log_append(s->log, DAIMON_REC_TOOL_OUTCOME, NULL, f, NULL, NULL, NULL) == 0 &&
	    session_commit_async(ctx, s) == 0)
		daimon_fault_point("outcome");
	cJSON_Delete(f);
}

/* Before a side-effecting call runs, its intent and idempotency key go to
 * the disk; it runs once they are there (on_synced). */
int session_journal_intent(daimon_ctx *ctx, struct session *s, struct call *c)
{
	const char *id = daimon_json_str(c->call, "id");
	if (!c->key)
		c->key = daimon_xasprintf("%s/%s", s->id, id ? id : "");
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "call_id", id ? id : "");
	cJSON_AddStringToObject(f, "name", c->tool->name);
	cJSON_AddStringToObject(f, "key", c->key);
	cJSON_AddBoolToObject(f, "idempotent", c->tool->idempotent);
	int rc = daimon_log_append(s->log, DAIMON_REC_TOOL_INTENT, NULL, f, NULL, NULL, &c->intent_seq);
	cJSON_Delete(f);
	/* (a channel's message is delivered again instead; a sub-agent's turn
	 * is its parent's to take up) */
	if (rc == 0 && !s->turn.marked && !s->turn.mid && s->set.depth == 0)
		mark(s);
	if (rc == 0)
		rc = session_commit_async(ctx, s);
	return rc;
}

/* A turn the process died in, taken up with nobody listening (the
 * session is its own asker: what it would tell comes back to it and is
 * dropped); its answer is in the log for whoever looks. */
void session_on_resume(daimon_ctx *ctx, struct session *s)
{
	if (s->turn.asker)
		return;     /* a turn runs: it was taken up already */
	s->turn.marked = 1; /* (the mark exists: it goes when this ends) */
	if (!s->log && session_open_log(s) < 0) {
		session_unmark(s);
		return;
	}
	session_begin_turn(ctx, s, daimon_self(ctx), NULL);
	if (resume_calls(ctx, s))
		return;
	const char *role = daimon_json_str(cJSON_GetArrayItem(s->history, cJSON_GetArraySize(s->history) - 1), "role");
	if (role && (!strcmp(role, "tool") || !strcmp(role, "user"))) { /* the model had not answered yet */
		int rc = session_call_model(ctx, s, 0);
		if (rc < 0)
			session_abort_turn(ctx, s, rc);
		return;
	}
	s->turn.asker = 0;
	session_unmark(s);
}
