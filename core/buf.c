/*
 * buf.c — growable buffer and checked allocation (see buf.h).
 */
#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(size_t n)
{
	fprintf(stderr, "daimon: out of memory allocating %zu bytes\n", n);
	abort();
}

void *daimon_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		out_of_memory(n);
	return p;
}

void *daimon_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		out_of_memory(n * size);
	return p;
}

void *daimon_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		out_of_memory(n);
	return q;
}

char *daimon_xstrdup(const char *s)
{
	return daimon_xstrndup(s, strlen(s));
}

char *daimon_xstrndup(const char *s, size_t n)
{
	char *p = daimon_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *daimon_xasprintf(const char *fmt, ...)
{
	daimon_buf b = DAIMON_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	daimon_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return daimon_buf_detach(&b);
}

void daimon_buf_grow(daimon_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	b->ptr = daimon_xrealloc(b->ptr, cap);
	b->cap = cap;
	b->ptr[b->len] = '\0'; /* (daimon_buf_cstr stays right whatever comes next) */
}

void daimon_buf_add(daimon_buf *b, const void *data, size_t len)
{
	daimon_buf_grow(b, len);
	memcpy(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
}

void daimon_buf_adds(daimon_buf *b, const char *s)
{
	daimon_buf_add(b, s, strlen(s));
}

void daimon_buf_addc(daimon_buf *b, char c)
{
	daimon_buf_grow(b, 1);
	b->ptr[b->len++] = c;
	b->ptr[b->len] = '\0';
}

void daimon_buf_vaddf(daimon_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	daimon_buf_grow(b, (size_t)n);
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void daimon_buf_addf(daimon_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	daimon_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void daimon_buf_clear(daimon_buf *b)
{
	b->len = 0;
	if (b->ptr)
		b->ptr[0] = '\0';
}

void daimon_buf_release(daimon_buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->len = b->cap = 0;
}

char *daimon_buf_detach(daimon_buf *b)
{
	char *p = b->ptr ? b->ptr : daimon_xstrdup("");
	b->ptr = NULL;
	b->len = b->cap = 0;
	return p;
}

const char *daimon_buf_cstr(const daimon_buf *b)
{
	return b->ptr ? b->ptr : "";
}
