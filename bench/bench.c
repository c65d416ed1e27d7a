/*
 * bench.c — the programs behind bench/run (see there for what is measured).
 *
 *   daimon_bench gen DIR SESSIONS MESSAGES QUERIES   write an OpenClaw-format
 *       corpus (SESSIONS .jsonl files, MESSAGES messages in all) and a file
 *       of 100 varied queries: "FTS5 query<TAB>equivalent rg regex"
 *   daimon_bench append DIR RECORDS BATCH   durable appends through the log
 *       API, one commit (write + fdatasync) per BATCH records
 *   daimon_bench timeit QUERIES COLUMN REPEAT -- CMD ARG... ('{}' is replaced
 *       by the query) runs the command once per query per repeat, as a shell
 *       would, and prints the median and p99 wall time
 */
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/timefmt.h"
#include "memory/log.h"

extern char **environ;

static void die(const char *what)
{
	fprintf(stderr, "daimon_bench: %s\n", what);
	exit(1);
}

/* ---- gen ---- */

static void add_words(daimon_buf *b, const bench_vocab *v, uint64_t *rng, int n)
{
	for (int i = 0; i < n; i++) {
		if (i)
			daimon_buf_addc(b, ' ');
		daimon_buf_adds(b, bench_vocab_word(v, bench_vocab_draw(v, rng)));
	}
}

static size_t log_uniform_rank(const bench_vocab *v, uint64_t *rng, size_t lo)
{
	double u = (double)(bench_rand(rng) >> 11) / 9007199254740992.0;
	double r = (double)lo * pow((double)bench_vocab_size(v) / (double)lo, u);
	size_t k = (size_t)r;
	return k >= bench_vocab_size(v) ? bench_vocab_size(v) - 1 : k;
}

static int gen(int argc, char **argv)
{
	if (argc != 6)
		die("usage: gen DIR SESSIONS MESSAGES QUERIES");
	const char *dir = argv[2];
	long sessions = atol(argv[3]), messages = atol(argv[4]);
	if (daimon_mkdir_p(dir, 0755) < 0)
		die(daimon_error_last());
	bench_vocab *v = bench_vocab_new(100000, 1.07);
	uint64_t rng = 42;
	int64_t t0 = 1735689600000LL; /* 2025-01-01 */
	long per = messages / sessions, made = 0;
	daimon_buf line = DAIMON_BUF_INIT, file = DAIMON_BUF_INIT;
	char ts[DAIMON_TS_LEN];
	for (long s = 0; s < sessions; s++) {
		daimon_buf_clear(&file);
		int64_t t = t0 + (int64_t)(bench_rand(&rng) % (2 * 365 * 86400000LL));
		daimon_ts_format(ts, t);
		daimon_buf_addf(&file,
				"{\"type\":\"session\",\"version\":3,\"id\":\"bench-%06ld\",\"timestamp\":\"%s\"}\n", s,
				ts);
		long n = s == sessions - 1 ? messages - made : per;
		for (long m = 0; m < n; m++, made++) {
			t += 1000 + (int64_t)(bench_rand(&rng) % 120000);
			daimon_ts_format(ts, t);
			daimon_buf_clear(&line);
			add_words(&line, v, &rng, 5 + (int)(bench_rand(&rng) % 36));
			daimon_buf_addf(&file,
					"{\"type\":\"message\",\"timestamp\":\"%s\",\"message\":{\"role\":\"%s\","
					"\"content\":\"%s\"}}\n",
					ts, m % 2 ? "assistant" : "user", line.ptr);
		}
		char *path = daimon_xasprintf("%s/%06ld.jsonl", dir, s);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || daimon_write_all(fd, file.ptr, file.len) < 0)
			die("cannot write the corpus");
		close(fd);
		free(path);
	}
	FILE *q = fopen(argv[5], "w");
	if (!q)
		die("cannot write the queries");
	for (int i = 0; i < 100; i++) {
		const char *a = bench_vocab_word(v, log_uniform_rank(v, &rng, 20));
		const char *b = bench_vocab_word(v, log_uniform_rank(v, &rng, 20));
		switch (i % 5) {
		case 0: /* one word */
		case 1:
			fprintf(q, "%s\t\\b%s\\b\n", a, a);
			break;
		case 2: /* two words, both must match; rg can only look for one */
			fprintf(q, "%s %s\t\\b%s\\b\n", a, b, a);
			break;
		case 3: { /* prefix: a stem of 4+ letters, as people type them */
			while (strlen(a) < 6)
				a = bench_vocab_word(v, log_uniform_rank(v, &rng, 20));
			int stem = (int)strlen(a) - 2;
			fprintf(q, "%.*s*\t\\b%.*s\n", stem, a, stem, a);
			break;
		}
		case 4: /* either word */
			fprintf(q, "%s OR %s\t\\b(%s|%s)\\b\n", a, b, a, b);
			break;
		}
	}
	fclose(q);
	printf("corpus_sessions=%ld\ncorpus_messages=%ld\n", sessions, made);
	daimon_buf_release(&line);
	daimon_buf_release(&file);
	bench_vocab_free(v);
	return 0;
}

/* ---- append ---- */

static int append(int argc, char **argv)
{
	if (argc != 5)
		die("usage: append DIR RECORDS BATCH");
	long records = atol(argv[3]), batch = atol(argv[4]);
	char *path = daimon_xasprintf("%s/append-bench.jsonl", argv[2]);
	unlink(path);
	cJSON *sf = cJSON_CreateObject();
	cJSON_AddStringToObject(sf, "id", "append-bench");
	daimon_log *log;
	if (daimon_log_create(&log, path, sf, NULL, 0) < 0)
		die(daimon_error_last());
	cJSON_Delete(sf);
	bench_vocab *v = bench_vocab_new(10000, 1.07);
	uint64_t rng = 7;
	/* Pre-build the messages so only the log's work is timed. */
	cJSON **msgs = daimon_xmalloc(1024 * sizeof(*msgs));
	for (int i = 0; i < 1024; i++) {
		daimon_buf b = DAIMON_BUF_INIT;
		add_words(&b, v, &rng, 20);
		msgs[i] = cJSON_CreateObject();
		cJSON_AddStringToObject(msgs[i], "role", i % 2 ? "assistant" : "user");
		cJSON_AddStringToObject(msgs[i], "content", b.ptr);
		daimon_buf_release(&b);
	}
	long commits = 0;
	uint64_t start = daimon_mono_ns();
	for (long r = 0; r < records; r++) {
		if (daimon_log_append(log, DAIMON_REC_MESSAGE, NULL, msgs[r % 1024], NULL, NULL, NULL) < 0)
			die(daimon_error_last());
		if ((r + 1) % batch == 0 || r + 1 == records) {
			if (daimon_log_commit(log) < 0)
				die(daimon_error_last());
			commits++;
		}
	}
	double secs = (double)(daimon_mono_ns() - start) / 1e9;
	daimon_log_close(log);
	struct stat st;
	stat(path, &st);
	printf("append_records=%ld\nappend_batch=%ld\nappend_fdatasyncs=%ld\nappend_records_per_s=%.0f\n"
	       "append_bytes_per_record=%.0f\n",
	       records, batch, commits, (double)records / secs, (double)st.st_size / (double)records);
	unlink(path);
	for (int i = 0; i < 1024; i++)
		cJSON_Delete(msgs[i]);
	free(msgs);
	bench_vocab_free(v);
	free(path);
	return 0;
}

/* ---- timeit ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int timeit(int argc, char **argv)
{
	if (argc < 7 || strcmp(argv[5], "--"))
		die("usage: timeit QUERIES COLUMN REPEAT -- CMD ARG...");
	int column = atoi(argv[3]), repeat = atoi(argv[4]);
	FILE *f = fopen(argv[2], "r");
	if (!f)
		die("cannot read the queries");
	char buf[4096];
	size_t n = 0, cap = 1024;
	double *ms = daimon_xmalloc(cap * sizeof(*ms));
	char **cmd = argv + 6;
	int ncmd = argc - 6;
	char **args = daimon_xcalloc((size_t)ncmd + 1, sizeof(*args));
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	while (fgets(buf, sizeof(buf), f)) {
		buf[strcspn(buf, "\n")] = '\0';
		char *q = buf;
		for (int c = 0; c < column && q; c++) {
			q = strchr(q, '\t');
			q = q ? q + 1 : NULL;
		}
		if (!q)
			continue;
		char *tab = strchr(q, '\t');
		if (tab)
			*tab = '\0';
		for (int i = 0; i < ncmd; i++)
			args[i] = strcmp(cmd[i], "{}") ? cmd[i] : q;
		for (int r = 0; r < repeat; r++) {
			uint64_t t0 = daimon_mono_ns();
			pid_t pid;
			if (posix_spawnp(&pid, args[0], &fa, NULL, args, environ) != 0)
				die("cannot run the command");
			int st;
			waitpid(pid, &st, 0);
			if (n == cap)
				ms = daimon_xrealloc(ms, (cap *= 2) * sizeof(*ms));
			ms[n++] = (double)(daimon_mono_ns() - t0) / 1e6;
		}
	}
	fclose(f);
	qsort(ms, n, sizeof(*ms), cmp_double);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += ms[i];
	printf("runs=%zu median_ms=%.2f p99_ms=%.2f mean_ms=%.2f\n", n, n ? ms[n / 2] : 0,
	       n ? ms[(size_t)((double)(n - 1) * 0.99)] : 0, n ? sum / (double)n : 0);
	free(ms);
	free(args);
	posix_spawn_file_actions_destroy(&fa);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die("usage: daimon_bench gen|append|timeit ...");
	if (!strcmp(argv[1], "gen"))
		return gen(argc, argv);
	if (!strcmp(argv[1], "append"))
		return append(argc, argv);
	if (!strcmp(argv[1], "timeit"))
		return timeit(argc, argv);
	die("unknown subcommand");
	return 1;
}
