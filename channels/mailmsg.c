/*
 * mailmsg.c — just enough of RFC 5322 and MIME to answer a mail: the
 * sender's address, the subject, the Message-ID, and the text a person
 * wrote (the first text/plain part, quoted-printable or base64 decoded),
 * and the reply built the other way. Not a general MIME library: what
 * it does not understand it leaves out rather than guesses.
 */
#include "channels/mailmsg.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/buf.h"

#define TEXT_LIMIT (64 * 1024)

/* The value of the next header `name` in `head` from *at on (unfolded;
 * caller frees; *at moves past it), or NULL. */
static char *next_header(const char *head, size_t len, const char *name, size_t *at)
{
	size_t n = strlen(name);
	for (size_t i = *at; i < len;) {
		size_t eol = i;
		while (eol < len && head[eol] != '\n')
			eol++;
		if (eol - i > n && !strncasecmp(head + i, name, n) && head[i + n] == ':') {
			daimon_buf v = DAIMON_BUF_INIT;
			size_t j = i + n + 1;
			for (;;) { /* this line, then continuation lines (starting with a blank) */
				while (j < eol && (head[j] == ' ' || head[j] == '\t'))
					j++;
				size_t end = eol;
				while (end > j && (head[end - 1] == '\r' || head[end - 1] == ' '))
					end--;
				if (v.len && end > j)
					daimon_buf_addc(&v, ' ');
				daimon_buf_add(&v, head + j, end - j);
				if (eol + 1 < len && (head[eol + 1] == ' ' || head[eol + 1] == '\t')) {
					j = eol + 1;
					eol = j;
					while (eol < len && head[eol] != '\n')
						eol++;
					continue;
				}
				break;
			}
			*at = eol + 1;
			return daimon_buf_cstr(&v)[0] ? v.ptr : (daimon_buf_release(&v), daimon_xstrdup(""));
		}
		i = eol + 1;
	}
	*at = len;
	return NULL;
}

static char *header(const char *head, size_t len, const char *name)
{
	size_t at = 0;
	return next_header(head, len, name, &at);
}

/* Where the body begins (after the blank line), or len. */
static size_t body_start(const char *m, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (m[i] == '\n' && m[i + 1] == '\n')
			return i + 2;
		if (m[i] == '\n' && m[i + 1] == '\r' && i + 2 < len && m[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

static int hexval(int c)
{
	return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

static void decode_qp(daimon_buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '=') {
			daimon_buf_addc(out, s[i]);
		} else if (i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			daimon_buf_addc(out, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
			i += 2;
		} else { /* a soft line break */
			while (i + 1 < len && (s[i + 1] == '\r' || s[i + 1] == ' '))
				i++;
			if (i + 1 < len && s[i + 1] == '\n')
				i++;
		}
	}
}

static void decode_b64(daimon_buf *out, const char *s, size_t len)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len && s[i] != '='; i++) {
		const char *p = s[i] ? strchr(abc, s[i]) : NULL;
		if (!p)
			continue; /* line breaks */
		acc = (acc << 6) | (unsigned)(p - abc);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			daimon_buf_addc(out, (char)((acc >> bits) & 0xff));
		}
	}
}

/* The text of a single part (its own headers in `head`), decoded. */
static void part_text(daimon_buf *out, const char *head, size_t hlen, const char *body, size_t blen)
{
	char *cte = header(head, hlen, "Content-Transfer-Encoding");
	if (cte && !strcasecmp(cte, "quoted-printable"))
		decode_qp(out, body, blen);
	else if (cte && !strcasecmp(cte, "base64"))
		decode_b64(out, body, blen);
	else
		daimon_buf_add(out, body, blen);
	free(cte);
}

/* The first text/plain part of (possibly nested) multipart content. */
static int find_text(daimon_buf *out, const char *m, size_t len, int depth)
{
	size_t bs = body_start(m, len);
	char *ct = header(m, bs, "Content-Type");
	int found = 0;
	if (!ct || !strncasecmp(ct, "text/plain", 10)) {
		part_text(out, m, bs, m + bs, len - bs);
		found = 1;
	} else if (!strncasecmp(ct, "multipart/", 10) && depth < 4) {
		const char *b = strcasestr(ct, "boundary=");
		if (b) {
			b += 9;
			char boundary[200];
			size_t n = 0;
			if (*b == '"')
				b++;
			while (*b && *b != '"' && *b != ';' && n + 3 < sizeof(boundary) - 1)
				boundary[n++] = *b++;
			boundary[n] = 0;
			char delim[210];
			snprintf(delim, sizeof(delim), "--%s", boundary);
			const char *p = m + bs, *end = m + len;
			p = memmem(p, (size_t)(end - p), delim, strlen(delim));
			while (p && !found) {
				p += strlen(delim);
				if (p + 2 <= end && p[0] == '-' && p[1] == '-')
					break; /* the closing delimiter */
				while (p < end && *p != '\n')
					p++;
				p++;
				if (p >= end)
					break;
				const char *next = memmem(p, (size_t)(end - p), delim, strlen(delim));
				size_t plen = (size_t)((next ? next : end) - p);
				found = find_text(out, p, plen, depth + 1);
				p = next;
			}
		}
	}
	free(ct);
	return found;
}

int daimon_mail_parse(daimon_mail *out, const char *m, size_t len)
{
	memset(out, 0, sizeof(*out));
	size_t bs = body_start(m, len);
	char *from = header(m, bs, "From");
	if (!from)
		return -1;
	/* "Name <addr>" or a bare address */
	const char *lt = strrchr(from, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	char *addr = lt && gt ? strndup(lt + 1, (size_t)(gt - lt - 1)) : strdup(from);
	for (char *c = addr; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (lt && lt > from) {
		size_t n = (size_t)(lt - from);
		while (n && (from[n - 1] == ' ' || from[n - 1] == '"'))
			n--;
		out->name = strndup(from + (from[0] == '"'), n - (from[0] == '"' && n));
	}
	free(from);
	if (!strchr(addr, '@')) {
		free(addr);
		free(out->name);
		out->name = NULL;
		return -1;
	}
	out->from = addr;
	out->subject = header(m, bs, "Subject");
	out->message_id = header(m, bs, "Message-ID");
	out->references = header(m, bs, "References");
	daimon_buf text = DAIMON_BUF_INIT;
	find_text(&text, m, len, 0);
	/* CRLF to LF, trimmed, capped */
	daimon_buf clean = DAIMON_BUF_INIT;
	for (size_t i = 0; i < text.len && clean.len < TEXT_LIMIT; i++)
		if (text.ptr[i] != '\r')
			daimon_buf_addc(&clean, text.ptr[i]);
	daimon_buf_release(&text);
	size_t a = 0, b = clean.len;
	while (a < b && isspace((unsigned char)clean.ptr[a]))
		a++;
	while (b > a && isspace((unsigned char)clean.ptr[b - 1]))
		b--;
	out->text = strndup(clean.ptr ? clean.ptr + a : "", b - a);
	daimon_buf_release(&clean);
	return 0;
}

void daimon_mail_release(daimon_mail *m)
{
	free(m->from);
	free(m->name);
	free(m->subject);
	free(m->message_id);
	free(m->references);
	free(m->text);
	memset(m, 0, sizeof(*m));
}

char *daimon_mail_reply(const char *from, const char *to, const char *subject, const char *message_id,
			const char *references, const char *text)
{
	daimon_buf b = DAIMON_BUF_INIT;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	daimon_buf_addf(&b, "From: %s\r\nTo: %s\r\nDate: %s\r\n", from, to, date);
	const char *s = subject ? subject : "";
	daimon_buf_addf(&b, "Subject: %s%s\r\n", strncasecmp(s, "Re:", 3) ? "Re: " : "", s);
	if (message_id && *message_id) {
		daimon_buf_addf(&b, "In-Reply-To: %s\r\n", message_id);
		int refs = references && *references;
		daimon_buf_addf(&b, "References: %s%s%s\r\n", refs ? references : "", refs ? " " : "", message_id);
	}
	daimon_buf_adds(&b, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
			    "Content-Transfer-Encoding: 8bit\r\n\r\n");
	/* CRLF line ends; a line that is just "." would end SMTP's DATA (curl
	 * dot-stuffs, but a mail server may not be curl's) */
	for (const char *p = text; *p; p++) {
		if (*p == '\n')
			daimon_buf_addc(&b, '\r');
		daimon_buf_addc(&b, *p);
	}
	daimon_buf_adds(&b, "\r\n");
	return b.ptr;
}

/* ---- who sent it (RFC 8601 Authentication-Results) ---- */

/* `domain` is the `n` bytes at `of`, or a subdomain of them (relaxed
 * alignment). */
static int aligned(const char *domain, const char *of, size_t n)
{
	size_t dlen = strlen(domain);
	return n && dlen >= n && !strncasecmp(domain + dlen - n, of, n) && (dlen == n || domain[dlen - n - 1] == '.');
}

/* The value of property `prop` ("header.d=") in one result, its length in *n. */
static const char *prop(const char *res, size_t len, const char *name, size_t *n)
{
	size_t k = strlen(name);
	for (size_t i = 0; i + k <= len; i++)
		if ((i == 0 || res[i - 1] == ' ') && !strncasecmp(res + i, name, k)) {
			const char *v = res + i + k;
			*n = strcspn(v, " ;");
			if (*n > len - i - k)
				*n = len - i - k;
			const char *at = memchr(v, '@', *n); /* (an address: its domain) */
			if (at) {
				*n -= (size_t)(at + 1 - v);
				v = at + 1;
			}
			return v;
		}
	return NULL;
}

/* One result ("dkim=pass header.d=example.org ...") vouches for `domain`. */
static int vouches(const char *res, size_t len, const char *domain)
{
	while (len && *res == ' ')
		res++, len--;
	static const struct {
		const char *method, *prop;
	} ok[] = {{"dmarc=pass", "header.from="},
		  {"dkim=pass", "header.d="},
		  {"dkim=pass", "header.i="},
		  {"spf=pass", "smtp.mailfrom="}};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		size_t m = strlen(ok[i].method), n = 0;
		if (len < m || strncasecmp(res, ok[i].method, m) || (len > m && res[m] != ' ' && res[m] != ';'))
			continue;
		const char *d = prop(res, len, ok[i].prop, &n);
		if (d && aligned(domain, d, n)) /* (From at it, or at a subdomain of it) */
			return 1;
	}
	return 0;
}

int daimon_mail_authenticated(const char *raw, size_t len, const char *from, const char *authserv)
{
	const char *at = from ? strrchr(from, '@') : NULL;
	if (!at)
		return 0;
	const char *domain = at + 1;
	size_t bs = body_start(raw, len), pos = 0;
	int yes = 0, topmost = !authserv || !*authserv; /* (the receiving server's is on top) */
	for (char *v; !yes && (v = next_header(raw, bs, "Authentication-Results", &pos));) {
		size_t idlen = strcspn(v, " ;");
		int trusted = topmost || (strlen(authserv) == idlen && !strncasecmp(v, authserv, idlen));
		for (const char *r = strchr(v, ';'); trusted && !yes && r; r = strchr(r + 1, ';'))
			yes = vouches(r + 1, strcspn(r + 1, ";"), domain);
		free(v);
		if (topmost)
			break;
	}
	return yes;
}
