/*
 * test_index.c — the FTS5 index (catch-up, rebuild, damage) and search
 * (ranking, filters, fallback, snippets).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/timefmt.h"
#include "memory/index.h"

#include "memory/search.h"
#include "memory/snippet.h"
#include "memory/text.h"
#include "tests/test.h"
#include <sqlite3.h>

struct world {
	daimon_store st;
	daimon_index *ix;
};

static void world_open(struct world *w)
{
	const char *home = test_tmpdir();
	if (daimon_store_open(&w->st, home) < 0 || daimon_index_open(&w->ix, &w->st) < 0) {
		fprintf(stderr, "%s\n", daimon_error_last());
		abort();
	}
}

static void world_close(struct world *w)
{
	daimon_index_close(w->ix);
	daimon_store_release(&w->st);
}

/* Creates session `id` with messages given as "role:text" strings, each
 * `step_ms` after 2026-01-01. */
static void add_session(struct world *w, const char *id, const char *const *msgs, int64_t step_ms)
{
	int64_t t0;
	daimon_ts_parse("2026-01-01T00:00:00Z", &t0);
	daimon_session_meta meta = {.id = id, .key = "cli:test", .created = t0};
	daimon_log *log;
	if (daimon_store_create(&w->st, &meta, 0, &log, NULL) < 0) {
		fprintf(stderr, "%s\n", daimon_error_last());
		abort();
	}
	for (int i = 0; msgs[i]; i++) {
		const char *colon = strchr(msgs[i], ':');
		char *role = daimon_xstrndup(msgs[i], (size_t)(colon - msgs[i]));
		cJSON *f = cJSON_CreateObject();
		char ts[DAIMON_TS_LEN];
		daimon_ts_format(ts, t0 + (i + 1) * step_ms);
		if (!strcmp(role, "tool")) {
			cJSON_AddStringToObject(f, "call_id", "c1");
			cJSON_AddStringToObject(f, "content", colon + 1);
			daimon_log_append(log, "tool_result", ts, f, NULL, NULL, NULL);
		} else {
			cJSON_AddStringToObject(f, "role", role);
			cJSON_AddStringToObject(f, "content", colon + 1);
			daimon_log_append(log, "message", ts, f, NULL, NULL, NULL);
		}
		cJSON_Delete(f);
		free(role);
	}
	daimon_log_close(log);
}

static int64_t count(struct world *w, const char *sql)
{
	sqlite3_stmt *s;
	sqlite3_prepare_v2(daimon_index_db(w->ix), sql, -1, &s, NULL);
	int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
	sqlite3_finalize(s);
	return n;
}

static size_t search(struct world *w, daimon_search_opts *o, daimon_search_result *r)
{
	o->mark_open = "[";
	o->mark_close = "]";
	if (daimon_search(w->ix, o, r) < 0) {
		fprintf(stderr, "search: %s\n", daimon_error_last());
		return (size_t)-1;
	}
	return r->n;
}

static const char *const convo_a[] = {"user:my cat Tiberius hates the vacuum cleaner",
				      "assistant:cats often fear loud noises", NULL};
static const char *const convo_b[] = {"user:plan a trip to Lisbon in spring", "assistant:Lisbon is lovely in April",
				      "tool:weather Lisbon April: 21C sunny", NULL};

static void test_index__update_indexes_new_sessions_and_appends(void)
{
	struct world w;
	world_open(&w);
	add_session(&w, "a", convo_a, 1000);
	daimon_index_stats stats = {0};
	CHECK_INT(daimon_index_update(w.ix, NULL, &stats), 0);
	CHECK_INT(stats.records_indexed, 2);
	CHECK_INT(count(&w, "SELECT count(*) FROM msgs"), 2);
	/* Append to the same log: only the new record is indexed. */
	char *path = daimon_store_log_path(&w.st, "a");
	daimon_log *log;
	CHECK_INT(daimon_log_open(&log, path, 0, NULL), 0);
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "role", "user");
	cJSON_AddStringToObject(f, "content", "and the dog likes it");
	daimon_log_append(log, "message", NULL, f, NULL, NULL, NULL);
	cJSON_Delete(f);
	daimon_log_close(log);
	memset(&stats, 0, sizeof(stats));
	CHECK_INT(daimon_index_update(w.ix, NULL, &stats), 0);
	CHECK_INT(stats.records_indexed, 1);
	CHECK_INT(count(&w, "SELECT count(*) FROM msgs"), 3);
	CHECK_INT(count(&w, "SELECT n_msgs FROM logs WHERE id='a'"), 3);
	/* Nothing new: nothing done. */
	memset(&stats, 0, sizeof(stats));
	CHECK_INT(daimon_index_update(w.ix, NULL, &stats), 0);
	CHECK_INT(stats.records_indexed, 0);
	free(path);
	world_close(&w);
}

static void test_index__resumes_from_recorded_offset_after_reopen(void)
{
	struct world w;
	world_open(&w);
	add_session(&w, "a", convo_a, 1000);
	CHECK_INT(daimon_index_update_session(w.ix, "a", NULL), 0);
	int64_t off = count(&w, "SELECT off FROM logs WHERE id='a'");
	struct stat st;
	char *path = daimon_store_log_path(&w.st, "a");
	stat(path, &st);
	CHECK_INT(off, st.st_size);
	/* A new process (a new connection) sees the same offset and adds nothing twice. */
	daimon_index_close(w.ix);
	CHECK_INT(daimon_index_open(&w.ix, &w.st), 0);
	CHECK_INT(daimon_index_update_session(w.ix, "a", NULL), 0);
	CHECK_INT(count(&w, "SELECT count(*) FROM msgs"), 2);
	free(path);
	world_close(&w);
}

static void test_index__refresh_notices_a_new_session(void)
{
	struct world w;
	world_open(&w);
	add_session(&w, "a", convo_a, 1000);
	CHECK_INT(daimon_index_refresh(w.ix, NULL), 0);
	CHECK_INT(count(&w, "SELECT count(*) FROM logs"), 1);
	usleep(20000);
	add_session(&w, "b", convo_b, 1000);
	CHECK_INT(daimon_index_refresh(w.ix, NULL), 0);
	CHECK_INT(count(&w, "SELECT count(*) FROM logs"), 2);
	world_close(&w);
}

/* A log that grows tells the folder (its mtime), so a reader's cheap
 * refresh sees what a live session just said. */
static void test_index__refresh_notices_a_log_that_grew(void)
{
	struct world w;
	world_open(&w);
	add_session(&w, "a", convo_a, 1000);
	struct timespec old[2] = {{.tv_sec = time(NULL) - 60}, {.tv_sec = time(NULL) - 60}};
	CHECK_INT(utimensat(AT_FDCWD, w.st.sessions_dir, old, 0), 0); /* (no longer "just changed") */
	CHECK_INT(daimon_index_refresh(w.ix, NULL), 0);
	CHECK_INT(count(&w, "SELECT n_msgs FROM logs WHERE id='a'"), 2);
	char *path = daimon_store_log_path(&w.st, "a");
	daimon_log *log;
	CHECK_INT(daimon_log_open(&log, path, 0, NULL), 0);
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "role", "user");
	cJSON_AddStringToObject(f, "content", "one more thing");
	daimon_log_append(log, "message", NULL, f, NULL, NULL, NULL);
	cJSON_Delete(f);
	daimon_log_close(log);
	free(path);
	CHECK_INT(daimon_index_refresh(w.ix, NULL), 0);
	CHECK_INT(count(&w, "SELECT n_msgs FROM logs WHERE id='a'"), 3);
	world_close(&w);
}

static void test_index__refresh_does_not_wait_for_another_writer(void)
{
	struct world w;
	world_open(&w);
	add_session(&w, "a", convo_a, 1000);
	daimon_index_update(w.ix, NULL, NULL);
	usleep(20000);
	add_session(&w, "b", convo_b, 1000);
	/* Another process holds the write lock (an import in progress). */
	daimon_index *other;
	CHECK_INT(daimon_index_open(&other, &w.st), 0);
	CHECK(sqlite3_exec(daimon_index_db(other), "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
	CHECK_INT(daimon_index_refresh(w.ix, NULL), 0);
	CHECK_INT(count(&w, "SELECT count(*) FROM logs"), 1); /* searched what was committed */
	sqlite3_exec(daimon_index_db(other), "ROLLBACK", NULL, NULL, NULL);
	daimon_index_close(other);
	CHECK_INT(daimon_index_refresh(w.ix, NULL), 0);
	CHECK_INT(count(&w, "SELECT count(*) FROM logs"), 2);
	world_close(&w);
}

static void test_index__rebuild_gives_the_same_index(void)
{
	struct world w;
	world_open(&w);
	add_session(&w, "a", convo_a, 1000);
	add_session(&w, "b", convo_b, 1000);
	daimon_index_update(w.ix, NULL, NULL);
	int64_t msgs = count(&w, "SELECT count(*) FROM msgs");
	daimon_index_stats stats = {0};
	CHECK_INT(daimon_index_rebuild(w.ix, NULL, &stats), 0);
	CHECK_INT(stats.records_indexed, 5);
	CHECK_INT(count(&w, "SELECT count(*) FROM msgs"), msgs);
	CHECK_INT(count(&w, "SELECT count(*) FROM fts WHERE fts MATCH 'lisbon'"), 3);
	daimon_index_status s;
	CHECK_INT(daimon_index_get_status(w.ix, &s), 0);
	CHECK_INT(s.sessions, 2);
	CHECK_INT(s.messages, 4);
	CHECK_INT(s.logs_behind, 0);
	CHECK(s.built > 0);
	world_close(&w);
}

static void warn_count(void *payload, const char *msg)
{
	(void)msg;
	(*(int *)payload)++;
}

static void test_index__removed_or_shrunk_log_rebuilds(void)
{
	struct world w;
	world_open(&w);
	add_session(&w, "a", convo_a, 1000);
	add_session(&w, "b", convo_b, 1000);
	daimon_index_update(w.ix, NULL, NULL);
	char *path = daimon_store_log_path(&w.st, "b");
	unlink(path);
	int warned = 0;
	daimon_index_hooks hooks = {NULL, warn_count, &warned};
	daimon_index_stats stats = {0};
	CHECK_INT(daimon_index_update(w.ix, &hooks, &stats), 0);
	CHECK(stats.rebuilt);
	CHECK_INT(warned, 1);
	CHECK_INT(count(&w, "SELECT count(*) FROM fts WHERE fts MATCH 'lisbon'"), 0);
	CHECK_INT(count(&w, "SELECT count(*) FROM logs"), 1);
	free(path);
	world_close(&w);
}

static void test_index__damaged_log_keeps_good_records_and_warns(void)
{
	struct world w;
	world_open(&w);
	add_session(&w, "a", convo_a, 1000);
	char *path = daimon_store_log_path(&w.st, "a");
	int fd = open(path, O_WRONLY | O_APPEND);
	const char *junk = "garbage line\n{\"seq\":5,\"ts\":\"2026-01-01T00:00:00Z\",\"type\":\"message\","
			   "\"role\":\"user\",\"content\":\"after the damage\"}\n";
	CHECK(write(fd, junk, strlen(junk)) == (ssize_t)strlen(junk));
	close(fd);
	int warned = 0;
	daimon_index_hooks hooks = {NULL, warn_count, &warned};
	daimon_index_stats stats = {0};
	CHECK_INT(daimon_index_update(w.ix, &hooks, &stats), 0);
	CHECK_INT(stats.damaged, 1);
	CHECK_INT(warned, 1);
	CHECK_CONTAINS(daimon_error_last(), "a.jsonl:4: not valid JSON");
	CHECK_INT(count(&w, "SELECT count(*) FROM msgs"), 2);
	/* Still reported next time: damage is never passed over in silence. */
	CHECK_INT(daimon_index_update(w.ix, &hooks, &stats), 0);
	CHECK_INT(warned, 2);
	free(path);
	world_close(&w);
}

static void test_search__best_match_first_with_highlight(void)
{
	struct world w;
	world_open(&w);
	const char *const many[] = {"user:lisbon", "user:porto", "user:madrid lisbon lisbon lisbon", "user:rome", NULL};
	add_session(&w, "a", convo_a, 1000);
	add_session(&w, "b", convo_b, 1000);
	add_session(&w, "c", many, 1000);
	for (int i = 0; i < 20; i++) {
		char id[16];
		snprintf(id, sizeof(id), "filler%d", i);
		const char *const filler[] = {"user:nothing to see here", NULL};
		add_session(&w, id, filler, 1000);
	}
	daimon_index_update(w.ix, NULL, NULL);
	daimon_search_opts o = {.query = "lisbon"};
	daimon_search_result r;
	CHECK_INT(search(&w, &o, &r), 5);
	CHECK_STR(r.hits[0].session, "c");
	CHECK_INT(r.hits[0].seq, 4);
	CHECK(r.hits[0].score >= r.hits[1].score && r.hits[1].score > 0);
	CHECK_STR(r.hits[0].snippet, "madrid [lisbon] [lisbon] [lisbon]");
	CHECK(!r.plain_words);
	daimon_search_result_release(&r);
	world_close(&w);
}

static void test_search__fts5_syntax_prefix_phrase_not(void)
{
	struct world w;
	world_open(&w);
	add_session(&w, "a", convo_a, 1000);
	add_session(&w, "b", convo_b, 1000);
	daimon_index_update(w.ix, NULL, NULL);
	daimon_search_result r;
	daimon_search_opts o = {.query = "tiber*"};
	CHECK_INT(search(&w, &o, &r), 1);
	CHECK_CONTAINS(r.hits[0].snippet, "[Tiberius]");
	daimon_search_result_release(&r);
	o.query = "\"lovely in april\"";
	CHECK_INT(search(&w, &o, &r), 1);
	CHECK_STR(r.hits[0].snippet, "Lisbon is [lovely] [in] [April]");
	daimon_search_result_release(&r);
	o.query = "lisbon NOT weather";
	CHECK_INT(search(&w, &o, &r), 2);
	daimon_search_result_release(&r);
	world_close(&w);
}

static void test_search__invalid_fts5_is_searched_as_words(void)
{
	struct world w;
	world_open(&w);
	add_session(&w, "a", convo_a, 1000);
	daimon_index_update(w.ix, NULL, NULL);
	daimon_search_result r;
	daimon_search_opts o = {.query = "vacuum-cleaner (cat"};
	CHECK_INT(search(&w, &o, &r), 1);
	CHECK(r.plain_words);
	CHECK_STR(r.query_used, "\"vacuum\" \"cleaner\" \"cat\"");
	daimon_search_result_release(&r);
	o.query = "((( ))) ---";
	CHECK_INT(search(&w, &o, &r), 0);
	daimon_search_result_release(&r);
	world_close(&w);
}

static void test_search__filters_session_role_and_time(void)
{
	struct world w;
	world_open(&w);
	add_session(&w, "b", convo_b, 3600 * 1000);
	const char *const other[] = {"user:Lisbon again", NULL};
	add_session(&w, "c", other, 1000);
	daimon_index_update(w.ix, NULL, NULL);
	daimon_search_result r;
	daimon_search_opts o = {.query = "lisbon"};
	CHECK_INT(search(&w, &o, &r), 4);
	daimon_search_result_release(&r);
	o.session = "c";
	CHECK_INT(search(&w, &o, &r), 1);
	daimon_search_result_release(&r);
	o.session = NULL;
	o.role = DAIMON_ROLE_TOOL;
	CHECK_INT(search(&w, &o, &r), 1);
	CHECK_INT(r.hits[0].role, DAIMON_ROLE_TOOL);
	daimon_search_result_release(&r);
	o.role = 0;
	daimon_ts_parse("2026-01-01T01:30:00Z", &o.since); /* b's 2nd and 3rd messages only */
	CHECK_INT(search(&w, &o, &r), 2);
	daimon_search_result_release(&r);
	daimon_ts_parse("2026-01-01T02:30:00Z", &o.until);
	CHECK_INT(search(&w, &o, &r), 1);
	CHECK_INT(r.hits[0].seq, 3);
	daimon_search_result_release(&r);
	o.since = o.until = 0;
	o.limit = 2;
	CHECK_INT(search(&w, &o, &r), 2);
	daimon_search_result_release(&r);
	world_close(&w);
}

static void test_text__blocks_and_tool_calls_are_searchable(void)
{
	const char *line =
		"{\"seq\":2,\"ts\":\"2026-01-01T00:00:00Z\",\"type\":\"message\",\"role\":\"assistant\","
		"\"content\":[{\"type\":\"text\",\"text\":\"checking\"},{\"type\":\"thinking\",\"thinking\":\"hidden\"}"
		"],"
		"\"tool_calls\":[{\"id\":\"c\",\"name\":\"weather\",\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\"}]}";
	daimon_record rec;
	CHECK_INT(daimon_record_parse(&rec, line, strlen(line)), 0);
	daimon_buf b = DAIMON_BUF_INIT;
	int role;
	CHECK(daimon_record_search_text(&rec, &b, &role));
	CHECK_INT(role, DAIMON_ROLE_ASSISTANT);
	CHECK_STR(b.ptr, "checking\nweather {\"city\":\"Oslo\"}");
	daimon_buf_release(&b);
	daimon_record_clear(&rec);
}

static char *snip(const char *text, const char *query, int words)
{
	daimon_buf b = DAIMON_BUF_INIT;
	daimon_snippet(&b, text, query, "[", "]", words);
	return daimon_buf_detach(&b);
}

static void test_snippet__window_around_the_most_terms(void)
{
	const char *text = "one two three four five six seven eight nine ten Alpha eleven twelve beta thirteen "
			   "fourteen fifteen sixteen seventeen eighteen nineteen alpha twenty";
	char *s = snip(text, "alpha beta", 6);
	CHECK_STR(s, "…ten [Alpha] eleven twelve [beta] thirteen…");
	free(s);
	s = snip("short text with café and naïve words", "cafe* OR naïve", 16);
	CHECK_STR(s, "short text with café and [naïve] words");
	free(s);
	s = snip("deploy the deployment, not the rollback", "deploy* NOT rollback", 16);
	CHECK_STR(s, "[deploy] the [deployment], not the rollback");
	free(s);
	s = snip("keep a b c here", "body:here NOT (a OR b) \"c\"", 16);
	CHECK_STR(s, "keep a b [c] [here]");
	free(s);
	s = snip("!!! ???", "x", 16);
	CHECK_STR(s, "!!! ???");
	free(s);
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		TEST_CASE(test_index__update_indexes_new_sessions_and_appends),
		TEST_CASE(test_index__resumes_from_recorded_offset_after_reopen),
		TEST_CASE(test_index__refresh_notices_a_new_session),
		TEST_CASE(test_index__refresh_notices_a_log_that_grew),
		TEST_CASE(test_index__refresh_does_not_wait_for_another_writer),
		TEST_CASE(test_index__rebuild_gives_the_same_index),
		TEST_CASE(test_index__removed_or_shrunk_log_rebuilds),
		TEST_CASE(test_index__damaged_log_keeps_good_records_and_warns),
		TEST_CASE(test_search__best_match_first_with_highlight),
		TEST_CASE(test_search__fts5_syntax_prefix_phrase_not),
		TEST_CASE(test_search__invalid_fts5_is_searched_as_words),
		TEST_CASE(test_search__filters_session_role_and_time),
		TEST_CASE(test_text__blocks_and_tool_calls_are_searchable),
		TEST_CASE(test_snippet__window_around_the_most_terms),
		{0},
	};
	return test_main(argc, argv, cases);
}
