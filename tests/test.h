/*
 * test.h — the smallest test harness that does the job: a test is a
 * function, a failed CHECK prints file:line and what was expected and
 * ends that test, and each test binary is one ctest entry that prints
 * "ok NAME" / "FAIL NAME" lines and exits non-zero if anything failed.
 * `test_foo NAME...` runs only the named tests.
 */
#ifndef DAIMON_TESTS_TEST_H
#define DAIMON_TESTS_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern int test_failed;

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			test_failed = 1;                                                         \
			return;                                                                  \
		}                                                                                \
	} while (0)

#define CHECK_INT(a, b)                                                                                        \
	do {                                                                                                   \
		long long a_ = (long long)(a), b_ = (long long)(b);                                            \
		if (a_ != b_) {                                                                                \
			fprintf(stderr, "%s:%d: %s is %lld, expected %lld\n", __FILE__, __LINE__, #a, a_, b_); \
			test_failed = 1;                                                                       \
			return;                                                                                \
		}                                                                                              \
	} while (0)

#define CHECK_STR(a, b)                                                                               \
	do {                                                                                          \
		const char *a_ = (a), *b_ = (b);                                                      \
		if (!a_ || strcmp(a_, b_)) {                                                          \
			fprintf(stderr, "%s:%d: %s is '%s', expected '%s'\n", __FILE__, __LINE__, #a, \
				a_ ? a_ : "(null)", b_);                                              \
			test_failed = 1;                                                              \
			return;                                                                       \
		}                                                                                     \
	} while (0)

#define CHECK_CONTAINS(hay, needle)                                                                                    \
	do {                                                                                                           \
		const char *h_ = (hay), *n_ = (needle);                                                                \
		if (!h_ || !strstr(h_, n_)) {                                                                          \
			fprintf(stderr, "%s:%d: '%s' does not contain '%s'\n", __FILE__, __LINE__, h_ ? h_ : "(null)", \
				n_);                                                                                   \
			test_failed = 1;                                                                               \
			return;                                                                                        \
		}                                                                                                      \
	} while (0)

/* Waits until `cond` holds (polling every millisecond), at most 20 s (a
 * loaded CI machine under ASan is slow; a pass costs only the wait);
 * then CHECKs it. For what other threads make true. */
#define EVENTUALLY(cond)                                                 \
	do {                                                             \
		struct timespec t0_, t1_;                                \
		clock_gettime(CLOCK_MONOTONIC, &t0_);                    \
		for (;;) {                                               \
			if (cond)                                        \
				break;                                   \
			clock_gettime(CLOCK_MONOTONIC, &t1_);            \
			if (t1_.tv_sec - t0_.tv_sec >= 20)               \
				break;                                   \
			nanosleep(&(struct timespec){0, 1000000}, NULL); \
		}                                                        \
		CHECK(cond);                                             \
	} while (0)

struct test_case {
	const char *name;
	void (*fn)(void);
};

#define TEST_CASE(fn)   \
	{               \
#fn, fn \
	}

/* Runs the cases (all, or those named on the command line). */
int test_main(int argc, char **argv, const struct test_case *cases);
/* A fresh empty directory for this test (removed when the binary ends). */
const char *test_tmpdir(void);
/* Removes a directory tree. */
void test_rmtree(const char *path);
/* Writes `text` to `path` (test helper; aborts on failure). */
void test_write(const char *path, const char *text);
/* The contents of `path`, malloc'd ("" when missing). */
char *test_read(const char *path);

#endif
