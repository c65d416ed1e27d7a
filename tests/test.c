/*
 * test.c — the harness behind test.h.
 */
#include "tests/test.h"

#include <ftw.h>
#include <unistd.h>

int test_failed;
static char dirs[256][64];
static int ndirs;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

void test_rmtree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *test_tmpdir(void)
{
	if (ndirs == 256)
		abort();
	char *d = dirs[ndirs++];
	snprintf(d, 64, "/tmp/daimon-test.XXXXXX");
	if (!mkdtemp(d))
		abort();
	return d;
}

void test_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

char *test_read(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return strdup("");
	size_t cap = 4096, len = 0;
	char *s = malloc(cap);
	size_t n;
	while ((n = fread(s + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len - 1 == 0)
			s = realloc(s, cap *= 2);
	}
	s[len] = '\0';
	fclose(f);
	return s;
}

int test_main(int argc, char **argv, const struct test_case *cases)
{
	int failures = 0, ran = 0;
	for (const struct test_case *c = cases; c->name; c++) {
		if (argc > 1) {
			int wanted = 0;
			for (int i = 1; i < argc; i++)
				wanted |= !strcmp(argv[i], c->name);
			if (!wanted)
				continue;
		}
		test_failed = 0;
		c->fn();
		ran++;
		printf("%s %s\n", test_failed ? "FAIL" : "ok  ", c->name);
		fflush(stdout);
		failures += test_failed;
	}
	for (int i = 0; i < ndirs; i++)
		test_rmtree(dirs[i]);
	printf("%d passed, %d failed\n", ran - failures, failures);
	return failures ? 1 : 0;
}
