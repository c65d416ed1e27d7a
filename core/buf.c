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

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	if (s[0] < 0x80)
		return 1;
	size_t len = s[0] >= 0xC2 && s[0] <= 0xDF   ? 2
		     : (s[0] & 0xF0) == 0xE0        ? 3
		     : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4
						    : 0;
	if (!len || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	if (len == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0)))
		return 0; /* overlong, or a surrogate */
	if (len == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90)))
		return 0; /* overlong, or past U+10FFFF */
	return len;
}

int daimon_utf8_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq((const unsigned char *)s + i, n - i);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

void daimon_buf_add_utf8(daimon_buf *b, const char *s, size_t n)
{
	size_t from = 0;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq((const unsigned char *)s + i, n - i);
		if (k) {
			i += k;
			continue;
		}
		daimon_buf_add(b, s + from, i - from);
		daimon_buf_add(b, "\xEF\xBF\xBD", 3); /* U+FFFD */
		from = ++i;
	}
	daimon_buf_add(b, s + from, n - from);
}

void daimon_buf_add_base64(daimon_buf *b, const void *data, size_t n)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = data;
	char four[4];
	for (size_t i = 0; i < n; i += 3) {
		unsigned v =
			(unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
		four[0] = abc[v >> 18 & 63];
		four[1] = abc[v >> 12 & 63];
		four[2] = i + 1 < n ? abc[v >> 6 & 63] : '=';
		four[3] = i + 2 < n ? abc[v & 63] : '=';
		daimon_buf_add(b, four, 4);
	}
}

int daimon_buf_add_unbase64(daimon_buf *b, const char *s, size_t n)
{
	size_t start = b->len;
	unsigned v = 0;
	int bits = 0, pad = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int d = c >= 'A' && c <= 'Z'   ? c - 'A'
			: c >= 'a' && c <= 'z' ? c - 'a' + 26
			: c >= '0' && c <= '9' ? c - '0' + 52
			: c == '+'             ? 62
			: c == '/'             ? 63
					       : -1;
		if (c == '=') {
			pad++;
			continue;
		}
		if (d < 0 && (c == ' ' || c == '\n' || c == '\r' || c == '\t'))
			continue;
		if (d < 0 || pad) { /* (nothing after the padding) */
			b->len = start;
			return -1;
		}
		v = v << 6 | (unsigned)d;
		if ((bits += 6) >= 8) {
			bits -= 8;
			daimon_buf_addc(b, (char)(v >> bits & 0xFF));
		}
	}
	return 0;
}

void daimon_buf_add_printable(daimon_buf *b, const char *s, size_t n)
{
	daimon_buf valid = DAIMON_BUF_INIT;
	daimon_buf_add_utf8(&valid, s, n);
	const unsigned char *p = (const unsigned char *)valid.ptr;
	for (size_t i = 0; i < valid.len; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			daimon_buf_addf(b, "\\x%02x", p[i]);
		else if (p[i] == 0xc2 && i + 1 < valid.len && p[i + 1] < 0xa0) /* U+0080 to U+009F */
			daimon_buf_addf(b, "\\u%04x", p[++i]);
		else
			daimon_buf_addc(b, (char)p[i]);
	daimon_buf_release(&valid);
}
