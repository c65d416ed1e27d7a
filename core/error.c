/*
 * error.c — the thread-local last-error slot (see error.h).
 */
#include "core/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

/* Formats into a scratch buffer first: the arguments may include the
 * previous message (wrapping an error with more context). */
static void set_message(const char *fmt, va_list ap, int err)
{
	char msg[sizeof(last_error)];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err && n >= 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(err));
	memcpy(last_error, msg, sizeof(msg));
}

int daimon_error_code(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_message(fmt, ap, 0);
	va_end(ap);
	return code;
}

int daimon_error_errno(const char *fmt, ...)
{
	int err = errno;
	va_list ap;
	va_start(ap, fmt);
	set_message(fmt, ap, err);
	va_end(ap);
	errno = err;
	return DAIMON_ERROR;
}

const char *daimon_error_last(void)
{
	return last_error;
}

void daimon_error_clear(void)
{
	last_error[0] = '\0';
}
