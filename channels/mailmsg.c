/*
 * mailmsg.c — just enough of RFC 5322 and MIME to answer a mail: the
 * sender's address, the subject, the Message-ID, and the text a person
 * wrote (the first text/plain part, quoted-printable or base64 decoded),
 * and the reply built the other way. Not a general MIME library: what
 * it does not understand it leaves out rather than guesses. Text in
 * another character set (the part's charset, RFC 2047 encoded words in
 * the Subject and the sender's name) is made UTF-8 by glibc's iconv.
 *
 * (GMime was measured for this: linked in, it costs every daimon
 * process 3.5 MB of resident memory and 3 ms of start-up — glib and
 * gpgme come with it — for what iconv and these lines do.)
 */
#include "channels/mailmsg.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
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

/* `len` bytes in `charset` appended as UTF-8. Unknown or unnamed
 * charsets: UTF-8 if the bytes are that, else Windows-1252 (what mail
 * without a charset is, in practice); bytes that do not convert become
 * U+FFFD. */
static void add_converted(daimon_buf *out, const char *s, size_t len, const char *charset)
{
	int utf8 = daimon_utf8_valid(s, len);
	if ((!charset || !*charset) && utf8) {
		daimon_buf_add(out, s, len);
		return;
	}
	if (charset &&
	    (!strcasecmp(charset, "utf-8") || !strcasecmp(charset, "us-ascii") || !strcasecmp(charset, "utf8"))) {
		daimon_buf_add_utf8(out, s, len);
		return;
	}
	iconv_t cd = iconv_open("UTF-8", charset && *charset ? charset : "WINDOWS-1252");
	if (cd == (iconv_t)-1 && charset)
		cd = iconv_open("UTF-8", "WINDOWS-1252");
	if (cd == (iconv_t)-1) {
		daimon_buf_add_utf8(out, s, len);
		return;
	}
	char *in = (char *)s, chunk[1024];
	size_t left = len;
	while (left) {
		char *o = chunk;
		size_t room = sizeof(chunk);
		size_t r = iconv(cd, &in, &left, &o, &room);
		daimon_buf_add(out, chunk, (size_t)(o - chunk));
		if (r == (size_t)-1 && errno != E2BIG) { /* a byte it cannot take: U+FFFD, and on */
			daimon_buf_adds(out, "\xef\xbf\xbd");
			in++, left--;
		}
	}
	iconv_close(cd);
}

/* A parameter of a header value ("charset" of "text/plain; charset=x"),
 * copied to `out` (empty when absent). */
static void param(const char *value, const char *name, char *out, size_t size)
{
	out[0] = 0;
	size_t n = strlen(name);
	for (const char *p = value ? strchr(value, ';') : NULL; p; p = strchr(p + 1, ';')) {
		const char *q = p + 1;
		while (*q == ' ' || *q == '\t')
			q++;
		if (strncasecmp(q, name, n) || q[n] != '=')
			continue;
		q += n + 1;
		int quoted = *q == '"';
		q += quoted;
		size_t k = 0;
		while (*q && k + 1 < size && (quoted ? *q != '"' : (*q != ';' && *q != ' ')))
			out[k++] = *q++;
		out[k] = 0;
		return;
	}
}

/* A header's text with its RFC 2047 encoded words
 * (=?charset?B|Q?text?=) decoded, as UTF-8; the blank between two
 * encoded words is dropped, as the RFC says. */
static char *decode_words(const char *v)
{
	daimon_buf out = DAIMON_BUF_INIT, raw = DAIMON_BUF_INIT;
	const char *p = v;
	int after_word = 0;
	while (*p) {
		const char *w = strstr(p, "=?");
		char charset[64], enc;
		int n = 0;
		const char *text = NULL, *end = NULL;
		if (w && sscanf(w, "=?%63[^?]?%c?%n", charset, &enc, &n) == 2 && n > 0 && strchr("bBqQ", enc)) {
			text = w + n;
			end = strstr(text, "?=");
		}
		if (!end) { /* no (more) encoded words */
			add_converted(&out, p, strlen(p), NULL);
			break;
		}
		size_t gap = (size_t)(w - p);
		int blank = strspn(p, " \t\r\n") == gap;
		if (!(after_word && blank))
			add_converted(&out, p, gap, NULL);
		daimon_buf_clear(&raw);
		if (enc == 'b' || enc == 'B') {
			decode_b64(&raw, text, (size_t)(end - text));
		} else {
			for (const char *c = text; c < end; c++) /* Q: "_" is a space */
				if (*c == '_')
					daimon_buf_addc(&raw, ' ');
				else if (*c == '=' && c + 2 < end && hexval(c[1]) >= 0 && hexval(c[2]) >= 0)
					daimon_buf_addc(&raw, (char)(hexval(c[1]) * 16 + hexval(c[2]))), c += 2;
				else
					daimon_buf_addc(&raw, *c);
		}
		char *star = strchr(charset, '*'); /* (RFC 2231's language: "utf-8*en") */
		if (star)
			*star = 0;
		add_converted(&out, raw.ptr ? raw.ptr : "", raw.len, charset);
		p = end + 2;
		after_word = 1;
	}
	daimon_buf_release(&raw);
	return out.ptr ? out.ptr : daimon_xstrdup("");
}

/* The text of a single part (its own headers in `head`), decoded and
 * made UTF-8 from its charset. */
static void part_text(daimon_buf *out, const char *head, size_t hlen, const char *body, size_t blen)
{
	char *cte = header(head, hlen, "Content-Transfer-Encoding"), *ct = header(head, hlen, "Content-Type");
	char charset[64];
	param(ct, "charset", charset, sizeof(charset));
	daimon_buf raw = DAIMON_BUF_INIT;
	if (cte && !strcasecmp(cte, "quoted-printable"))
		decode_qp(&raw, body, blen);
	else if (cte && !strcasecmp(cte, "base64"))
		decode_b64(&raw, body, blen);
	else
		daimon_buf_add(&raw, body, blen);
	add_converted(out, raw.ptr ? raw.ptr : "", raw.len, charset);
	daimon_buf_release(&raw);
	free(cte);
	free(ct);
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
		char *name = strndup(from + (from[0] == '"'), n - (from[0] == '"' && n));
		out->name = decode_words(name);
		free(name);
	}
	free(from);
	if (!strchr(addr, '@')) {
		free(addr);
		free(out->name);
		out->name = NULL;
		return -1;
	}
	out->from = addr;
	char *subject = header(m, bs, "Subject");
	out->subject = subject ? decode_words(subject) : NULL;
	free(subject);
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
	char *re = daimon_xasprintf("%s%s", strncasecmp(s, "Re:", 3) ? "Re: " : "", s);
	int plain = 1;
	for (const char *c = re; *c; c++)
		plain &= (unsigned char)*c < 0x80 && *c != '\r' && *c != '\n';
	if (plain) {
		daimon_buf_addf(&b, "Subject: %s\r\n", re);
	} else { /* an encoded word, as a header must be ASCII (RFC 2047) */
		daimon_buf_adds(&b, "Subject: =?UTF-8?B?");
		daimon_buf_add_base64(&b, re, strlen(re));
		daimon_buf_adds(&b, "?=\r\n");
	}
	free(re);
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
