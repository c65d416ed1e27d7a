/*
 * test_crash.c — SIGKILL a writer in the middle of appends, again and
 * again. After each kill: every record the writer was told is durable is
 * in the log, the log opens (a torn last line is cut off), and the index
 * catches up to exactly the log's records.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "memory/index.h"

#include "tests/test.h"
#include <sqlite3.h>

#define ROUNDS 40

/* The writer: appends batches to session "crash", commits, reports the
 * durable seq on `ackfd`, and indexes now and then, until it is killed. */
static void writer(const char *home, int ackfd, unsigned seed)
{
	daimon_store st;
	daimon_index *ix;
	if (daimon_store_open(&st, home) < 0 || daimon_index_open(&ix, &st) < 0)
		_exit(20);
	char *path = daimon_store_log_path(&st, "crash");
	daimon_log *log;
	if (daimon_log_open(&log, path, 0, NULL) == DAIMON_ENOTFOUND) {
		daimon_session_meta meta = {.id = "crash", .key = "test:crash"};
		if (daimon_store_create(&st, &meta, 0, &log, NULL) < 0)
			_exit(21);
	} else if (!log) {
		_exit(22);
	}
	char big[1500];
	memset(big, 'w', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "role", "user");
	cJSON_AddStringToObject(f, "content", big);
	for (unsigned batch = 0;; batch++) {
		int n = 1 + (int)(rand_r(&seed) % 64);
		for (int i = 0; i < n; i++)
			daimon_log_append(log, "message", NULL, f, NULL, NULL, NULL);
		if (daimon_log_commit(log) < 0)
			_exit(23);
		uint64_t durable = daimon_log_durable_seq(log);
		if (write(ackfd, &durable, sizeof(durable)) != sizeof(durable))
			_exit(24);
		if (batch % 3 == 0)
			daimon_index_update_session(ix, "crash", NULL);
	}
}

static int64_t count(daimon_index *ix, const char *sql)
{
	sqlite3_stmt *s;
	sqlite3_prepare_v2(daimon_index_db(ix), sql, -1, &s, NULL);
	int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
	sqlite3_finalize(s);
	return n;
}

static void test_crash__sigkill_mid_append_loses_nothing_acknowledged(void)
{
	const char *home = test_tmpdir();
	uint64_t acked = 0;
	size_t torn_total = 0;
	unsigned seed = (unsigned)time(NULL);
	fprintf(stderr, "seed %u\n", seed);
	for (int round = 0; round < ROUNDS; round++) {
		int p[2];
		CHECK(pipe(p) == 0);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			writer(home, p[1], seed + (unsigned)round);
		}
		close(p[1]);
		uint64_t v;
		/* Every other round, the kill comes only after a first commit was
		 * acknowledged (so the check below has something to hold on a
		 * loaded machine); the others may kill before the log exists. */
		if (round % 2 == 0 && read(p[0], &v, sizeof(v)) == sizeof(v))
			acked = v;
		struct timespec delay = {0, (long)(1 + rand_r(&seed) % 25) * 1000000L};
		nanosleep(&delay, NULL);
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		CHECK(WIFSIGNALED(status)); /* killed, not failed on its own */
		while (read(p[0], &v, sizeof(v)) == sizeof(v))
			acked = v;
		close(p[0]);

		daimon_store st;
		daimon_index *ix;
		CHECK_INT(daimon_store_open(&st, home), 0);
		char *path = daimon_store_log_path(&st, "crash");
		daimon_log *log;
		daimon_log_report rep = {0};
		int rc = daimon_log_open(&log, path, 0, &rep);
		if (rc == DAIMON_ENOTFOUND && acked == 0) { /* killed before it created the log */
			free(path);
			daimon_store_release(&st);
			continue;
		}
		if (rc < 0)
			fprintf(stderr, "round %d: %s\n", round, daimon_error_last());
		CHECK_INT(rc, 0);
		daimon_log_close(log);
		torn_total += rep.torn_bytes;
		CHECK(rep.last_seq >= acked);
		CHECK_INT(rep.records, rep.last_seq);
		CHECK_INT(daimon_index_open(&ix, &st), 0);
		CHECK_INT(daimon_index_update(ix, NULL, NULL), 0);
		CHECK_INT(count(ix, "SELECT count(*) FROM msgs"), rep.last_seq - 1);
		CHECK_INT(count(ix, "SELECT count(*) FROM fts WHERE fts MATCH 'wwww*'"), rep.last_seq - 1);
		CHECK_INT(count(ix, "SELECT seq FROM logs WHERE id='crash'"), rep.last_seq);
		daimon_index_close(ix);
		daimon_store_release(&st);
		free(path);
	}
	CHECK(acked > 0);
	fprintf(stderr, "acknowledged %llu records over %d kills; %zu torn bytes cut\n", (unsigned long long)acked,
		ROUNDS, torn_total);
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		TEST_CASE(test_crash__sigkill_mid_append_loses_nothing_acknowledged),
		{0},
	};
	return test_main(argc, argv, cases);
}
