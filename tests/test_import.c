/*
 * test_import.c — each import format against fixtures built from the
 * formats' public descriptions (tests/fixtures/), re-import, and damaged
 * input.
 */
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "memory/import.h"
#include "memory/search.h"
#include "tests/test.h"

struct world {
	daimon_store st;
	daimon_index *ix;
	daimon_import_stats stats;
	daimon_buf warnings;
};

static void on_warn(void *payload, const char *where, const char *what)
{
	daimon_buf *b = payload;
	daimon_buf_addf(b, "%s: %s\n", where, what);
}

static void world_open(struct world *w)
{
	memset(w, 0, sizeof(*w));
	if (daimon_store_open(&w->st, test_tmpdir()) < 0 || daimon_index_open(&w->ix, &w->st) < 0)
		abort();
}

static void world_close(struct world *w)
{
	daimon_index_close(w->ix);
	daimon_store_release(&w->st);
	daimon_buf_release(&w->warnings);
}

static char *fixture(const char *rel)
{
	const char *dir = getenv("DAIMON_FIXTURES");
	return daimon_xasprintf("%s/%s", dir ? dir : "tests/fixtures", rel);
}

static int import(struct world *w, const char *format, const char *path)
{
	daimon_import_hooks hooks = {on_warn, NULL, &w->warnings};
	daimon_buf_clear(&w->warnings);
	return daimon_import_paths(&w->st, w->ix, format, &path, 1, &hooks, &w->stats);
}

/* Builds a SQLite database from a .sql fixture in a temp dir. */
static char *db_from_sql(const char *sql_rel, const char *name)
{
	char *sqlpath = fixture(sql_rel);
	daimon_buf sql = DAIMON_BUF_INIT;
	if (daimon_read_file(&sql, sqlpath) < 0)
		abort();
	char *path = daimon_xasprintf("%s/%s", test_tmpdir(), name);
	sqlite3 *db;
	char *err = NULL;
	if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_exec(db, sql.ptr, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "%s: %s\n", sqlpath, err);
		abort();
	}
	sqlite3_close(db);
	daimon_buf_release(&sql);
	free(sqlpath);
	return path;
}

static char *query_text(struct world *w, const char *sql)
{
	sqlite3_stmt *s;
	char *v = NULL;
	if (sqlite3_prepare_v2(daimon_index_db(w->ix), sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		v = daimon_xstrdup(sqlite3_column_text(s, 0) ? (const char *)sqlite3_column_text(s, 0) : "");
	sqlite3_finalize(s);
	return v ? v : daimon_xstrdup("(no row)");
}

static size_t hits(struct world *w, const char *q)
{
	daimon_search_opts o = {.query = q};
	daimon_search_result r;
	if (daimon_search(w->ix, &o, &r) < 0)
		return (size_t)-1;
	size_t n = r.n;
	daimon_search_result_release(&r);
	return n;
}

/* The transcript of the only session whose id starts with `prefix`. */
static char *log_of(struct world *w, const char *id_sql)
{
	char *id = query_text(w, id_sql);
	char *path = daimon_store_log_path(&w->st, id);
	char *text = test_read(path);
	free(path);
	free(id);
	return text;
}

static void test_import__openclaw_jsonl(void)
{
	struct world w;
	world_open(&w);
	char *dir = fixture("openclaw");
	CHECK_INT(import(&w, "openclaw", dir), 0);
	CHECK_INT(w.stats.files, 1);
	CHECK_INT(w.stats.sessions_new, 1);
	CHECK_INT(w.stats.records_new, 5);
	CHECK_INT(w.stats.warnings, 0);
	char *t = query_text(&w, "SELECT title || '|' || channel || '|' || n_msgs FROM logs");
	CHECK_STR(t, "Remind me how to repot the fiddle-leaf fig|openclaw|3");
	free(t);
	char *log = log_of(&w, "SELECT id FROM logs");
	/* Original times, the source, tool calls and results, the summary. */
	CHECK_CONTAINS(log, "{\"seq\":1,\"ts\":\"2026-03-02T09:15:00.000Z\",\"type\":\"session\"");
	CHECK_CONTAINS(log, "\"source\":{\"format\":\"openclaw\"");
	CHECK_CONTAINS(log, "\"id\":\"a1b2c3d4-0000-4000-8000-000000000001\"}");
	CHECK_CONTAINS(
		log,
		"\"ts\":\"2026-03-02T09:15:04.000Z\",\"type\":\"message\",\"role\":\"assistant\","
		"\"content\":\"Pick a pot 5 cm wider and use chunky aroid mix.\",\"tool_calls\":[{\"id\":\"call_1\","
		"\"name\":\"memory_search\",\"arguments\":\"{\\\"query\\\":\\\"fig\\\"}\"}]}");
	CHECK_CONTAINS(log, "\"type\":\"tool_result\",\"call_id\":\"call_1\",\"name\":\"memory_search\"");
	CHECK_CONTAINS(log, "\"type\":\"compaction\",\"summary\":\"Ana asked about repotting");
	CHECK(!strstr(log, "ficus lyrata")); /* thinking is not imported */
	free(log);
	CHECK_INT(hits(&w, "aroid"), 2);
	free(dir);
	world_close(&w);
}

static void test_import__openclaw_sqlite_transcript_events(void)
{
	struct world w;
	world_open(&w);
	char *db = db_from_sql("openclaw/transcripts.sql", "agent.sqlite");
	CHECK_INT(import(&w, "openclaw", db), 0);
	CHECK_INT(w.stats.conversations, 2);
	CHECK_INT(w.stats.sessions_new, 2);
	CHECK_INT(w.stats.records_new, 3);
	CHECK_INT(w.stats.warnings, 1);
	CHECK_CONTAINS(w.warnings.ptr, "session tg-77 seq 4: event is zstd-compressed");
	char *t = query_text(&w, "SELECT key || '|' || channel || '|' || title FROM logs WHERE channel = 'telegram'");
	CHECK_STR(t, "openclaw:tg-77|telegram|Bike repair"); /* (OpenClaw's own key kept in the source) */
	free(t);
	/* created_at is used when an event carries no timestamp of its own. */
	char *log = log_of(&w, "SELECT id FROM logs WHERE channel='telegram'");
	CHECK_CONTAINS(log, "\"ts\":\"2026-03-03T01:06:41.000Z\",\"type\":\"message\",\"role\":\"user\"");
	free(log);
	CHECK_INT(hits(&w, "derailleur"), 1);
	CHECK_INT(hits(&w, "acetone"), 1);
	free(db);
	world_close(&w);
}

static void test_import__claude_code(void)
{
	struct world w;
	world_open(&w);
	char *dir = fixture("claude-code");
	CHECK_INT(import(&w, "claude-code", dir), 0);
	CHECK_INT(w.stats.sessions_new, 1);
	CHECK_INT(w.stats.records_new, 4);
	char *t = query_text(&w, "SELECT title || '|' || key FROM logs");
	CHECK_STR(t, "Fix flaky sprinkler scheduler test|claude-code:garden:5f0c9a7e"); /* (a project has many) */
	free(t);
	char *log = log_of(&w, "SELECT id FROM logs");
	CHECK_CONTAINS(log, "\"tool_calls\":[{\"id\":\"toolu_1\",\"name\":\"Read\"");
	CHECK_CONTAINS(log, "\"type\":\"tool_result\",\"call_id\":\"toolu_1\",\"content\":\"int next_run");
	CHECK(!strstr(log, "/clear")); /* isMeta lines are harness notes */
	free(log);
	CHECK_INT(hits(&w, "\"fake clock\""), 1);
	free(dir);
	world_close(&w);
}

static void test_import__chatgpt_follows_the_current_branch(void)
{
	struct world w;
	world_open(&w);
	char *file = fixture("chatgpt/conversations.json");
	CHECK_INT(import(&w, "chatgpt", file), 0);
	CHECK_INT(w.stats.conversations, 2);
	CHECK_INT(w.stats.sessions_new, 1); /* the empty one makes no session */
	CHECK_INT(w.stats.records_new, 3);
	CHECK_INT(w.stats.warnings, 1);
	CHECK_CONTAINS(w.warnings.ptr, "conversations.json: conversation 2: no message mapping");
	CHECK_INT(hits(&w, "blight"), 1);
	CHECK_INT(hits(&w, "aphids"), 0); /* a discarded regeneration */
	char *t = query_text(&w, "SELECT title FROM logs");
	CHECK_STR(t, "Tomato blight");
	free(t);
	char *log = log_of(&w, "SELECT id FROM logs");
	CHECK_CONTAINS(log, "{\"seq\":1,\"ts\":\"2026-03-31T23:33:20.123Z\",\"type\":\"session\"");
	CHECK_CONTAINS(log, "\"content\":\"[attachment]\\nis copper spray safe?\"");
	free(log);
	free(file);
	world_close(&w);
}

static void test_import__hermes_state_db(void)
{
	struct world w;
	world_open(&w);
	char *db = db_from_sql("hermes/state.sql", "state.db");
	CHECK_INT(import(&w, "hermes", db), 0);
	CHECK_INT(w.stats.sessions_new, 2);
	CHECK_INT(w.stats.records_new, 6);
	CHECK_INT(w.stats.warnings, 1);
	CHECK_CONTAINS(w.warnings.ptr, "session 20260411_080000_cd34: tool_calls is not a JSON list");
	char *t = query_text(&w, "SELECT group_concat(key || '/' || channel || '/' || coalesce(title,''), ' ') FROM "
				 "(SELECT * FROM logs ORDER BY key)");
	/* keys of their own (not Hermes' "cli:..." or a Telegram sender's), the old one kept */
	CHECK_STR(t, "hermes:20260410_101500_ab12/cli/Kayak trip hermes:20260411_080000_cd34/telegram/buy oat milk");
	free(t);
	char *tg = log_of(&w, "SELECT id FROM logs WHERE channel='telegram'");
	CHECK_CONTAINS(tg, "\"key\":\"agent:main:telegram:dm:42\"");
	free(tg);
	char *log = log_of(&w, "SELECT id FROM logs WHERE channel='cli'");
	CHECK_CONTAINS(log, "\"tool_calls\":[{\"id\":\"call_9\",\"name\":\"web_search\",\"arguments\":\"{\\\"q\\\":"
			    "\\\"Porthcurno tide\\\"}\"}]");
	CHECK_CONTAINS(log, "\"type\":\"tool_result\",\"call_id\":\"call_9\",\"name\":\"web_search\"");
	free(log);
	CHECK_INT(hits(&w, "porthcurno"), 2);
	free(db);
	world_close(&w);
}

static void test_import__again_adds_nothing_then_only_what_is_new(void)
{
	struct world w;
	world_open(&w);
	char *src = fixture("openclaw/a1b2c3.jsonl");
	char *copy = daimon_xasprintf("%s/copy.jsonl", test_tmpdir());
	char *text = test_read(src);
	test_write(copy, text);
	CHECK_INT(import(&w, "openclaw", copy), 0);
	CHECK_INT(w.stats.records_new, 5);
	CHECK_INT(import(&w, "openclaw", copy), 0);
	CHECK_INT(w.stats.sessions_new, 0);
	CHECK_INT(w.stats.records_new, 0);
	CHECK_INT(hits(&w, "aroid"), 2);
	/* The conversation went on in OpenClaw: only the new message comes in. */
	char *more = daimon_xasprintf("%s{\"type\":\"message\",\"timestamp\":\"2026-03-05T10:00:00Z\",\"message\":"
				      "{\"role\":\"user\",\"content\":\"the fig has a new leaf\"}}\n",
				      text);
	test_write(copy, more);
	CHECK_INT(import(&w, "openclaw", copy), 0);
	CHECK_INT(w.stats.sessions_new, 0);
	CHECK_INT(w.stats.records_new, 1);
	char *n = query_text(&w, "SELECT count(*) || ' ' || sum(n_msgs) FROM logs");
	CHECK_STR(n, "1 4");
	free(n);
	free(more);
	free(text);
	free(copy);
	free(src);
	world_close(&w);
}

static void test_import__damaged_input_names_file_and_line_and_the_rest_imports(void)
{
	struct world w;
	world_open(&w);
	char *file = fixture("damaged/broken.jsonl");
	CHECK_INT(import(&w, "openclaw", file), 0);
	CHECK_INT(w.stats.records_new, 2);
	CHECK_INT(w.stats.warnings, 2);
	char *want3 = daimon_xasprintf("%s:3: not a JSON object\n", file);
	char *want4 = daimon_xasprintf("%s:4: message event without message.role\n", file);
	CHECK_CONTAINS(w.warnings.ptr, want3);
	CHECK_CONTAINS(w.warnings.ptr, want4);
	CHECK_INT(hits(&w, "quokkas"), 2);
	free(want3);
	free(want4);
	/* A file that is not the format at all: said so, nothing imported. */
	char *other = fixture("chatgpt/conversations.json");
	const char *both[] = {other, file};
	daimon_import_hooks hooks = {on_warn, NULL, &w.warnings};
	daimon_buf_clear(&w.warnings);
	CHECK_INT(daimon_import_paths(&w.st, w.ix, "claude-code", both, 2, &hooks, &w.stats), 0);
	CHECK_CONTAINS(w.warnings.ptr, "no claude-code conversation found");
	CHECK_INT(import(&w, "hermes", file), 0);
	CHECK_CONTAINS(w.warnings.ptr, "is not a SQLite database (hermes input is its state.db)");
	CHECK_INT(import(&w, "myspace", file), DAIMON_EINVAL);
	CHECK_STR(daimon_error_last(),
		  "unknown import format 'myspace' (known: openclaw, claude-code, chatgpt, hermes)");
	free(other);
	free(file);
	world_close(&w);
}

static void test_import__damaged_database_is_reported_not_looped_on(void)
{
	/* A page cycle that makes SQLite return the same rows forever (found by
	 * fuzz_openclaw_db). */
	struct world w;
	world_open(&w);
	char *db = fixture("damaged/cycle.sqlite");
	CHECK_INT(import(&w, "openclaw", db), 0);
	CHECK_CONTAINS(w.warnings.ptr, "looks damaged: reading it never ends");
	free(db);
	world_close(&w);
}

static void test_import__absurd_times_fall_back_to_known_ones(void)
{
	struct world w;
	world_open(&w);
	char *path = daimon_xasprintf("%s/conversations.json", test_tmpdir());
	test_write(path, "[{\"id\":\"c1\",\"title\":\"t\",\"create_time\":1e300,\"current_node\":\"a\",\"mapping\":"
			 "{\"a\":{\"message\":{\"author\":{\"role\":\"user\"},\"create_time\":-5,"
			 "\"content\":{\"parts\":[\"hello from nowhen\"]}}}}}]");
	CHECK_INT(import(&w, "chatgpt", path), 0);
	CHECK_INT(w.stats.records_new, 1);
	CHECK_INT(hits(&w, "nowhen"), 1);
	free(path);
	world_close(&w);
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		TEST_CASE(test_import__openclaw_jsonl),
		TEST_CASE(test_import__openclaw_sqlite_transcript_events),
		TEST_CASE(test_import__claude_code),
		TEST_CASE(test_import__chatgpt_follows_the_current_branch),
		TEST_CASE(test_import__hermes_state_db),
		TEST_CASE(test_import__again_adds_nothing_then_only_what_is_new),
		TEST_CASE(test_import__damaged_input_names_file_and_line_and_the_rest_imports),
		TEST_CASE(test_import__damaged_database_is_reported_not_looped_on),
		TEST_CASE(test_import__absurd_times_fall_back_to_known_ones),
		{0},
	};
	return test_main(argc, argv, cases);
}
