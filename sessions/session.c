/*
 * session.c — see session.h.
 */
#include "sessions/session.h"
#include "sessions/compact.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/llm_call.h"
#include "core/cold.h"
#include "core/fault.h"
#include "core/port.h"
#include "core/timefmt.h"
#include "memory/curated.h"
#include "memory/log.h"
#include "skills/instructions.h"
#include "memory/text.h"
#include "core/work.h"

/* One tool call of the model's answer. */
struct call {
	cJSON *call; /* {"id","name","arguments"} */
	const daimon_tool *tool;
	cJSON *args; /* checked against the schema; NULL once handed over */
	uint64_t ref;
	enum { CALL_WAITING, CALL_ASKING, CALL_JOURNALING, CALL_RUNNING, CALL_DONE } state;
	int approved;
	/* durable turns: a side-effecting call's idempotency key, and whether
	 * its intent is on the disk (it runs only then) */
	char *key;
	int journaled;
	uint64_t intent_seq;
	daimon_buf result;
	int is_error;
	uint64_t timer, monitor;
	daimon_job *job;
	daimon_aid actor;
	uint64_t started;
};

/* A message that arrived mid-turn. */
struct pending {
	daimon_aid asker;
	char *text;
	char *mid; /* the channel's id of the message, or NULL */
	struct pending *next;
};

#define MAX_ALSO 8

struct session {
	int asleep; /* 0 here, 1 in struct sleeping: what terminate/on_cancel were given */
	daimon_store *store;
	char *key;
	char id[DAIMON_ID_MAX + 1];
	daimon_log *log;
	cJSON *history; /* messages in daimon's shape (see llm.h) */
	char *system;
	daimon_aid http;
	const daimon_llm_config *cfg;
	const daimon_tool *toolset;
	daimon_tools_live *tools_live;
	cJSON *tools; /* what the model is offered */
	daimon_mid_turn mid_turn;
	int tool_parallel, depth;
	long tool_timeout_ms;
	long idle_ms;
	uint64_t idle_timer; /* hibernate when it fires */
	struct pending *queue, *steer; /* mid-turn messages, oldest first */
	/* the turn in progress */
	daimon_aid asker;
	daimon_aid also[MAX_ALSO]; /* whose steering messages joined it */
	int nalso;
	int rounds;   /* model calls in this turn (tool loops) */
	int attempts; /* retries of the current model call */
	uint64_t retry_timer;
	uint64_t transfer;   /* the model call in flight */
	uint64_t ttft_timer; /* no first chunk by then: the call is abandoned and retried */
	int ttft_expired;
	daimon_llm_stream *stream;
	daimon_llm_request req;
	int64_t tokens_in, tokens_out;
	struct call *calls; /* the tool calls of the last answer, while they run */
	int ncalls, nrunning;
	uint64_t next_ref;
	/* the log's sync, on the work pool (one at a time) */
	uint64_t sync_ref, sync_upto;
	daimon_job *sync_job;
	/* context compression (compact.h) */
	size_t compress_at;  /* estimated request tokens past which the middle is summarized; 0: never */
	size_t compress_floor; /* and not again before the request passes this */
	size_t tail_tokens;
	int head_messages;
	daimon_aid cactor; /* the summary's model call (compaction or session summary) */
	uint64_t cref;
	int cfrom, cto;
	int csession;         /* the call in flight is for the session's summary */
	/* session summaries: written when the session goes idle */
	int summarize;
	uint64_t summarized_seq; /* the log's seq the last summary covered */
	daimon_aid summary_asker; /* who asked for one now (DAIMON_SESSION_SUMMARIZE) */
	/* durable turns: the turn's message came from a channel (which
	 * delivers it again after a crash), or the turn is marked in
	 * run/turns for the daemon to resume */
	int turn_mid, marked;
	/* the turn's outcome, told once what it logged is durable */
	int done_pending, done_status;
	char done_error[256];
};

void daimon_session_id_for_key(char out[DAIMON_ID_MAX + 1], const char *key)
{
	char prefix[32];
	size_t n = strcspn(key, ":");
	snprintf(prefix, sizeof(prefix), "%.*s", (int)(n < 20 ? n : 20), key);
	for (char *p = prefix; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			*p = '-';
	daimon_session_id_derived(out, prefix[0] ? prefix : "session", key);
}

/* SOUL.md, then snapshots of the user's file and MEMORY.md — taken once,
 * when the session starts (or compresses), so a provider's prefix cache
 * stays valid; writes reach the prompt at the next session. */
static char *system_prompt(const char *home, const char *key)
{
	daimon_buf b = DAIMON_BUF_INIT;
	daimon_mem_file f;
	daimon_mem_entries soul;
	if (daimon_mem_file_for(&f, home, "soul", key) == 0 && daimon_mem_read(&f, &soul) == 0) {
		for (size_t i = 0; i < soul.n; i++)
			daimon_buf_addf(&b, "%s%s", i ? "\n" : "", soul.entries[i]);
		daimon_mem_entries_release(&soul);
	}
	daimon_mem_file_release(&f);
	static const char *const parts[][2] = {{"user", "About the user"}, {"memory", "Your notes"}};
	for (size_t i = 0; i < 2; i++) {
		daimon_buf part = DAIMON_BUF_INIT;
		if (daimon_mem_file_for(&f, home, parts[i][0], key) == 0)
			daimon_mem_prompt(&f, parts[i][1], &part);
		daimon_mem_file_release(&f);
		if (part.len)
			daimon_buf_addf(&b, "%s%s", b.len ? "\n\n" : "", part.ptr);
		daimon_buf_release(&part);
	}
	/* The index of instruction skills: names and what they are for. */
	char *dir = daimon_home_path(home, "skills");
	cJSON *skills = daimon_instructions_scan(dir);
	free(dir);
	for (const cJSON *sk = skills->child; sk; sk = sk->next)
		daimon_buf_addf(&b, "%s- %s: %s", sk == skills->child ? "\n\n## Skills (read one with skill_read before following it)\n"
								    : "\n",
				daimon_json_str(sk, "name"), daimon_json_str(sk, "description"));
	cJSON_Delete(skills);
	return daimon_buf_detach(&b);
}

int daimon_mid_turn_parse(const char *name)
{
	static const char *const names[] = {"queue", "steer", "interrupt"};
	for (int i = 0; i < 3; i++)
		if (name && !strcmp(name, names[i]))
			return i;
	return -1;
}

/* A whole number in config.json within [min, max], or an error naming it. */
static int setting(const cJSON *obj, const char *path, const char *field, int64_t min, int64_t max, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < (double)min || v->valuedouble > (double)max)
		return daimon_error_code(DAIMON_EINVAL, "%s.%s in config.json must be a number from %lld to %lld",
					 path, field, (long long)min, (long long)max);
	*out = (int64_t)v->valuedouble;
	return 0;
}

int daimon_session_opts_load(daimon_session_opts *o, const char *home, const char *key)
{
	memset(o, 0, sizeof(*o));
	cJSON *file;
	int rc = daimon_config_load(&file, home);
	if (rc < 0)
		return rc;
	char channel[64];
	snprintf(channel, sizeof(channel), "%.*s", (int)strcspn(key, ":"), key);
	const cJSON *ch = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(file, "channels"), channel);
	const char *mode = daimon_json_str(ch, "mid_turn");
	int m = mode ? daimon_mid_turn_parse(mode) : 0;
	if (m < 0)
		rc = daimon_error_code(DAIMON_EINVAL,
				       "channels.%s.mid_turn in config.json is '%s'; it must be queue, steer or interrupt",
				       channel, mode);
	o->mid_turn = (daimon_mid_turn)(m < 0 ? 0 : m);
	int64_t parallel = 4, timeout_s = 120, idle_min = 10, window = 128000, head = 2, tail = 0;
	const struct {
		const char *obj, *field;
		int64_t min, max, *out;
	} ints[] = {
		{"tools", "parallel", 1, 64, &parallel},
		{"tools", "timeout_s", 1, 86400, &timeout_s},
		{"sessions", "idle_minutes", 0, 100000, &idle_min},
		{"model", "context_window", 0, 100000000, &window},
		{"compression", "head_messages", 1, 1000, &head},
		{"compression", "tail_tokens", 0, 100000000, &tail},
	};
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]) && rc == 0; i++)
		rc = setting(cJSON_GetObjectItemCaseSensitive(file, ints[i].obj), ints[i].obj, ints[i].field, ints[i].min,
			     ints[i].max, ints[i].out);
	const cJSON *sessions = cJSON_GetObjectItemCaseSensitive(file, "sessions");
	const cJSON *comp = cJSON_GetObjectItemCaseSensitive(file, "compression");
	const cJSON *th = cJSON_GetObjectItemCaseSensitive(comp, "threshold");
	if (rc == 0 && th && (!cJSON_IsNumber(th) || th->valuedouble < 0.05 || th->valuedouble > 0.95))
		rc = daimon_error_code(DAIMON_EINVAL, "compression.threshold in config.json must be a number from 0.05 to 0.95");
	o->context_window = (long)window;
	o->compress_threshold = cJSON_IsNumber(th) ? th->valuedouble : 0.5;
	o->head_messages = (int)head;
	o->tail_tokens = (size_t)tail;
	const cJSON *sum = cJSON_GetObjectItemCaseSensitive(sessions, "summarize");
	o->summarize = !sum || cJSON_IsTrue(sum);
	o->tool_parallel = (int)parallel;
	o->tool_timeout_ms = (long)timeout_s * 1000;
	o->idle_ms = idle_min ? (long)idle_min * 60000 : -1;
	/* (a fraction of a minute is taken too: 0.05 is 3 s) */
	const cJSON *im = cJSON_GetObjectItemCaseSensitive(sessions, "idle_minutes");
	if (cJSON_IsNumber(im) && im->valuedouble > 0 && im->valuedouble < 1)
		o->idle_ms = (long)(im->valuedouble * 60000);
	cJSON_Delete(file);
	return rc;
}

static cJSON *message(const char *role, const char *text)
{
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", role);
	cJSON_AddStringToObject(m, "content", text);
	return m;
}

/* What the model is told about a turn that was stopped: what it had said
 * so far and why it ended. */
static cJSON *stopped_message(const cJSON *cancel)
{
	const char *partial = daimon_json_str(cancel, "partial");
	const char *reason = daimon_json_str(cancel, "reason");
	char *text = daimon_xasprintf("%s%s[%s]", partial ? partial : "", partial ? "\n\n" : "",
				      reason ? reason : "stopped");
	cJSON *m = message("assistant", text);
	free(text);
	return m;
}

int daimon_history_load(const char *path, cJSON *history, uint64_t *summarized_seq)
{
	daimon_log_reader *r;
	int rc = daimon_log_reader_open(&r, path, 0, 0, 0);
	if (rc < 0)
		return rc;
	daimon_record rec;
	while ((rc = daimon_log_reader_next(r, &rec)) == 1) {
		const cJSON *j = rec.json;
		cJSON *m = NULL;
		if (!strcmp(rec.type, "message") || !strcmp(rec.type, "tool_result")) {
			daimon_buf text = DAIMON_BUF_INIT;
			daimon_content_text(cJSON_GetObjectItemCaseSensitive(j, "content"), &text);
			int is_msg = rec.type[0] == 'm';
			m = message(is_msg ? daimon_json_str(j, "role") : "tool", daimon_buf_cstr(&text));
			daimon_buf_release(&text);
			const cJSON *calls = cJSON_GetObjectItemCaseSensitive(j, "tool_calls");
			if (is_msg && calls)
				cJSON_AddItemToObject(m, "tool_calls", cJSON_Duplicate(calls, 1));
			if (!is_msg)
				cJSON_AddStringToObject(m, "call_id", daimon_json_str(j, "call_id"));
			const char *mid = daimon_json_str(j, "mid");
			if (mid)
				cJSON_AddStringToObject(m, "mid", mid);
		} else if (!strcmp(rec.type, "cancel")) {
			m = stopped_message(j);
		} else if (!strcmp(rec.type, "summary")) {
			const cJSON *upto = cJSON_GetObjectItemCaseSensitive(j, "upto_seq");
			if (cJSON_IsNumber(upto) && summarized_seq)
				*summarized_seq = (uint64_t)upto->valuedouble;
		} else if (!strcmp(rec.type, "compaction")) { /* resume from the summary */
			double from = 0, to = 0;
			const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "from_seq");
			const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "to_seq");
			if (cJSON_IsNumber(f) && cJSON_IsNumber(t))
				from = f->valuedouble, to = t->valuedouble;
			daimon_compact_restore(history, from, to,
					       daimon_compact_message(daimon_json_str(j, "summary"), from));
		}
		if (m) {
			cJSON_AddNumberToObject(m, "seq", (double)rec.seq);
			cJSON_AddItemToArray(history, m);
		}
		daimon_record_clear(&rec);
	}
	daimon_log_reader_free(r);
	return rc;
}

/* Opens (or creates) the log and loads the history from it: at start,
 * and when the session wakes from hibernation. */
static int open_log(struct session *s)
{
	char *path = daimon_store_log_path(s->store, s->id);
	daimon_log_report rep;
	cJSON_Delete(s->history);
	s->history = cJSON_CreateArray();
	int rc = daimon_log_open(&s->log, path, 0, &rep);
	if (rc == DAIMON_ENOTFOUND) {
		daimon_session_meta meta = {.id = s->id, .key = s->key};
		rc = daimon_store_create(s->store, &meta, 0, &s->log, NULL);
	} else if (rc == 0) {
		rc = daimon_history_load(path, s->history, &s->summarized_seq);
	}
	free(path);
	return rc;
}

static void session_terminate(daimon_ctx *ctx, void *state, int reason);

/* What a hibernated session keeps: its settings and its name; the rest
 * (history, prompt, tool list, the log) comes back from disk at wake. */
struct sleeping { /* in the runtime's cold memory (core/cold.h) */
	int asleep;
	daimon_mid_turn mid_turn;
	daimon_store *store;
	daimon_aid http;
	const daimon_llm_config *cfg;
	const daimon_tool *toolset;
	daimon_tools_live *tools_live;
	int tool_parallel, depth, head_messages, summarize;
	long tool_timeout_ms, idle_ms;
	size_t compress_at, compress_floor, tail_tokens;
	uint64_t summarized_seq;
	char key[];
};

static size_t sleeping_size(const char *key)
{
	return sizeof(struct sleeping) + strlen(key) + 1;
}

#define KEEP(f) z->f = s->f
#define BRING(f) s->f = z->f

static void *session_hibernate(daimon_ctx *ctx, void *state)
{
	struct session *s = state;
	size_t size = sleeping_size(s->key);
	struct sleeping *z = daimon_cold_alloc(daimon_rt_cold(daimon_ctx_rt(ctx)), size);
	z->asleep = 1;
	strcpy(z->key, s->key);
	KEEP(store), KEEP(http), KEEP(cfg), KEEP(toolset), KEEP(tools_live), KEEP(mid_turn), KEEP(tool_parallel);
	KEEP(depth), KEEP(head_messages), KEEP(summarize), KEEP(tool_timeout_ms), KEEP(idle_ms), KEEP(compress_at);
	KEEP(compress_floor), KEEP(tail_tokens), KEEP(summarized_seq);
	session_terminate(ctx, s, 0); /* the log is closed: it commits what a sync in flight had not */
	daimon_set_mem(ctx, size);
	daimon_set_state_label(ctx, "hibernated");
	return z;
}

static void *session_wake(daimon_ctx *ctx, void *state)
{
	struct sleeping *z = state;
	struct session *s = daimon_xcalloc(1, sizeof(*s));
	s->key = daimon_xstrdup(z->key);
	BRING(store), BRING(http), BRING(cfg), BRING(toolset), BRING(tools_live), BRING(mid_turn), BRING(tool_parallel);
	BRING(depth), BRING(head_messages), BRING(summarize), BRING(tool_timeout_ms), BRING(idle_ms), BRING(compress_at);
	BRING(compress_floor), BRING(tail_tokens), BRING(summarized_seq);
	daimon_cold_free(daimon_rt_cold(daimon_ctx_rt(ctx)), z, sleeping_size(z->key));
	daimon_session_id_for_key(s->id, s->key);
	daimon_set_state_label(ctx, NULL);
	if (open_log(s) < 0) /* the next turn says why */
		s->log = NULL;
	s->tools = daimon_tools_json(s->toolset, s->depth);
	s->system = system_prompt(s->store->home, s->key); /* a fresh snapshot of the curated files */
	daimon_set_mem(ctx, sizeof(*s));
	return s;
}

/* ---- mid-turn messages ---- */

static void push(struct pending **list, daimon_aid asker, const void *text, size_t len, const char *mid)
{
	struct pending *p = daimon_xcalloc(1, sizeof(*p));
	p->mid = mid ? daimon_xstrdup(mid) : NULL;
	p->asker = asker;
	p->text = daimon_xstrndup(text, len);
	while (*list)
		list = &(*list)->next;
	*list = p;
}

static struct pending *pop(struct pending **list)
{
	struct pending *p = *list;
	if (p)
		*list = p->next;
	return p;
}

static void pending_free(struct pending *p)
{
	if (p) {
		free(p->text);
		free(p->mid);
	}
	free(p);
}

static void tell_done(daimon_ctx *ctx, daimon_aid to, const daimon_session_done *d)
{
	if (to)
		daimon_send(daimon_ctx_rt(ctx), to, DAIMON_SESSION_DONE, d, sizeof(*d));
}

/* A mid-turn message that will not be answered (the turn it waited for
 * was stopped): its sender hears so. */
static void drop_pending(daimon_ctx *ctx, struct session *s, struct pending **list)
{
	struct pending *p;
	while ((p = pop(list))) {
		daimon_session_done d = {.status = DAIMON_SESSION_CANCELLED};
		snprintf(d.error, sizeof(d.error), "dropped: the turn it was waiting for was stopped");
		snprintf(d.session, sizeof(d.session), "%s", s->id);
		tell_done(ctx, p->asker, &d);
		pending_free(p);
	}
}

/* ---- the turn ---- */

static void free_calls(struct session *s)
{
	for (int i = 0; i < s->ncalls; i++) {
		struct call *c = &s->calls[i];
		cJSON_Delete(c->call);
		cJSON_Delete(c->args);
		free(c->key);
		daimon_buf_release(&c->result);
		daimon_job_release(c->job);
	}
	free(s->calls);
	s->calls = NULL;
	s->ncalls = s->nrunning = 0;
}

/* run/turns/<id>: this session's turn must go on after a crash. (Not
 * synced: it is for the process dying; after a power cut the next
 * message closes the turn from the journal instead.) */
static char *mark_path(const struct session *s)
{
	char *dir = daimon_home_path(s->store->home, "run/turns");
	char *path = daimon_xasprintf("%s/%s", dir, s->id);
	free(dir);
	return path;
}

static void mark(struct session *s)
{
	char *dir = daimon_home_path(s->store->home, "run/turns");
	daimon_mkdir_p(dir, 0700);
	char *path = mark_path(s);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		daimon_write_all(fd, s->key, strlen(s->key));
		close(fd);
		s->marked = 1;
	}
	free(dir);
	free(path);
}

static void unmark(struct session *s)
{
	if (!s->marked)
		return;
	char *path = mark_path(s);
	unlink(path);
	free(path);
	s->marked = 0;
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

static void reply_done(daimon_ctx *ctx, struct session *s, int status, const char *error)
{
	unmark(s);
	daimon_session_done d = {0};
	d.status = status;
	snprintf(d.error, sizeof(d.error), "%s", error ? error : "");
	snprintf(d.session, sizeof(d.session), "%s", s->id);
	d.tokens_in = s->tokens_in;
	d.tokens_out = s->tokens_out;
	tell_done(ctx, s->asker, &d);
	for (int i = 0; i < s->nalso; i++)
		if (s->also[i] != s->asker)
			tell_done(ctx, s->also[i], &d);
	daimon_llm_stream_free(s->stream);
	s->stream = NULL;
	daimon_llm_request_release(&s->req);
	free_calls(s);
	s->asker = 0;
	s->nalso = 0;
	daimon_set_op(ctx, NULL);
	/* Steering messages the turn ended before taking are turns of their own. */
	while (s->steer) {
		struct pending *p = pop(&s->steer);
		p->next = s->queue;
		s->queue = p;
	}
	if (s->queue)
		daimon_send(daimon_ctx_rt(ctx), daimon_self(ctx), DAIMON_SESSION_NEXT, NULL, 0);
	if (s->idle_ms >= 0) {
		if (s->idle_timer)
			daimon_timer_cancel(ctx, s->idle_timer);
		s->idle_timer = daimon_timer_start(ctx, s->idle_ms ? s->idle_ms : 600000, 0);
	}
}

/* Stages a message in the log and adds it to the history. */
static int append_message(struct session *s, const char *role, const char *text, const cJSON *calls, const char *mid)
{
	cJSON *f = message(role, text);
	if (mid && *mid)
		cJSON_AddStringToObject(f, "mid", mid);
	if (calls && cJSON_GetArraySize(calls))
		cJSON_AddItemToObject(f, "tool_calls", cJSON_Duplicate(calls, 1));
	uint64_t seq = 0;
	int rc = daimon_log_append(s->log, "message", NULL, f, NULL, NULL, &seq);
	if (rc == 0) {
		cJSON_AddNumberToObject(f, "seq", (double)seq);
		cJSON_AddItemToArray(s->history, cJSON_Duplicate(f, 1));
	}
	cJSON_Delete(f);
	return rc;
}

static int append_tool_result(struct session *s, const cJSON *call, const char *text, int is_error)
{
	const char *id = daimon_json_str(call, "id"), *name = daimon_json_str(call, "name");
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "call_id", id ? id : "");
	cJSON_AddStringToObject(f, "name", name ? name : "");
	cJSON_AddStringToObject(f, "content", text);
	cJSON_AddBoolToObject(f, "is_error", is_error);
	uint64_t seq = 0;
	int rc = daimon_log_append(s->log, "tool_result", NULL, f, NULL, NULL, &seq);
	if (rc == 0) {
		cJSON *h = message("tool", text);
		cJSON_AddStringToObject(h, "call_id", id ? id : "");
		cJSON_AddBoolToObject(h, "is_error", is_error);
		cJSON_AddNumberToObject(h, "seq", (double)seq);
		cJSON_AddItemToArray(s->history, h);
	}
	cJSON_Delete(f);
	return rc;
}

/* ---- durability off the scheduler threads ----
 *
 * What the session logs is written at once (a write(2) into the page
 * cache is cheap) and made durable by an fdatasync on the work pool, so
 * no scheduler thread waits for the disk: the question's sync overlaps
 * the model request, and the answer's is the only wait at the end. The
 * asker hears "done" only once everything the turn logged is durable. */

struct sync_job {
	int fd;
};

static int sync_run(void *arg, daimon_buf *out, const _Atomic int *cancelled)
{
	(void)out, (void)cancelled;
	struct sync_job *j = arg;
	return fdatasync(j->fd) < 0 ? errno : 0;
}

static void sync_free(void *arg)
{
	struct sync_job *j = arg;
	close(j->fd);
	free(j);
}

static int durable(const struct session *s)
{
	return !s->log || daimon_log_durable_seq(s->log) == daimon_log_last_seq(s->log);
}

/* Writes what is staged and starts its sync, unless one is running (the
 * next starts when it ends). */
static int commit_async(daimon_ctx *ctx, struct session *s)
{
	if (s->sync_ref)
		return daimon_log_flush(s->log);
	uint64_t upto;
	int fd;
	int rc = daimon_log_commit_begin(s->log, &upto, &fd);
	if (rc < 0 || fd < 0)
		return rc;
	struct sync_job *j = daimon_xcalloc(1, sizeof(*j));
	j->fd = fd;
	s->sync_ref = ++s->next_ref;
	s->sync_upto = upto;
	s->sync_job = daimon_job_submit(daimon_ctx_rt(ctx), daimon_self(ctx), s->sync_ref, sync_run, j, sync_free);
	return 0;
}

/* The turn is over: its outcome goes out once what it logged is durable. */
static void finish(daimon_ctx *ctx, struct session *s, int status, const char *error)
{
	int rc = durable(s) ? 0 : commit_async(ctx, s);
	if (rc < 0 || durable(s)) {
		reply_done(ctx, s, rc < 0 ? rc : status, rc < 0 ? daimon_error_last() : error);
		return;
	}
	s->done_pending = 1;
	s->done_status = status;
	snprintf(s->done_error, sizeof(s->done_error), "%s", error ? error : "");
	daimon_set_op(ctx, "waiting for the disk");
}

static void abort_turn(daimon_ctx *ctx, struct session *s, int rc);
static int start_compaction(daimon_ctx *ctx, struct session *s);

static void pump(daimon_ctx *ctx, struct session *s);
static void launch(daimon_ctx *ctx, struct session *s, struct call *c);
static void call_finished(daimon_ctx *ctx, struct session *s, struct call *c, int is_error);

/* A side-effecting call whose intent did not reach the disk is not run. */
static void not_journaled(daimon_ctx *ctx, struct session *s, struct call *c)
{
	daimon_buf_addf(&c->result, "%s was not run: its intent could not be journaled: %s", c->tool->name,
			daimon_error_last());
	call_finished(ctx, s, c, 1);
}

static void on_synced(daimon_ctx *ctx, struct session *s, const daimon_job_done *d)
{
	s->sync_ref = 0;
	daimon_job_release(s->sync_job);
	s->sync_job = NULL;
	int rc = daimon_log_commit_end(s->log, s->sync_upto, d->status), moved = 0;
	for (int i = 0; i < s->ncalls; i++) { /* intents now on the disk: those calls run */
		struct call *c = &s->calls[i];
		if (c->state != CALL_JOURNALING || c->intent_seq > daimon_log_durable_seq(s->log))
			continue;
		if (rc < 0) {
			not_journaled(ctx, s, c);
			moved = 1;
			continue;
		}
		daimon_fault_point("intent");
		c->journaled = 1;
		launch(ctx, s, c);
		moved = 1;
	}
	if (moved)
		pump(ctx, s);
	if (rc == 0 && !durable(s))
		rc = commit_async(ctx, s); /* written while this sync ran */
	if (rc < 0 && s->asker) {
		abort_turn(ctx, s, rc);
	} else if (s->done_pending && durable(s)) {
		daimon_fault_point("answer");
		s->done_pending = 0;
		reply_done(ctx, s, s->done_status, s->done_error);
	}
}

#define MAX_ROUNDS 10

/* Sends the request built in s->req. */
static int send_request(daimon_ctx *ctx, struct session *s)
{
	s->stream = daimon_llm_stream_new(s->cfg->provider);
	if (!(s->transfer = daimon_http_request(ctx, s->http, &s->req.http)))
		return -1;
	s->ttft_expired = 0;
	s->ttft_timer = daimon_timer_start(ctx, s->cfg->first_token_ms > 0 ? s->cfg->first_token_ms : 60000, 0);
	daimon_set_op(ctx, "waiting for the model");
	return 0;
}

/* ---- context compression ---- */

static void compaction_clear(daimon_ctx *ctx, struct session *s)
{
	if (s->cactor)
		daimon_cancel(daimon_ctx_rt(ctx), s->cactor, 1000);
	s->cactor = 0;
	s->cref = 0;
	s->csession = 0;
}

/* Asks for a summary on the side (llm_call.h); its text comes back as a
 * DAIMON_MSG_JOB_DONE with ref s->cref. */
static int ask_aside(daimon_ctx *ctx, struct session *s, const char *system, const cJSON *msgs, int for_session)
{
	s->cref = ++s->next_ref;
	long ms = 2 * (s->cfg->first_token_ms > 0 ? s->cfg->first_token_ms : 60000);
	if (!(s->cactor = daimon_llm_call_spawn(ctx, s->http, s->cfg, system, msgs, s->cref, ms)))
		return -1;
	s->csession = for_session;
	daimon_set_op(ctx, for_session ? "summarizing the session" : "compressing the context");
	return 0;
}

/* ---- session summaries ---- */

static void summary_told(daimon_ctx *ctx, struct session *s, int status, const char *error)
{
	if (!s->summary_asker)
		return;
	daimon_session_done d = {.status = status};
	snprintf(d.error, sizeof(d.error), "%s", error ? error : "");
	snprintf(d.session, sizeof(d.session), "%s", s->id);
	tell_done(ctx, s->summary_asker, &d);
	s->summary_asker = 0;
}

/* Whether there is anything new to summarize: an answer since the last summary. */
static int worth_summarizing(const struct session *s)
{
	for (const cJSON *m = s->history ? s->history->child : NULL; m; m = m->next) {
		const cJSON *seq = cJSON_GetObjectItemCaseSensitive(m, "seq");
		const char *role = daimon_json_str(m, "role");
		if (role && !strcmp(role, "assistant") && cJSON_IsNumber(seq) &&
		    (uint64_t)seq->valuedouble > s->summarized_seq)
			return 1;
	}
	return 0;
}

/* Asks the model for the session's title and summary. 0: started; 1:
 * nothing to do; <0: failed. */
static int start_summary(daimon_ctx *ctx, struct session *s)
{
	if (s->asker || s->cactor || !s->log || !worth_summarizing(s))
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
		rc = daimon_log_append(s->log, "summary", NULL, f, NULL, NULL, NULL);
		if (rc == 0)
			rc = commit_async(ctx, s);
		if (rc == 0)
			s->summarized_seq = upto;
		cJSON_Delete(f);
		cJSON_Delete(j);
		free(t);
		free(sm);
	}
	compaction_clear(ctx, s);
	daimon_set_op(ctx, NULL);
	summary_told(ctx, s, rc < 0 ? -1 : 0, failure ? failure : rc < 0 ? daimon_error_last() : NULL);
}

/* The request is over the threshold: ask the model for a summary of the
 * middle first (the built request waits in s->req). */
static int start_compaction(daimon_ctx *ctx, struct session *s)
{
	if (!daimon_compact_cut(s->history, s->head_messages, s->tail_tokens, &s->cfrom, &s->cto)) {
		s->compress_floor = s->req.body.len / 4 * 5 / 4; /* too little to summarize yet */
		return send_request(ctx, s);
	}
	char *system;
	cJSON *msgs;
	daimon_compact_request(s->history, s->cfrom, s->cto, &system, &msgs);
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
	size_t before = s->req.body.len / 4;
	int rc = 0;
	if (!failure && !*summary)
		failure = "the model wrote an empty summary";
	if (failure) {
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "reason", failure);
		rc = daimon_log_append(s->log, "compaction_failed", NULL, f, NULL, NULL, NULL);
		cJSON_Delete(f);
		s->compress_floor = before * 5 / 4; /* not again before the history grows */
	} else {
		const cJSON *first = cJSON_GetArrayItem(s->history, s->cfrom);
		const cJSON *last = cJSON_GetArrayItem(s->history, s->cto);
		double from = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(first, "seq"));
		double to = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(last, "seq"));
		daimon_compact_apply(s->history, s->cfrom, s->cto, daimon_compact_message(summary, from));
		/* A fresh snapshot of the curated files comes with it. */
		free(s->system);
		s->system = system_prompt(s->store->home, s->key);
		daimon_llm_request_release(&s->req);
		rc = daimon_llm_build(&s->req, s->cfg, s->system, s->history, s->tools);
		size_t after = s->req.body.len / 4;
		if (after * 5 > before * 4) /* saved less than a fifth: do not keep trying */
			s->compress_floor = (size_t)-1;
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "summary", summary);
		cJSON_AddNumberToObject(f, "from_seq", from);
		cJSON_AddNumberToObject(f, "to_seq", to);
		cJSON_AddNumberToObject(f, "tokens_before", (double)before);
		cJSON_AddNumberToObject(f, "tokens_after", (double)after);
		if (rc == 0)
			rc = daimon_log_append(s->log, "compaction", NULL, f, NULL, NULL, NULL);
		cJSON_Delete(f);
	}
	compaction_clear(ctx, s);
	if (rc == 0)
		rc = daimon_log_flush(s->log);
	if (rc == 0)
		rc = send_request(ctx, s);
	if (rc == 0)
		rc = commit_async(ctx, s);
	if (rc < 0)
		abort_turn(ctx, s, rc);
}

/* Asks the model with the history as it stands (`retry`: the same call
 * again, after a failure that is worth retrying). */
static int call_model(daimon_ctx *ctx, struct session *s, int retry)
{
	if (s->stream) { /* the usage of the round before */
		int64_t in = 0, out = 0, cached = 0;
		daimon_llm_stream_usage(s->stream, &in, &out, &cached);
		s->tokens_in += in, s->tokens_out += out;
	}
	daimon_llm_request_release(&s->req);
	daimon_llm_stream_free(s->stream);
	s->stream = NULL;
	if (!retry)
		s->attempts = 0;
	if (!retry && ++s->rounds > MAX_ROUNDS)
		return daimon_error("the model asked for tools %d times in one turn; stopped", MAX_ROUNDS);
	if (daimon_llm_build(&s->req, s->cfg, s->system, s->history, s->tools) < 0)
		return -1;
	if (!retry && s->compress_at && s->req.body.len / 4 > s->compress_at && s->req.body.len / 4 > s->compress_floor)
		return start_compaction(ctx, s);
	return send_request(ctx, s);
}

/* The journal of a turn the daemon died in: the tool_intent and
 * tool_outcome records after seq `after`, by call id. */
static void read_journal(struct session *s, uint64_t after, cJSON *intents, cJSON *outcomes)
{
	char *path = daimon_store_log_path(s->store, s->id);
	daimon_log_reader *r;
	if (daimon_log_reader_open(&r, path, 0, 0, 0) == 0) {
		daimon_record rec;
		while (daimon_log_reader_next(r, &rec) == 1) {
			int intent = !strcmp(rec.type, "tool_intent"), outcome = !strcmp(rec.type, "tool_outcome");
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
		if (role && !strcmp(role, "assistant") && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "tool_calls")))
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
static int close_dangling(struct session *s)
{
	struct dangling d;
	if (!dangling_open(s, &d))
		return 0;
	int rc = 0;
	for (const cJSON *j = d.missing->child; j && rc == 0; j = j->next) {
		const char *id = daimon_json_str(j, "id"), *name = daimon_json_str(j, "name");
		const cJSON *outcome = id ? cJSON_GetObjectItemCaseSensitive(d.outcomes, id) : NULL;
		if (outcome) {
			rc = append_tool_result(s, j, daimon_json_str(outcome, "content") ? daimon_json_str(outcome, "content") : "",
						cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(outcome, "is_error")));
		} else {
			char *text = id && cJSON_GetObjectItemCaseSensitive(d.intents, id)
					     ? daimon_xasprintf(unknown_text, name ? name : "the tool")
					     : daimon_xstrdup("not run: daimon stopped before this call ran");
			rc = append_tool_result(s, j, text, 1);
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
	s->ncalls = cJSON_GetArraySize(missing);
	s->calls = daimon_xcalloc((size_t)s->ncalls, sizeof(*s->calls));
	int i = 0;
	for (const cJSON *j = missing->child; j; j = j->next, i++) {
		struct call *c = &s->calls[i];
		const char *id = daimon_json_str(j, "id");
		const cJSON *intent = id ? cJSON_GetObjectItemCaseSensitive(intents, id) : NULL;
		const cJSON *outcome = id ? cJSON_GetObjectItemCaseSensitive(outcomes, id) : NULL;
		c->call = cJSON_Duplicate(j, 1);
		c->ref = ++s->next_ref;
		if (daimon_tool_prepare(s->toolset, s->depth, j, &c->tool, &c->args, &c->result)) {
			call_finished(ctx, s, c, 1);
		} else if (outcome) { /* it finished before the crash: its result stands */
			daimon_buf_adds(&c->result, daimon_json_str(outcome, "content") ? daimon_json_str(outcome, "content") : "");
			call_finished(ctx, s, c, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(outcome, "is_error")));
		} else if (intent && c->tool->idempotent) { /* again, with the same key: the tool sees it is a repeat */
			c->key = daimon_xstrdup(daimon_json_str(intent, "key") ? daimon_json_str(intent, "key") : "");
			c->journaled = 1;
		} else if (intent) {
			daimon_buf_addf(&c->result, unknown_text, c->tool->name);
			call_finished(ctx, s, c, 1);
		}
	}
	dangling_close(&d);
	pump(ctx, s);
	return 1;
}

/* A message a channel may deliver again after a crash carries its id
 * (`mid`); one already in the log is not logged or answered twice: its
 * logged answer is told again, or, when the daemon died before the
 * answer, the turn runs again from the logged message (resumed). Returns
 * 1 when it was handled so. */
static int seen_before(daimon_ctx *ctx, struct session *s, daimon_aid asker, const char *mid)
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
		if (role && !strcmp(role, "assistant") && !cJSON_GetObjectItemCaseSensitive(m, "tool_calls")) {
			const char *text = daimon_json_str(m, "content");
			daimon_send(daimon_ctx_rt(ctx), asker, DAIMON_SESSION_DELTA, text, strlen(text ? text : ""));
			daimon_session_done d = {.status = 0};
			snprintf(d.session, sizeof(d.session), "%s", s->id);
			tell_done(ctx, asker, &d);
			return 1;
		}
	}
	/* Logged, never answered: the turn goes on from its journal, or the
	 * model is asked again from the log. */
	if (resume_calls(ctx, s))
		return 1;
	int rc = call_model(ctx, s, 0);
	if (rc < 0)
		abort_turn(ctx, s, rc);
	return 1;
}

/* A turn begins: for `asker`, on a message with this channel id (or
 * none), with the newest set of tools where there is one. */
static void begin_turn(struct session *s, daimon_aid asker, const char *mid)
{
	s->asker = asker;
	s->turn_mid = mid && *mid;
	s->rounds = 0;
	s->tokens_in = s->tokens_out = 0;
	const daimon_tool *t = s->tools_live ? atomic_load(s->tools_live) : NULL;
	if (!t || t == s->toolset)
		return;
	s->toolset = t;
	cJSON_Delete(s->tools);
	s->tools = daimon_tools_json(t, s->depth);
}

static void start_turn(daimon_ctx *ctx, struct session *s, daimon_aid asker, const char *text, const char *mid)
{
	begin_turn(s, asker, mid);
	if (!s->log && open_log(s) < 0) {
		reply_done(ctx, s, -1, daimon_error_last());
		return;
	}
	/* The question is written, the model asked, and only then the disk
	 * waited for: the sync overlaps the request instead of delaying it.
	 * Nothing is acknowledged before both the question and the answer
	 * are durable. */
	if (mid && *mid && seen_before(ctx, s, asker, mid))
		return;
	int rc = close_dangling(s);
	if (rc == 0)
		rc = append_message(s, "user", text, NULL, mid);
	if (rc == 0)
		rc = daimon_log_flush(s->log);
	if (rc == 0)
		rc = call_model(ctx, s, 0);
	if (rc == 0)
		rc = commit_async(ctx, s);
	if (rc < 0)
		abort_turn(ctx, s, rc);
}

/* Aborts the model call in flight and the tool calls still running. */
static void halt(daimon_ctx *ctx, struct session *s, const char *reason)
{
	if (s->transfer)
		daimon_http_cancel(ctx, s->http, s->transfer);
	if (s->retry_timer)
		daimon_timer_cancel(ctx, s->retry_timer);
	if (s->ttft_timer)
		daimon_timer_cancel(ctx, s->ttft_timer);
	s->transfer = s->retry_timer = s->ttft_timer = 0;
	compaction_clear(ctx, s);
	for (int i = 0; i < s->ncalls; i++) {
		struct call *c = &s->calls[i];
		if (c->state == CALL_DONE)
			continue;
		daimon_job_cancel(c->job);
		if (c->actor)
			daimon_cancel(daimon_ctx_rt(ctx), c->actor, 2000);
		if (c->state == CALL_RUNNING && c->tool->cancel)
			c->tool->cancel(ctx, c->ref, c->tool->payload);
		if (c->timer)
			daimon_timer_cancel(ctx, c->timer);
		c->timer = 0;
		daimon_buf_clear(&c->result);
		daimon_buf_addf(&c->result, "cancelled: %s", reason);
		c->is_error = 1;
		c->state = CALL_DONE;
	}
}

/* The turn failed where nothing more can be logged (the log is broken). */
static void abort_turn(daimon_ctx *ctx, struct session *s, int rc)
{
	char err[256];
	snprintf(err, sizeof(err), "%s", daimon_error_last());
	halt(ctx, s, err);
	s->done_pending = 0;
	reply_done(ctx, s, rc, err);
}

/* Stops the turn: the transfer is aborted, running tool calls cancelled
 * (each logged with what it came to), the log says why, the askers hear
 * (with `now`, after a sync here: the session is about to exit). */
static void stop_turn(daimon_ctx *ctx, struct session *s, const char *reason, int now)
{
	if (!s->asker)
		return;
	if (s->done_pending) { /* the turn is over, its log on the way to the disk */
		if (now) {
			int rc = daimon_log_commit(s->log);
			s->done_pending = 0;
			reply_done(ctx, s, rc < 0 ? rc : s->done_status, rc < 0 ? daimon_error_last() : s->done_error);
		}
		return;
	}
	halt(ctx, s, reason);
	int rc = 0;
	for (int i = 0; i < s->ncalls && rc == 0; i++)
		rc = append_tool_result(s, s->calls[i].call, daimon_buf_cstr(&s->calls[i].result),
					s->calls[i].is_error);
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "reason", reason);
	if (!s->ncalls && s->stream && daimon_llm_stream_text(s->stream)[0]) /* what the user saw */
		cJSON_AddStringToObject(f, "partial", daimon_llm_stream_text(s->stream));
	if (rc == 0)
		rc = daimon_log_append(s->log, "cancel", NULL, f, NULL, NULL, NULL);
	if (rc == 0 && now)
		rc = daimon_log_commit(s->log);
	if (rc == 0)
		cJSON_AddItemToArray(s->history, stopped_message(f));
	cJSON_Delete(f);
	s->done_pending = 0;
	if (rc < 0 || now)
		reply_done(ctx, s, rc < 0 ? rc : DAIMON_SESSION_CANCELLED, rc < 0 ? daimon_error_last() : reason);
	else
		finish(ctx, s, DAIMON_SESSION_CANCELLED, reason);
}

static void on_ask(daimon_ctx *ctx, struct session *s, const daimon_msg *m)
{
	const char *text = m->data, *mid = NULL;
	size_t len = m->len;
	if (m->type == DAIMON_SESSION_ASK_ONCE) { /* "mid\0text" */
		const char *nul = memchr(m->data, 0, m->len);
		if (!nul)
			return;
		mid = m->data;
		text = nul + 1;
		len = m->len - (size_t)(text - mid);
	}
	if (!s->asker) {
		if (s->csession) { /* not idle after all */
			compaction_clear(ctx, s);
			summary_told(ctx, s, DAIMON_SESSION_CANCELLED, "a new message came");
		}
		char *t = daimon_xstrndup(text, len);
		start_turn(ctx, s, m->from, t, mid);
		free(t);
		return;
	}
	switch (s->done_pending ? DAIMON_MID_TURN_QUEUE : s->mid_turn) {
	case DAIMON_MID_TURN_STEER:
		push(&s->steer, m->from, text, len, mid);
		break;
	case DAIMON_MID_TURN_INTERRUPT:
		push(&s->queue, m->from, text, len, mid);
		while (s->queue->next) /* only the newest message interrupts; the others are dropped */
			pending_free(pop(&s->queue));
		stop_turn(ctx, s, "interrupted by a new message", 0);
		break;
	default:
		push(&s->queue, m->from, text, len, mid);
		break;
	}
}

static void on_chunk(daimon_ctx *ctx, struct session *s, const daimon_msg *m)
{
	const daimon_http_chunk *c = m->data;
	if (!s->stream || c->id != s->transfer)
		return;      /* from a call that was stopped or replaced */
	if (s->ttft_timer) { /* the answer has started */
		daimon_timer_cancel(ctx, s->ttft_timer);
		s->ttft_timer = 0;
	}
	daimon_llm_stream_feed(s->stream, c->data, c->len);
	daimon_buf delta = DAIMON_BUF_INIT;
	if (daimon_llm_stream_take_delta(s->stream, &delta))
		daimon_send(daimon_ctx_rt(ctx), s->asker, DAIMON_SESSION_DELTA, delta.ptr, delta.len);
	daimon_buf_release(&delta);
}

#define MAX_ATTEMPTS 4

/* Rate limits, server errors and connections that failed before any of
 * the answer arrived are retried with jittered exponential backoff, or
 * after Retry-After when the server says. Returns 1 if a retry is set. */
static int maybe_retry(daimon_ctx *ctx, struct session *s, const daimon_http_result *r)
{
	int transient = s->ttft_expired ? 1
			: r->curl_code  ? r->curl_code == 7 || r->curl_code == 28 || r->curl_code == 18 ||
						 r->curl_code == 52 || r->curl_code == 56
				       : r->status == 429 || r->status == 500 || r->status == 502 || r->status == 503 ||
						 r->status == 504 || r->status == 529;
	if (!transient || s->attempts >= MAX_ATTEMPTS || (s->stream && daimon_llm_stream_text(s->stream)[0]))
		return 0;                     /* text already streamed to the user is not asked for twice */
	int64_t delay = 500LL << s->attempts; /* 0.5, 1, 2, 4 s */
	delay += (int64_t)(daimon_mono_ns() % (uint64_t)(delay / 2 + 1)) - delay / 4;
	if (r->retry_after_ms >= 0)
		delay = r->retry_after_ms < 60000 ? r->retry_after_ms : 60000;
	s->attempts++;
	s->retry_timer = daimon_timer_start(ctx, delay, 0);
	daimon_set_op(ctx, "waiting to retry the model");
	return 1;
}

/* ---- tool calls ---- */

struct tool_job {
	const daimon_tool *tool;
	cJSON *args;
	daimon_store *store;
	char *key;
	daimon_rt *rt;
	daimon_aid asker;
	const char *idempotency_key; /* the call's (it outlives the job) */
};

/* "NAME: 40% message" (or the count, without a total). */
static void progress_line(char *line, size_t size, const char *name, double done, double total, const char *message)
{
	if (total > 0)
		snprintf(line, size, "%s: %.0f%%%s%s", name, 100 * done / total, message ? " " : "", message ? message : "");
	else
		snprintf(line, size, "%s: %g%s%s", name, done, message ? " " : "", message ? message : "");
}

/* A tool's progress, as a line to whoever asked (from the work pool). */
static void tool_progress(void *payload, double done, double total, const char *message)
{
	struct tool_job *j = payload;
	char line[256];
	progress_line(line, sizeof(line), j->tool->name, done, total, message);
	daimon_send_from(j->rt, 0, j->asker, DAIMON_SESSION_PROGRESS, line, strlen(line));
}

static int tool_job_run(void *arg, daimon_buf *out, const _Atomic int *cancelled)
{
	struct tool_job *j = arg;
	daimon_tool_env env = {.store = j->store,
			       .key = j->key,
			       .cancelled = cancelled,
			       .payload = j->tool->payload,
			       .progress = tool_progress,
			       .progress_payload = j,
			       .idempotency_key = j->idempotency_key ? j->idempotency_key : ""};
	return j->tool->run(j->args, out, &env);
}

static void tool_job_free(void *arg)
{
	struct tool_job *j = arg;
	cJSON_Delete(j->args);
	free(j->key);
	free(j);
}

static int commit_async(daimon_ctx *ctx, struct session *s);

/* A journaled call's outcome goes to the disk as soon as it is known: a
 * crash after this point finds it and does not run the call again. */
static void journal_outcome(daimon_ctx *ctx, struct session *s, struct call *c, int is_error)
{
	daimon_fault_point("returned");
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "call_id", daimon_json_str(c->call, "id") ? daimon_json_str(c->call, "id") : "");
	cJSON_AddStringToObject(f, "name", c->tool->name);
	cJSON_AddStringToObject(f, "key", c->key);
	cJSON_AddStringToObject(f, "content", daimon_buf_cstr(&c->result));
	cJSON_AddBoolToObject(f, "is_error", is_error);
	if (daimon_log_append(s->log, "tool_outcome", NULL, f, NULL, NULL, NULL) == 0 && commit_async(ctx, s) == 0)
		daimon_fault_point("outcome");
	cJSON_Delete(f);
}

static void call_finished(daimon_ctx *ctx, struct session *s, struct call *c, int is_error)
{
	if (c->state == CALL_RUNNING && c->journaled)
		journal_outcome(ctx, s, c, is_error);
	if (c->state == CALL_RUNNING || c->state == CALL_ASKING || c->state == CALL_JOURNALING)
		s->nrunning--;
	c->state = CALL_DONE;
	c->is_error = is_error;
	if (c->timer)
		daimon_timer_cancel(ctx, c->timer);
	c->timer = 0;
	daimon_job_release(c->job);
	c->job = NULL;
	/* One line for the asker: name, outcome, time. */
	const char *text = daimon_buf_cstr(&c->result);
	char line[160];
	snprintf(line, sizeof(line), "%s %s %.0f ms%s%.*s", daimon_json_str(c->call, "name"),
		 is_error ? "failed after" : "done in",
		 c->started ? (double)(daimon_mono_ns() - c->started) / 1e6 : 0.0, is_error ? ": " : "",
		 is_error ? (int)strcspn(text, "\n") : 0, text);
	daimon_send(daimon_ctx_rt(ctx), s->asker, DAIMON_SESSION_TOOL, line, strlen(line));
}

#define APPROVAL_MS (5 * 60 * 1000)

/* A tool that needs the user's approval: the asker is asked first. */
static void ask_approval(daimon_ctx *ctx, struct session *s, struct call *c)
{
	c->state = CALL_ASKING;
	s->nrunning++;
	char *args = c->args ? cJSON_PrintUnformatted(c->args) : daimon_xstrdup("{}");
	char *what = daimon_xasprintf("%s %s", c->tool->name, args);
	size_t n = sizeof(daimon_session_approval) + strlen(what) + 1;
	daimon_session_approval *a = daimon_xcalloc(1, n);
	a->ref = c->ref;
	memcpy(a->what, what, strlen(what) + 1);
	daimon_send(daimon_ctx_rt(ctx), s->asker, DAIMON_SESSION_APPROVE, a, n);
	free(a);
	free(what);
	free(args);
	c->timer = daimon_timer_start(ctx, APPROVAL_MS, 0);
	daimon_set_op(ctx, "waiting for the user's approval");
}

/* Before a side-effecting call runs, its intent and idempotency key go to
 * the disk; it runs once they are there (on_synced). */
static int journal_intent(daimon_ctx *ctx, struct session *s, struct call *c)
{
	const char *id = daimon_json_str(c->call, "id");
	if (!c->key)
		c->key = daimon_xasprintf("%s/%s", s->id, id ? id : "");
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "call_id", id ? id : "");
	cJSON_AddStringToObject(f, "name", c->tool->name);
	cJSON_AddStringToObject(f, "key", c->key);
	cJSON_AddBoolToObject(f, "idempotent", c->tool->idempotent);
	int rc = daimon_log_append(s->log, "tool_intent", NULL, f, NULL, NULL, &c->intent_seq);
	cJSON_Delete(f);
	/* (a channel's message is delivered again instead; a sub-agent's turn
	 * is its parent's to take up) */
	if (rc == 0 && !s->marked && !s->turn_mid && s->depth == 0)
		mark(s);
	if (rc == 0)
		rc = commit_async(ctx, s);
	return rc;
}

static void launch(daimon_ctx *ctx, struct session *s, struct call *c)
{
	if (c->tool->needs_approval && !c->approved) {
		ask_approval(ctx, s, c);
		return;
	}
	if (c->tool->side_effecting && !c->journaled && s->log) {
		if (c->state != CALL_ASKING)
			s->nrunning++;
		c->state = CALL_JOURNALING;
		if (journal_intent(ctx, s, c) < 0)
			not_journaled(ctx, s, c);
		daimon_set_op(ctx, "journaling a tool call");
		return;
	}
	if (c->state != CALL_ASKING && c->state != CALL_JOURNALING)
		s->nrunning++;
	c->state = CALL_RUNNING;
	c->started = daimon_mono_ns();
	if (c->tool->send) {
		if (c->tool->send(ctx, c->args, c->ref, c->key ? c->key : "", c->tool->payload) < 0) {
			daimon_buf_addf(&c->result, "%s could not be asked: %s", c->tool->name, daimon_error_last());
			call_finished(ctx, s, c, 1);
			return;
		}
	} else if (c->tool->run) {
		struct tool_job *j = daimon_xcalloc(1, sizeof(*j));
		j->tool = c->tool;
		j->args = c->args;
		j->store = s->store;
		j->key = daimon_xstrdup(s->key);
		j->rt = daimon_ctx_rt(ctx);
		j->asker = s->asker;
		j->idempotency_key = c->key;
		c->args = NULL;
		c->job = daimon_job_submit(daimon_ctx_rt(ctx), daimon_self(ctx), c->ref, tool_job_run, j, tool_job_free);
	} else {
		daimon_tool_host host = {
			.store = s->store, .http = s->http, .cfg = s->cfg, .key = s->key, .depth = s->depth};
		if (!(c->actor = c->tool->spawn(ctx, c->args, c->ref, &host))) {
			daimon_buf_addf(&c->result, "%s could not start: %s", c->tool->name, daimon_error_last());
			call_finished(ctx, s, c, 1);
			return;
		}
		c->monitor = daimon_monitor(ctx, c->actor);
	}
	long ms = c->tool->timeout_ms > 0 ? c->tool->timeout_ms : s->tool_timeout_ms;
	c->timer = daimon_timer_start(ctx, ms, 0);
}

/* Starts calls while there is room; once every call is done, logs the
 * results with the calls in one commit, takes in steering messages, and
 * asks the model again. */
static void pump(daimon_ctx *ctx, struct session *s)
{
	int done = 0;
	for (int i = 0; i < s->ncalls; i++) {
		if (s->calls[i].state == CALL_WAITING && s->nrunning < s->tool_parallel)
			launch(ctx, s, &s->calls[i]);
		done += s->calls[i].state == CALL_DONE;
	}
	if (done < s->ncalls)
		return;
	int rc = 0;
	for (int i = 0; i < s->ncalls && rc == 0; i++)
		rc = append_tool_result(s, s->calls[i].call, daimon_buf_cstr(&s->calls[i].result),
					s->calls[i].is_error);
	if (rc == 0 && daimon_log_flush(s->log) == 0)
		daimon_fault_point("results");
	free_calls(s);
	struct pending *p;
	while (rc == 0 && (p = pop(&s->steer))) {
		rc = append_message(s, "user", p->text, NULL, p->mid);
		if (s->nalso < MAX_ALSO)
			s->also[s->nalso++] = p->asker;
		pending_free(p);
	}
	if (rc == 0)
		rc = daimon_log_flush(s->log);
	if (rc == 0)
		rc = call_model(ctx, s, 0);
	if (rc == 0)
		rc = commit_async(ctx, s); /* the results' sync overlaps the request */
	if (rc < 0)
		abort_turn(ctx, s, rc);
}

static void start_calls(daimon_ctx *ctx, struct session *s, const cJSON *calls)
{
	daimon_set_op(ctx, "running tools");
	s->ncalls = cJSON_GetArraySize(calls);
	s->calls = daimon_xcalloc((size_t)s->ncalls, sizeof(*s->calls));
	int i = 0;
	for (const cJSON *j = calls->child; j; j = j->next, i++) {
		struct call *c = &s->calls[i];
		c->call = cJSON_Duplicate(j, 1);
		c->ref = ++s->next_ref;
		if (daimon_tool_prepare(s->toolset, s->depth, j, &c->tool, &c->args, &c->result))
			call_finished(ctx, s, c, 1); /* the validation error is its result */
	}
	pump(ctx, s);
}

static struct call *call_by(struct session *s, int (*match)(const struct call *c, uint64_t v), uint64_t v)
{
	for (int i = 0; i < s->ncalls; i++)
		if ((s->calls[i].state == CALL_RUNNING || s->calls[i].state == CALL_ASKING) && match(&s->calls[i], v))
			return &s->calls[i];
	return NULL;
}

static int by_ref(const struct call *c, uint64_t v) { return c->ref == v; }
static int by_timer(const struct call *c, uint64_t v) { return c->timer == v; }
static int by_monitor(const struct call *c, uint64_t v) { return c->monitor && c->monitor == v; }

static void on_job_done(daimon_ctx *ctx, struct session *s, const daimon_msg *m)
{
	const daimon_job_done *d = m->data;
	struct call *c = call_by(s, by_ref, d->ref);
	if (!c || c->state != CALL_RUNNING)
		return; /* timed out or stopped: too late */
	int is_error = d->status < 0;
	if (d->status == 0 && c->tool->result)
		is_error = c->tool->result(d->text, &c->result, c->tool->payload);
	else
		daimon_buf_add(&c->result, d->text, d->len);
	call_finished(ctx, s, c, is_error);
	pump(ctx, s);
}

static void on_approval(daimon_ctx *ctx, struct session *s, const daimon_msg *m)
{
	const daimon_session_approval *a = m->data;
	struct call *c = m->len >= sizeof(*a) ? call_by(s, by_ref, a->ref) : NULL;
	if (!c || c->state != CALL_ASKING)
		return; /* too late, or never asked */
	daimon_timer_cancel(ctx, c->timer);
	c->timer = 0;
	if (a->allow) {
		c->approved = 1;
		launch(ctx, s, c);
		return;
	}
	daimon_buf_addf(&c->result, "the user did not allow this call of %s", c->tool->name);
	call_finished(ctx, s, c, 1);
	pump(ctx, s);
}

static void on_call_timeout(daimon_ctx *ctx, struct session *s, struct call *c)
{
	c->timer = 0;
	if (c->state == CALL_RUNNING && c->tool->cancel)
		c->tool->cancel(ctx, c->ref, c->tool->payload);
	if (c->state == CALL_ASKING) {
		daimon_buf_addf(&c->result, "no answer from the user about this call of %s", c->tool->name);
		call_finished(ctx, s, c, 1);
		pump(ctx, s);
		return;
	}
	daimon_job_cancel(c->job);
	if (c->actor)
		daimon_cancel(daimon_ctx_rt(ctx), c->actor, 2000);
	long ms = c->tool->timeout_ms > 0 ? c->tool->timeout_ms : s->tool_timeout_ms;
	daimon_buf_clear(&c->result);
	daimon_buf_addf(&c->result, "%s timed out after %.1f s", c->tool->name, (double)ms / 1000);
	call_finished(ctx, s, c, 1);
	pump(ctx, s);
}

static void on_call_down(daimon_ctx *ctx, struct session *s, struct call *c, int64_t reason)
{
	daimon_buf_clear(&c->result);
	daimon_buf_addf(&c->result, "%s stopped without a result (exit %lld)", c->tool->name, (long long)reason);
	call_finished(ctx, s, c, 1);
	pump(ctx, s);
}

static void on_done(daimon_ctx *ctx, struct session *s, const daimon_msg *m)
{
	const daimon_http_result *r = m->data;
	if (!s->stream || r->id != s->transfer)
		return; /* from a call that was stopped or replaced */
	s->transfer = 0;
	if (s->ttft_timer) {
		daimon_timer_cancel(ctx, s->ttft_timer);
		s->ttft_timer = 0;
	}
	if ((r->curl_code || r->status < 200 || r->status > 299) && maybe_retry(ctx, s, r))
		return;
	if (daimon_llm_stream_end(s->stream, s->cfg, r) < 0) {
		finish(ctx, s, -1, daimon_error_last()); /* a cut answer is not logged as an answer */
		return;
	}
	int64_t in = 0, out = 0, cached = 0;
	daimon_llm_stream_usage(s->stream, &in, &out, &cached);
	const cJSON *calls = daimon_llm_stream_tool_calls(s->stream);
	int ncalls = cJSON_GetArraySize(calls);
	int rc = append_message(s, "assistant", daimon_llm_stream_text(s->stream), calls, NULL);
	if (rc < 0 || !ncalls) {
		s->tokens_in += in, s->tokens_out += out;
		daimon_llm_stream_free(s->stream); /* counted */
		s->stream = NULL;
		finish(ctx, s, rc, rc < 0 ? daimon_error_last() : NULL);
		return;
	}
	/* The model asked for tools: they run side by side; the results are
	 * logged with the calls in one commit (pump), and the model is asked
	 * again. */
	start_calls(ctx, s, calls);
}

static void on_timer(daimon_ctx *ctx, struct session *s, const daimon_msg *m)
{
	struct call *c;
	if (m->ref == s->idle_timer) {
		s->idle_timer = 0;
		if (s->asker)
			return;
		if (s->cactor) { /* a summary still being written: later */
			s->idle_timer = daimon_timer_start(ctx, s->idle_ms > 0 ? s->idle_ms : 600000, 0);
			return;
		}
		if (s->summarize && start_summary(ctx, s) == 0) /* hibernates at the next idle timer */
			s->idle_timer = daimon_timer_start(ctx, s->idle_ms > 0 ? s->idle_ms : 600000, 0);
		else
			daimon_hibernate(ctx);
	} else if (m->ref == s->ttft_timer && s->transfer) { /* no answer started in time */
		s->ttft_timer = 0;
		s->ttft_expired = 1;
		daimon_http_cancel(ctx, s->http, s->transfer); /* its DONE takes the retry path */
	} else if (m->ref == s->retry_timer && s->asker) {
		s->retry_timer = 0;
		if (call_model(ctx, s, 1) < 0)
			finish(ctx, s, -1, daimon_error_last());
	} else if ((c = call_by(s, by_timer, m->ref))) {
		on_call_timeout(ctx, s, c);
	}
}

/* The summary asked for on the side is in. */
static void on_aside_done(daimon_ctx *ctx, struct session *s, const daimon_job_done *d)
{
	int for_session = s->csession;
	s->cactor = 0; /* (it has exited) */
	s->cref = 0;
	char why[300] = "";
	if (d->status < 0)
		snprintf(why, sizeof(why), "the summary's model call failed: %s", d->text);
	if (for_session)
		summary_done(ctx, s, why[0] ? why : NULL, d->status < 0 ? "" : d->text);
	else
		compaction_done(ctx, s, why[0] ? why : NULL, d->status < 0 ? "" : d->text);
}

/* A turn the process died in, taken up with nobody listening (the
 * session is its own asker: what it would tell comes back to it and is
 * dropped); its answer is in the log for whoever looks. */
static void on_resume(daimon_ctx *ctx, struct session *s)
{
	if (s->asker)
		return; /* a turn runs: it was taken up already */
	s->marked = 1; /* (the mark exists: it goes when this ends) */
	if (!s->log && open_log(s) < 0) {
		unmark(s);
		return;
	}
	begin_turn(s, daimon_self(ctx), NULL);
	if (resume_calls(ctx, s))
		return;
	const char *role = daimon_json_str(cJSON_GetArrayItem(s->history, cJSON_GetArraySize(s->history) - 1), "role");
	if (role && (!strcmp(role, "tool") || !strcmp(role, "user"))) { /* the model had not answered yet */
		int rc = call_model(ctx, s, 0);
		if (rc < 0)
			abort_turn(ctx, s, rc);
		return;
	}
	s->asker = 0;
	unmark(s);
}

static int session_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct session *s = state;
	struct call *c;
	switch (m->type) {
	case DAIMON_SESSION_ASK:
	case DAIMON_SESSION_ASK_ONCE:
		on_ask(ctx, s, m);
		break;
	case DAIMON_SESSION_NEXT:
		if (!s->asker && s->queue) {
			struct pending *p = pop(&s->queue);
			start_turn(ctx, s, p->asker, p->text, p->mid);
			pending_free(p);
		}
		break;
	case DAIMON_SESSION_SUMMARIZE:
		if (s->summary_asker || s->asker || s->cactor) {
			daimon_session_done d = {.status = DAIMON_EBUSY};
			snprintf(d.error, sizeof(d.error), "the session is busy");
			tell_done(ctx, m->from, &d);
		} else {
			s->summary_asker = m->from;
			int rc = (!s->log && open_log(s) < 0) ? -1 : start_summary(ctx, s);
			if (rc != 0)
				summary_told(ctx, s, rc < 0 ? -1 : 0, rc < 0 ? daimon_error_last() : "nothing new to summarize");
		}
		break;
	case DAIMON_SESSION_APPROVAL:
		on_approval(ctx, s, m);
		break;
	case DAIMON_SESSION_RESUME:
		on_resume(ctx, s);
		break;
	case DAIMON_SESSION_STOP:
		stop_turn(ctx, s, "stopped by the user", 0);
		drop_pending(ctx, s, &s->steer);
		drop_pending(ctx, s, &s->queue);
		break;
	case DAIMON_MSG_HTTP_CHUNK:
		on_chunk(ctx, s, m);
		break;
	case DAIMON_MSG_HTTP_DONE:
		on_done(ctx, s, m);
		break;
	case DAIMON_PORT_PROGRESS: { /* a port's progress, told to the asker as a line */
		const daimon_job_done *d = m->data;
		struct call *pc = call_by(s, by_ref, d->ref);
		cJSON *p = pc ? cJSON_Parse(d->text) : NULL;
		if (p) {
			const cJSON *total = cJSON_GetObjectItemCaseSensitive(p, "total");
			char line[256];
			progress_line(line, sizeof(line), pc->tool->name,
				      cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "progress")),
				      cJSON_IsNumber(total) ? total->valuedouble : 0, daimon_json_str(p, "message"));
			daimon_send(daimon_ctx_rt(ctx), s->asker, DAIMON_SESSION_PROGRESS, line, strlen(line));
		}
		cJSON_Delete(p);
		break;
	}
	case DAIMON_MSG_JOB_DONE:
		if (s->sync_ref && ((const daimon_job_done *)m->data)->ref == s->sync_ref)
			on_synced(ctx, s, m->data);
		else if (s->cref && ((const daimon_job_done *)m->data)->ref == s->cref)
			on_aside_done(ctx, s, m->data);
		else
			on_job_done(ctx, s, m);
		break;
	case DAIMON_MSG_DOWN:
		if ((c = call_by(s, by_monitor, m->ref)))
			on_call_down(ctx, s, c, m->arg);
		break;
	case DAIMON_MSG_TIMER:
		on_timer(ctx, s, m);
		break;
	}
	return DAIMON_CONTINUE;
}

/* Cancelled (its parent's subtree collapsing, a sub-agent's deadline): the
 * turn is stopped and logged as such, and the session exits. */
static int session_cancel(daimon_ctx *ctx, void *state)
{
	struct session *s = state;
	if (s->asleep) /* hibernated: nothing running, nothing to log */
		return DAIMON_EXIT_CANCELLED;
	stop_turn(ctx, s, "cancelled", 1);
	drop_pending(ctx, s, &s->steer);
	drop_pending(ctx, s, &s->queue);
	return DAIMON_EXIT_CANCELLED;
}

static void session_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)ctx, (void)reason;
	struct session *s = state;
	if (s->asleep) {
		struct sleeping *z = state;
		daimon_cold_free(daimon_rt_cold(daimon_ctx_rt(ctx)), z, sleeping_size(z->key));
		return;
	}
	for (int i = 0; i < s->ncalls; i++)
		daimon_job_cancel(s->calls[i].job);
	free_calls(s);
	daimon_job_release(s->sync_job);
	struct pending *p;
	while ((p = pop(&s->queue)) || (p = pop(&s->steer)))
		pending_free(p);
	daimon_log_close(s->log);
	cJSON_Delete(s->history);
	cJSON_Delete(s->tools);
	daimon_llm_stream_free(s->stream);
	daimon_llm_request_release(&s->req);
	free(s->system);
	free(s->key);
	free(s);
}

static const daimon_behaviour session_behaviour = {
	.name = "session",
	.handle = session_handle,
	.terminate = session_terminate,
	.on_cancel = session_cancel,
	.hibernate = session_hibernate,
	.wake = session_wake,
};

daimon_aid daimon_session_start(daimon_rt *rt, daimon_store *store, const char *key, daimon_aid http,
				const daimon_llm_config *cfg, const daimon_session_opts *opts)
{
	static const daimon_session_opts defaults = {0};
	if (!opts)
		opts = &defaults;
	struct session *s = daimon_xcalloc(1, sizeof(*s));
	s->store = store;
	s->key = daimon_xstrdup(key);
	s->http = http;
	s->cfg = cfg;
	s->idle_ms = opts->idle_ms;
	s->mid_turn = opts->mid_turn;
	s->toolset = opts->tools ? opts->tools : daimon_builtin_tools;
	s->tools_live = opts->tools_live;
	s->tool_parallel = opts->tool_parallel > 0 ? opts->tool_parallel : 4;
	s->tool_timeout_ms = opts->tool_timeout_ms > 0 ? opts->tool_timeout_ms : 120000;
	s->depth = opts->depth;
	s->compress_at = opts->context_window > 0 ? (size_t)((double)opts->context_window *
							     (opts->compress_threshold > 0 ? opts->compress_threshold : 0.5))
						  : 0;
	s->tail_tokens = opts->tail_tokens > 0 ? opts->tail_tokens : s->compress_at / 2;
	s->head_messages = opts->head_messages > 0 ? opts->head_messages : 2;
	s->summarize = opts->summarize;
	s->tools = daimon_tools_json(s->toolset, s->depth);
	daimon_session_id_for_key(s->id, key);
	if (open_log(s) < 0) {
		session_terminate(NULL, s, 0);
		return 0;
	}
	s->system = system_prompt(store->home, key);
	daimon_spawn_opts o = {
		.behaviour = &session_behaviour, .state = s, .flags = opts->child ? DAIMON_SPAWN_CHILD : 0};
	daimon_aid id = daimon_spawn(rt, &o);
	if (id)
		daimon_register(rt, key, id);
	else
		session_terminate(NULL, s, 0);
	return id;
}
