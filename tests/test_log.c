/*
 * test_log.c — the session log: format, group commit, torn tails, damage,
 * one writer, failed writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/jsonutil.h"
#include "memory/log.h"
#include "memory/store.h"
#include "tests/test.h"

static char *new_log(const char *dir, daimon_log **log)
{
	char *path = daimon_xasprintf("%s/s1.jsonl", dir);
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "id", "s1");
	cJSON_AddStringToObject(f, "key", "cli:default");
	int rc = daimon_log_create(log, path, f, NULL, 0);
	cJSON_Delete(f);
	if (rc < 0) {
		fprintf(stderr, "create: %s\n", daimon_error_last());
		abort();
	}
	return path;
}

static int append_msg(daimon_log *log, const char *role, const char *text)
{
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "role", role);
	cJSON_AddStringToObject(f, "content", text);
	int rc = daimon_log_append(log, "message", NULL, f, NULL, NULL, NULL);
	cJSON_Delete(f);
	return rc;
}

static void test_log__records_start_with_seq_ts_type(void)
{
	daimon_log *log;
	char *path = new_log(test_tmpdir(), &log);
	CHECK_INT(append_msg(log, "user", "hello \"world\"\nline two"), 0);
	CHECK_INT(daimon_log_close(log), 0);
	char *text = test_read(path);
	char *second = strchr(text, '\n') + 1;
	CHECK(!strncmp(text, "{\"seq\":1,\"ts\":\"", 15));
	CHECK_CONTAINS(text, "\"type\":\"session\",\"id\":\"s1\"");
	CHECK(!strncmp(second, "{\"seq\":2,\"ts\":\"", 15));
	CHECK_CONTAINS(second,
		       "\"type\":\"message\",\"role\":\"user\",\"content\":\"hello \\\"world\\\"\\nline two\"}\n");
	free(text);
	free(path);
}

static void test_log__reader_returns_what_was_written(void)
{
	daimon_log *log;
	char *path = new_log(test_tmpdir(), &log);
	for (int i = 0; i < 100; i++)
		append_msg(log, i % 2 ? "assistant" : "user", "x");
	CHECK_INT(daimon_log_close(log), 0);
	daimon_log_reader *r;
	CHECK_INT(daimon_log_reader_open(&r, path, 0, 0, 0), 0);
	daimon_record rec;
	int n = 0, rc;
	while ((rc = daimon_log_reader_next(r, &rec)) == 1) {
		n++;
		if ((uint64_t)n != rec.seq)
			test_failed = 1;
		daimon_record_clear(&rec);
	}
	CHECK_INT(rc, 0);
	CHECK_INT(n, 101);
	CHECK_INT(daimon_log_reader_torn_bytes(r), 0);
	daimon_log_reader_free(r);
	free(path);
}

struct acks {
	int n;
	uint64_t last;
	int status;
};

static void on_durable(void *payload, uint64_t seq, int status)
{
	struct acks *a = payload;
	a->n++;
	a->last = seq;
	a->status = status;
}

static void test_log__group_commit_acks_only_after_commit(void)
{
	daimon_log *log;
	char *path = new_log(test_tmpdir(), &log);
	struct stat before, after;
	stat(path, &before);
	struct acks a = {0, 0, 1};
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "role", "user");
	cJSON_AddStringToObject(f, "content", "hi");
	for (int i = 0; i < 50; i++)
		CHECK_INT(daimon_log_append(log, "message", NULL, f, on_durable, &a, NULL), 0);
	cJSON_Delete(f);
	stat(path, &after);
	/* Staged, not written, not acknowledged. */
	CHECK_INT(after.st_size, before.st_size);
	CHECK_INT(a.n, 0);
	CHECK_INT(daimon_log_durable_seq(log), 1);
	CHECK_INT(daimon_log_last_seq(log), 51);
	CHECK_INT(daimon_log_commit(log), 0);
	CHECK_INT(a.n, 50);
	CHECK_INT(a.last, 51);
	CHECK_INT(a.status, 0);
	CHECK_INT(daimon_log_durable_seq(log), 51);
	stat(path, &after);
	CHECK(after.st_size > before.st_size);
	daimon_log_close(log);
	free(path);
}

static void test_log__flush_writes_without_acknowledging(void)
{
	daimon_log *log;
	char *path = new_log(test_tmpdir(), &log);
	struct acks a = {0, 0, 1};
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "role", "user");
	cJSON_AddStringToObject(f, "content", "question");
	daimon_log_append(log, "message", NULL, f, on_durable, &a, NULL);
	cJSON_Delete(f);
	CHECK_INT(daimon_log_flush(log), 0);
	char *text = test_read(path);
	CHECK_CONTAINS(text, "question"); /* in the file ... */
	free(text);
	CHECK_INT(a.n, 0); /* ... but nobody is told it is durable */
	CHECK_INT(daimon_log_durable_seq(log), 1);
	CHECK_INT(daimon_log_commit(log), 0); /* nothing staged, still a sync */
	CHECK_INT(a.n, 1);
	CHECK_INT(a.status, 0);
	CHECK_INT(daimon_log_durable_seq(log), 2);
	daimon_log_close(log);
	free(path);
}

static void test_log__a_commit_in_two_halves_tells_only_what_its_sync_covers(void)
{
	daimon_log *log;
	char *path = new_log(test_tmpdir(), &log);
	struct acks a = {0, 0, 1};
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "role", "user");
	cJSON_AddStringToObject(f, "content", "question");
	daimon_log_append(log, "message", NULL, f, on_durable, &a, NULL); /* seq 2 */
	uint64_t upto;
	int fd;
	CHECK_INT(daimon_log_commit_begin(log, &upto, &fd), 0);
	CHECK_INT(upto, 2);
	CHECK(fd >= 0 && fd != -1);
	char *text = test_read(path);
	CHECK_CONTAINS(text, "question"); /* written by _begin */
	free(text);
	/* While "the sync" runs elsewhere, more is written. */
	daimon_log_append(log, "message", NULL, f, on_durable, &a, NULL); /* seq 3 */
	CHECK_INT(daimon_log_flush(log), 0);
	CHECK_INT(fdatasync(fd), 0);
	close(fd);
	CHECK_INT(a.n, 0);
	CHECK_INT(daimon_log_commit_end(log, upto, 0), 0);
	CHECK_INT(a.n, 1); /* seq 2 only: seq 3 was written after the sync began */
	CHECK_INT(a.last, 2);
	CHECK_INT(daimon_log_durable_seq(log), 2);
	CHECK_INT(daimon_log_commit_begin(log, &upto, &fd), 0);
	CHECK_INT(upto, 3);
	close(fd);
	/* A failed sync: told, and the log takes no more writes. */
	CHECK(daimon_log_commit_end(log, upto, EIO) < 0);
	CHECK_CONTAINS(daimon_error_last(), "cannot sync");
	CHECK_INT(a.n, 2);
	CHECK(a.status < 0);
	CHECK(daimon_log_append(log, "message", NULL, f, NULL, NULL, NULL) < 0);
	/* Nothing new to sync: no descriptor. */
	cJSON_Delete(f);
	daimon_log_close(log);
	char *path2 = new_log(test_tmpdir(), &log);
	CHECK_INT(daimon_log_commit_begin(log, &upto, &fd), 0);
	CHECK_INT(fd, -1);
	daimon_log_close(log);
	free(path2);
	free(path);
}

static void test_log__torn_tail_is_truncated(void)
{
	daimon_log *log;
	char *path = new_log(test_tmpdir(), &log);
	append_msg(log, "user", "kept");
	daimon_log_close(log);
	struct stat good;
	stat(path, &good);
	int fd = open(path, O_WRONLY | O_APPEND);
	CHECK(write(fd, "{\"seq\":3,\"ts\":\"2026-", 20) == 20);
	close(fd);

	daimon_log_report rep;
	CHECK_INT(daimon_log_open(&log, path, 0, &rep), 0);
	CHECK_INT(rep.torn_bytes, 20);
	CHECK_INT(rep.records, 2);
	CHECK_INT(rep.last_seq, 2);
	struct stat now;
	stat(path, &now);
	CHECK_INT(now.st_size, good.st_size);
	/* The next record continues the sequence on a clean line. */
	append_msg(log, "assistant", "after");
	CHECK_INT(daimon_log_close(log), 0);
	CHECK_INT(daimon_log_open(&log, path, 0, &rep), 0);
	CHECK_INT(rep.last_seq, 3);
	CHECK_INT(rep.torn_bytes, 0);
	daimon_log_close(log);
	free(path);
}

static void test_log__damage_before_the_tail_stops_with_file_line(void)
{
	daimon_log *log;
	char *path = new_log(test_tmpdir(), &log);
	append_msg(log, "user", "one");
	append_msg(log, "user", "two");
	append_msg(log, "user", "three");
	daimon_log_close(log);
	/* Break line 3 in place (same length, so later lines stay intact). */
	char *text = test_read(path);
	char *l3 = strchr(strchr(text, '\n') + 1, '\n') + 1;
	l3[0] = 'X';
	test_write(path, text);
	free(text);

	daimon_log_report rep;
	int rc = daimon_log_open(&log, path, 0, &rep);
	CHECK_INT(rc, DAIMON_ECORRUPT);
	char *want = daimon_xasprintf("%s:3: not valid JSON", path);
	CHECK_STR(daimon_error_last(), want);
	free(want);
	/* Nothing was cut: the damaged file is left for the user to see. */
	text = test_read(path);
	CHECK_CONTAINS(text, "three");
	free(text);
	free(path);
}

static void test_log__seq_gap_is_damage(void)
{
	const char *dir = test_tmpdir();
	char *path = daimon_xasprintf("%s/gap.jsonl", dir);
	test_write(path, "{\"seq\":1,\"ts\":\"2026-01-01T00:00:00Z\",\"type\":\"session\",\"id\":\"gap\"}\n"
			 "{\"seq\":3,\"ts\":\"2026-01-01T00:00:00Z\",\"type\":\"message\",\"role\":\"user\","
			 "\"content\":\"x\"}\n");
	daimon_log *log;
	CHECK_INT(daimon_log_open(&log, path, 0, NULL), DAIMON_ECORRUPT);
	CHECK_CONTAINS(daimon_error_last(), ":2: seq 3 follows 1");
	free(path);
}

static void test_log__second_writer_is_refused(void)
{
	daimon_log *log, *other;
	char *path = new_log(test_tmpdir(), &log);
	CHECK_INT(daimon_log_open(&other, path, 0, NULL), DAIMON_EBUSY);
	CHECK_CONTAINS(daimon_error_last(), "being written by another process");
	daimon_log_close(log);
	CHECK_INT(daimon_log_open(&other, path, 0, NULL), 0);
	daimon_log_close(other);
	free(path);
}

static void test_log__failed_write_loses_nothing_acknowledged(void)
{
	/* A file-size limit makes write(2) fail part-way, as a full disk does. */
	const char *dir = test_tmpdir();
	daimon_log *log;
	char *path = new_log(dir, &log);
	append_msg(log, "user", "acknowledged");
	CHECK_INT(daimon_log_commit(log), 0);
	struct stat st;
	stat(path, &st);
	daimon_log_close(log);

	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl = {(rlim_t)st.st_size + 100, (rlim_t)st.st_size + 100};
		setrlimit(RLIMIT_FSIZE, &rl);
		daimon_log *l;
		if (daimon_log_open(&l, path, 0, NULL) < 0)
			_exit(10);
		struct acks a = {0, 0, 0};
		char big[4096];
		memset(big, 'z', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "role", "user");
		cJSON_AddStringToObject(f, "content", big);
		daimon_log_append(l, "message", NULL, f, on_durable, &a, NULL);
		cJSON_Delete(f);
		int rc = daimon_log_commit(l);
		/* The commit fails, says why, and tells the waiting sender. */
		if (rc == 0 || !strstr(daimon_error_last(), "cannot append to") || a.n != 1 || a.status >= 0)
			_exit(11);
		if (daimon_log_durable_seq(l) != 2 || daimon_log_last_seq(l) != 2)
			_exit(12);
		daimon_log_close(l);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status));
	CHECK_INT(WEXITSTATUS(status), 0);
	struct stat after;
	stat(path, &after);
	CHECK_INT(after.st_size, st.st_size);
	daimon_log_report rep;
	CHECK_INT(daimon_log_open(&log, path, 0, &rep), 0);
	CHECK_INT(rep.last_seq, 2);
	CHECK_INT(rep.torn_bytes, 0);
	daimon_log_close(log);
	free(path);
}

static void test_record__rejects_what_is_not_a_record(void)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{}",
		"nul",
		"{\"seq\":1}",
		"{\"seq\":0,\"ts\":\"2026-01-01T00:00:00Z\",\"type\":\"x\"}",
		"{\"seq\":1.5,\"ts\":\"2026-01-01T00:00:00Z\",\"type\":\"x\"}",
		"{\"seq\":1,\"ts\":\"yesterday\",\"type\":\"x\"}",
		"{\"seq\":1,\"ts\":\"2026-01-01T00:00:00Z\",\"type\":\"\"}",
		"{\"seq\":1,\"ts\":\"2026-01-01T00:00:00Z\",\"type\":\"message\",\"role\":\"robot\"}",
		"{\"seq\":1,\"ts\":\"2026-01-01T00:00:00Z\",\"type\":\"message\"}",
		"{\"seq\":1,\"ts\":\"2026-01-01T00:00:00Z\",\"type\":\"tool_result\"}",
		"{\"seq\":1,\"ts\":\"2026-01-01T00:00:00Z\",\"type\":\"session\"}",
		"{\"seq\":1,\"ts\":\"2026-01-01T00:00:00Z\",\"type\":\"x\"} trailing",
		NULL,
	};
	for (const char *const *b = bad; *b; b++) {
		daimon_record rec;
		if (daimon_record_parse(&rec, *b, strlen(*b)) != DAIMON_ECORRUPT) {
			fprintf(stderr, "accepted: %s\n", *b);
			test_failed = 1;
		}
	}
	const char *good = "{\"seq\":7,\"ts\":\"2026-01-01T00:00:00.250+01:00\",\"type\":\"future_type\",\"x\":1}";
	daimon_record rec;
	CHECK_INT(daimon_record_parse(&rec, good, strlen(good)), 0);
	CHECK_INT(rec.seq, 7);
	CHECK_INT(rec.ts, 1767222000250LL);
	CHECK_STR(rec.type, "future_type");
	daimon_record_clear(&rec);
}

static void test_store__ids_are_safe_and_derived_ids_stable(void)
{
	CHECK(daimon_session_id_valid("20261124-022853-3fa9c1"));
	CHECK(!daimon_session_id_valid("../etc/passwd"));
	CHECK(!daimon_session_id_valid(".hidden"));
	CHECK(!daimon_session_id_valid(""));
	char a[DAIMON_ID_MAX + 1], b[DAIMON_ID_MAX + 1], c[DAIMON_ID_MAX + 1];
	daimon_session_id_derived(a, "chatgpt", "chatgpt:abc");
	daimon_session_id_derived(b, "chatgpt", "chatgpt:abc");
	daimon_session_id_derived(c, "chatgpt", "chatgpt:abd");
	CHECK_STR(a, b);
	CHECK(strcmp(a, c) != 0);
	CHECK(daimon_session_id_valid(a));
	daimon_session_id_new(a, 1795000000000LL);
	CHECK(!strncmp(a, "20261118-", 9));
	CHECK(daimon_session_id_valid(a));
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		TEST_CASE(test_log__records_start_with_seq_ts_type),
		TEST_CASE(test_log__reader_returns_what_was_written),
		TEST_CASE(test_log__group_commit_acks_only_after_commit),
		TEST_CASE(test_log__flush_writes_without_acknowledging),
		TEST_CASE(test_log__a_commit_in_two_halves_tells_only_what_its_sync_covers),
		TEST_CASE(test_log__torn_tail_is_truncated),
		TEST_CASE(test_log__damage_before_the_tail_stops_with_file_line),
		TEST_CASE(test_log__seq_gap_is_damage),
		TEST_CASE(test_log__second_writer_is_refused),
		TEST_CASE(test_log__failed_write_loses_nothing_acknowledged),
		TEST_CASE(test_record__rejects_what_is_not_a_record),
		TEST_CASE(test_store__ids_are_safe_and_derived_ids_stable),
		{0},
	};
	return test_main(argc, argv, cases);
}
