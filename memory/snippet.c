/*
 * snippet.c — see snippet.h. Built for the few hits a search prints: it
 * tokenizes each hit's text once and slides a window over the tokens.
 */
#include "memory/snippet.h"

#include <stdlib.h>
#include <string.h>

struct term {
	char *text; /* lower-case */
	size_t len;
	int prefix;
};

struct token {
	size_t start, len;
	int term; /* index of the matched term, -1 for none */
};

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int keyword(const unsigned char *w, size_t len, const char *k)
{
	return len == strlen(k) && !memcmp(w, k, len);
}

/* The terms of an FTS5 query worth marking (see snippet.h). */
static size_t parse_terms(const char *q, struct term **out)
{
	size_t n = 0, cap = 8;
	struct term *t = daimon_xmalloc(cap * sizeof(*t));
	int depth = 0, skip_depth = -1, skip_next = 0, in_quote = 0, skip_quote = 0;
	const unsigned char *p = (const unsigned char *)q;
	while (*p) {
		if (*p == '"') {
			in_quote = !in_quote;
			skip_quote = in_quote && skip_next;
			skip_next = in_quote ? 0 : skip_next;
			p++;
			continue;
		}
		if (!in_quote && (*p == '(' || *p == ')')) {
			if (*p == '(' && ++depth && skip_next)
				skip_depth = depth, skip_next = 0;
			if (*p == ')' && depth-- == skip_depth)
				skip_depth = -1;
			p++;
			continue;
		}
		if (!daimon_word_byte(*p)) {
			p++;
			continue;
		}
		const unsigned char *w = p;
		while (daimon_word_byte(*p))
			p++;
		size_t len = (size_t)(p - w);
		if (!in_quote && (*p == ':' || keyword(w, len, "AND") || keyword(w, len, "OR") ||
				  keyword(w, len, "NEAR") || keyword(w, len, "NOT"))) {
			skip_next |= keyword(w, len, "NOT");
			continue;
		}
		if (skip_quote || skip_depth >= 0)
			continue;
		if (skip_next) {
			skip_next = 0;
			continue;
		}
		if (n == cap)
			t = daimon_xrealloc(t, (cap *= 2) * sizeof(*t));
		t[n].text = daimon_xstrndup((const char *)w, len);
		for (size_t i = 0; i < len; i++)
			t[n].text[i] = lower(t[n].text[i]);
		t[n].len = len;
		t[n].prefix = *p == '*';
		n++;
	}
	*out = t;
	return n;
}

static int match_term(const char *s, size_t len, const struct term *t, size_t nt)
{
	for (size_t i = 0; i < nt; i++) {
		if (len < t[i].len || (!t[i].prefix && len != t[i].len))
			continue;
		size_t k = 0;
		while (k < t[i].len && lower(s[k]) == t[i].text[k])
			k++;
		if (k == t[i].len)
			return (int)i;
	}
	return -1;
}

void daimon_snippet(daimon_buf *out, const char *text, const char *query, const char *open, const char *close,
		    int max_words)
{
	struct term *terms;
	size_t nt = parse_terms(query, &terms);
	size_t n = 0, cap = 64;
	struct token *tok = daimon_xmalloc(cap * sizeof(*tok));
	for (size_t i = 0; text[i];) {
		if (!daimon_word_byte((unsigned char)text[i])) {
			i++;
			continue;
		}
		size_t s = i;
		while (daimon_word_byte((unsigned char)text[i]))
			i++;
		if (n == cap)
			tok = daimon_xrealloc(tok, (cap *= 2) * sizeof(*tok));
		tok[n] = (struct token){s, i - s, match_term(text + s, i - s, terms, nt)};
		n++;
	}
	size_t win = max_words > 0 ? (size_t)max_words : 16;
	/* The window with the most distinct terms, then the most matches. */
	size_t best = 0;
	int best_distinct = -1, best_hits = -1;
	unsigned char *seen = daimon_xcalloc(nt ? nt : 1, 1);
	for (size_t start = 0; start < (n > win ? n - win + 1 : 1); start++) {
		if (n > win && tok[start].term < 0 && start > 0)
			continue; /* windows worth trying start on a match */
		memset(seen, 0, nt ? nt : 1);
		int distinct = 0, hits = 0;
		for (size_t k = start; k < start + win && k < n; k++) {
			if (tok[k].term < 0)
				continue;
			hits++;
			if (!seen[tok[k].term]++)
				distinct++;
		}
		if (distinct > best_distinct || (distinct == best_distinct && hits > best_hits)) {
			best = start, best_distinct = distinct, best_hits = hits;
		}
	}
	/* Start a little before the first match, so it has some context. */
	if (n > win && best > 0) {
		size_t back = win / 4;
		best = best > back ? best - back : 0;
		if (best + win > n)
			best = n - win;
	}
	size_t end = best + win < n ? best + win : n;
	if (n && best > 0)
		daimon_buf_adds(out, "…");
	size_t from = n ? (best > 0 ? tok[best].start : 0) : 0;
	for (size_t k = best; k < end; k++) {
		daimon_buf_add(out, text + from, tok[k].start - from);
		if (tok[k].term >= 0)
			daimon_buf_adds(out, open);
		daimon_buf_add(out, text + tok[k].start, tok[k].len);
		if (tok[k].term >= 0)
			daimon_buf_adds(out, close);
		from = tok[k].start + tok[k].len;
	}
	if (end < n)
		daimon_buf_adds(out, "…");
	else if (n)
		daimon_buf_adds(out, text + from);
	else
		daimon_buf_adds(out, text); /* no words at all: punctuation only */
	for (size_t i = 0; i < nt; i++)
		free(terms[i].text);
	free(terms);
	free(tok);
	free(seen);
}
