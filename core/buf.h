/*
 * buf.h — a growable byte buffer, always NUL-terminated (Redis's sds, git's
 * strbuf). Used to build records, paths and output lines without a fixed
 * limit. Allocation failure aborts: a daemon that cannot allocate a few
 * bytes has nothing sensible left to do, and pretending otherwise hides bugs.
 */
#ifndef DAIMON_CORE_BUF_H
#define DAIMON_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
	char *ptr;
	size_t len;
	size_t cap;
} daimon_buf;

#define DAIMON_BUF_INIT    \
	{                  \
		NULL, 0, 0 \
	}

void daimon_buf_grow(daimon_buf *b, size_t extra);
void daimon_buf_add(daimon_buf *b, const void *data, size_t len);
void daimon_buf_adds(daimon_buf *b, const char *s);
void daimon_buf_addc(daimon_buf *b, char c);
void daimon_buf_addf(daimon_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void daimon_buf_vaddf(daimon_buf *b, const char *fmt, va_list ap);
void daimon_buf_clear(daimon_buf *b);
void daimon_buf_release(daimon_buf *b);
/* Hands the string to the caller (who frees it); the buffer is left empty. */
char *daimon_buf_detach(daimon_buf *b);
/* The contents as a C string ("" for an empty buffer, never NULL). */
const char *daimon_buf_cstr(const daimon_buf *b);

void *daimon_xmalloc(size_t n);
void *daimon_xcalloc(size_t n, size_t size);
void *daimon_xrealloc(void *p, size_t n);
char *daimon_xstrdup(const char *s);
char *daimon_xstrndup(const char *s, size_t n);
char *daimon_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Appends `n` bytes of text made valid UTF-8: each byte of an invalid or
 * cut sequence (Latin-1 from a mail, junk from a tool or a model) becomes
 * U+FFFD, so nothing invalid reaches a log or the next request. */
void daimon_buf_add_utf8(daimon_buf *b, const char *s, size_t n);
/* Appends text from outside (a sender's name, a subject) fit to print on
 * a terminal: control characters — C0, DEL and C1, which can move the
 * cursor, retitle the window or paste — as \xNN or \uNNNN, the rest as
 * daimon_buf_add_utf8 does. */
void daimon_buf_add_printable(daimon_buf *b, const char *s, size_t n);
/* Appends `n` bytes as base64 (RFC 4648, padded, no line breaks). */
void daimon_buf_add_base64(daimon_buf *b, const void *data, size_t n);
/* Appends the bytes `n` characters of base64 stand for (padding and
 * white space allowed); -1 at anything else, with `b` as it was. */
int daimon_buf_add_unbase64(daimon_buf *b, const char *s, size_t n);
/* Whether `n` bytes are valid UTF-8 (no overlongs, surrogates or values
 * past U+10FFFF). */
int daimon_utf8_valid(const char *s, size_t n);

#endif
