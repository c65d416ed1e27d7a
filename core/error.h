/*
 * error.h — one way to fail.
 *
 * Every function in daimon that can fail returns an int (0 ok, <0 error) and
 * leaves a human-readable message in a thread-local slot, the way libgit2's
 * git_error_last() works. The message follows git's rules: it says what went
 * wrong, quotes its subject ('%s'), and has no full stop. The CLI prints it
 * as "daimon: <message>" and exits non-zero.
 */
#ifndef DAIMON_CORE_ERROR_H
#define DAIMON_CORE_ERROR_H

#include <stdarg.h>

enum {
	DAIMON_OK = 0,
	DAIMON_ERROR = -1,      /* generic failure; see daimon_error_last() */
	DAIMON_ENOTFOUND = -3,  /* the thing asked for does not exist */
	DAIMON_EEXISTS = -4,    /* the thing to create is already there */
	DAIMON_ECORRUPT = -5,   /* data on disk is damaged */
	DAIMON_EBUSY = -6,      /* another process holds it */
	DAIMON_EINVAL = -7,     /* bad input from the caller or the user */
	DAIMON_ECANCELLED = -8, /* stopped before it finished */
	DAIMON_ETIMEDOUT = -9,  /* out of time */
	DAIMON_ETOOBIG = -10,   /* past a bound on its size */
};

/* Sets the thread's last error and returns `code` (so: return daimon_error(...)). */
int daimon_error_code(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define daimon_error(...) daimon_error_code(DAIMON_ERROR, __VA_ARGS__)
/* Like daimon_error() with ": strerror(errno)" appended. */
int daimon_error_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The thread's last error message ("" when none). */
const char *daimon_error_last(void);
void daimon_error_clear(void);

#endif
