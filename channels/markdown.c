/*
 * markdown.c — the model's markdown for a page, Telegram and a terminal.
 *
 * cmark-gfm parses it (GitHub's extensions: table, strikethrough,
 * autolink, tasklist) and, once parsed, the tree is made harmless
 * (`tame`): raw HTML becomes text, a link to anything but http, https or
 * mailto keeps only its words, an image becomes a link. The page then
 * takes cmark's own HTML renderer in its safe mode; Telegram and the
 * terminal one walk of the tree (`block`, `inlines`) with a style each:
 * Telegram's few HTML tags, or ANSI escapes.
 */
#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "channels/channels.h"
#include "channels/markdown.h"
#include "core/buf.h"
#include "core/error.h"

static const char *const extensions[] = {"table", "strikethrough", "autolink", "tasklist"};

static pthread_once_t registered = PTHREAD_ONCE_INIT;

static void register_extensions(void)
{
	cmark_gfm_core_extensions_ensure_registered(); /* (not thread-safe on its own) */
}

static cmark_parser *parser_new(void)
{
	pthread_once(&registered, register_extensions);
	cmark_parser *p = cmark_parser_new(CMARK_OPT_DEFAULT);
	for (size_t i = 0; i < sizeof(extensions) / sizeof(*extensions); i++) {
		cmark_syntax_extension *e = cmark_find_syntax_extension(extensions[i]);
		if (e)
			cmark_parser_attach_syntax_extension(p, e);
	}
	return p;
}

/* ---- making the tree harmless ---- */

static int url_ok(const char *url)
{
	return url &&
	       (!strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8) || !strncasecmp(url, "mailto:", 7));
}

/* `n`'s children take its place. */
static void unwrap(cmark_node *n)
{
	cmark_node *c;
	while ((c = cmark_node_first_child(n)))
		cmark_node_insert_before(n, c);
	cmark_node_free(n);
}

static void replace(cmark_node *old, cmark_node *with)
{
	cmark_node_insert_before(old, with);
	cmark_node_free(old);
}

static void tame_node(cmark_node *n)
{
	cmark_node *with;
	const char *url = cmark_node_get_url(n);
	switch (cmark_node_get_type(n)) {
	case CMARK_NODE_HTML_BLOCK: /* shown as what it is: text */
		with = cmark_node_new(CMARK_NODE_CODE_BLOCK);
		cmark_node_set_literal(with, cmark_node_get_literal(n));
		replace(n, with);
		break;
	case CMARK_NODE_HTML_INLINE:
		with = cmark_node_new(CMARK_NODE_TEXT);
		cmark_node_set_literal(with, cmark_node_get_literal(n));
		replace(n, with);
		break;
	case CMARK_NODE_LINK:
		if (!url_ok(url))
			unwrap(n);
		break;
	case CMARK_NODE_IMAGE: /* never loaded: a link to it, by its words */
		if (!url_ok(url)) {
			unwrap(n);
			break;
		}
		with = cmark_node_new(CMARK_NODE_LINK);
		cmark_node_set_url(with, url);
		if (!cmark_node_first_child(n)) {
			cmark_node *t = cmark_node_new(CMARK_NODE_TEXT);
			cmark_node_set_literal(t, url);
			cmark_node_append_child(n, t);
		}
		cmark_node *c;
		while ((c = cmark_node_first_child(n)))
			cmark_node_append_child(with, c);
		replace(n, with);
		break;
	default:
		break;
	}
}

static cmark_node *parse(const char *md, size_t len, cmark_llist **exts, cmark_parser **keep)
{
	cmark_parser *p = parser_new();
	cmark_parser_feed(p, md, len);
	cmark_node *doc = cmark_parser_finish(p);
	/* The nodes to change are gathered first: the tree is not changed
	 * under its iterator. */
	cmark_node **todo = NULL;
	size_t n = 0, cap = 0;
	cmark_iter *it = cmark_iter_new(doc);
	cmark_event_type ev;
	while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
		cmark_node *node = cmark_iter_get_node(it);
		cmark_node_type t = cmark_node_get_type(node);
		int leaf = t == CMARK_NODE_HTML_BLOCK || t == CMARK_NODE_HTML_INLINE; /* (entered only) */
		if (leaf || (ev == CMARK_EVENT_EXIT && (t == CMARK_NODE_LINK || t == CMARK_NODE_IMAGE))) {
			if (n == cap)
				todo = daimon_xrealloc(todo, (cap = cap ? 2 * cap : 16) * sizeof(*todo));
			todo[n++] = node;
		}
	}
	cmark_iter_free(it);
	for (size_t i = 0; i < n; i++) /* (a node moved stays whole) */
		tame_node(todo[i]);
	free(todo);
	if (exts)
		*exts = cmark_parser_get_syntax_extensions(p);
	*keep = p;
	return doc;
}

char *daimon_md_html(const char *md, size_t len)
{
	cmark_llist *exts;
	cmark_parser *p;
	cmark_node *doc = parse(md, len, &exts, &p);
	char *cm = cmark_render_html(doc, CMARK_OPT_DEFAULT, exts); /* (safe: no raw HTML, no unsafe links) */
	char *html = daimon_xstrdup(cm);
	cmark_get_default_mem_allocator()->free(cm);
	cmark_node_free(doc);
	cmark_parser_free(p);
	return html;
}

/* ---- one walk for Telegram and the terminal ---- */

struct style {
	int html; /* Telegram: text escaped, links and code blocks as tags */
	const char *strong[2], *emph[2], *strike[2], *code[2], *heading[2], *quote_prefix, *pre_prefix;
};

static const struct style telegram = {
	.html = 1,
	.strong = {"<b>", "</b>"},
	.emph = {"<i>", "</i>"},
	.strike = {"<s>", "</s>"},
	.code = {"<code>", "</code>"},
	.heading = {"<b>", "</b>"},
};

static const struct style ansi = {
	.strong = {"\033[1m", "\033[22m"},
	.emph = {"\033[3m", "\033[23m"},
	.strike = {"\033[9m", "\033[29m"},
	.code = {"\033[36m", "\033[39m"},
	.heading = {"\033[1;4m", "\033[22;24m"},
	.quote_prefix = "\033[2m\xe2\x94\x82\033[22m ",
	.pre_prefix = "    ",
};

static const struct style plain = {
	.strong = {"", ""},
	.emph = {"", ""},
	.strike = {"", ""},
	.code = {"", ""},
	.heading = {"", ""},
	.quote_prefix = "> ",
	.pre_prefix = "    ",
};

/* Outside text: HTML-escaped for Telegram; for a terminal, control
 * characters (C0, DEL and C1, which can start escape sequences) shown
 * as ^X or '?' instead of written. */
static void text(daimon_buf *b, const struct style *s, const char *t)
{
	for (const unsigned char *p = (const unsigned char *)(t ? t : ""); *p; p++) {
		if (s->html && (*p == '<' || *p == '>' || *p == '&'))
			daimon_buf_adds(b, *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : "&amp;");
		else if (!s->html && ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f))
			daimon_buf_addf(b, "^%c", *p == 0x7f ? '?' : *p + '@');
		else if (!s->html && *p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			daimon_buf_addc(b, '?'), p++;
		else
			daimon_buf_addc(b, (char)*p);
	}
}

static int is(cmark_node *n, const char *type)
{
	return !strcmp(cmark_node_get_type_string(n), type);
}

static void inlines(daimon_buf *b, const struct style *s, cmark_node *parent);

static void wrap(daimon_buf *b, const struct style *s, const char *const tags[2], cmark_node *n)
{
	daimon_buf_adds(b, tags[0]);
	inlines(b, s, n);
	daimon_buf_adds(b, tags[1]);
}

static void inline_node(daimon_buf *b, const struct style *s, cmark_node *n)
{
	switch (cmark_node_get_type(n)) {
	case CMARK_NODE_TEXT:
		text(b, s, cmark_node_get_literal(n));
		break;
	case CMARK_NODE_SOFTBREAK:
	case CMARK_NODE_LINEBREAK:
		daimon_buf_addc(b, '\n');
		break;
	case CMARK_NODE_CODE:
		daimon_buf_adds(b, s->code[0]);
		text(b, s, cmark_node_get_literal(n));
		daimon_buf_adds(b, s->code[1]);
		break;
	case CMARK_NODE_EMPH:
		wrap(b, s, s->emph, n);
		break;
	case CMARK_NODE_STRONG:
		wrap(b, s, s->strong, n);
		break;
	case CMARK_NODE_LINK: { /* (only safe ones are left) */
		const char *url = cmark_node_get_url(n);
		if (s->html) {
			daimon_buf_adds(b, "<a href=\"");
			for (const char *p = url; *p; p++)
				daimon_buf_adds(b, *p == '"' ? "&quot;" : *p == '&' ? "&amp;" : (char[2]){*p, 0});
			daimon_buf_adds(b, "\">");
			inlines(b, s, n);
			daimon_buf_adds(b, "</a>");
			break;
		}
		size_t at = b->len;
		inlines(b, s, n);
		if (b->len - at != strlen(url) || memcmp(b->ptr + at, url, b->len - at)) {
			daimon_buf_adds(b, " <");
			text(b, s, url);
			daimon_buf_addc(b, '>');
		}
		break;
	}
	default:
		if (is(n, "strikethrough"))
			wrap(b, s, s->strike, n);
		else
			inlines(b, s, n);
	}
}

static void inlines(daimon_buf *b, const struct style *s, cmark_node *parent)
{
	for (cmark_node *c = cmark_node_first_child(parent); c; c = cmark_node_next(c))
		inline_node(b, s, c);
}

/* Every line of b from `at` on starts with `first` (its first) or
 * `rest` (the others). */
static void indent(daimon_buf *b, size_t at, const char *first, const char *rest)
{
	daimon_buf out = DAIMON_BUF_INIT;
	daimon_buf_adds(&out, first);
	for (size_t i = at; i < b->len; i++) {
		daimon_buf_addc(&out, b->ptr[i]);
		if (b->ptr[i] == '\n' && i + 1 < b->len)
			daimon_buf_adds(&out, rest);
	}
	b->len = at;
	daimon_buf_add(b, out.ptr, out.len);
	daimon_buf_release(&out);
}

static size_t width(const char *t, size_t len)
{
	size_t w = 0;
	for (size_t i = 0; i < len; i++)
		w += ((unsigned char)t[i] & 0xc0) != 0x80;
	return w;
}

static void block(daimon_buf *b, const struct style *s, cmark_node *n);

static void code_block(daimon_buf *b, const struct style *s, const char *code)
{
	size_t len = strlen(code);
	while (len && code[len - 1] == '\n')
		len--;
	if (s->html) {
		daimon_buf_adds(b, "<pre>");
		char *c = daimon_xstrndup(code, len);
		text(b, s, c);
		free(c);
		daimon_buf_adds(b, "</pre>");
		return;
	}
	size_t at = b->len;
	daimon_buf_adds(b, s->code[0]);
	char *c = daimon_xstrndup(code, len);
	text(b, s, c);
	free(c);
	daimon_buf_adds(b, s->code[1]);
	indent(b, at, s->pre_prefix, s->pre_prefix);
}

/* A table as aligned columns of plain text (in Telegram, a <pre>). */
static void table(daimon_buf *b, const struct style *s, cmark_node *n)
{
	size_t cols = cmark_gfm_extensions_get_table_columns(n), rows = 0;
	uint8_t *align = cmark_gfm_extensions_get_table_alignments(n);
	for (cmark_node *r = cmark_node_first_child(n); r; r = cmark_node_next(r))
		rows++;
	if (!cols || !rows)
		return;
	daimon_buf *cell = daimon_xcalloc(rows * cols, sizeof(*cell));
	size_t *w = daimon_xcalloc(cols, sizeof(*w)), i = 0;
	for (cmark_node *r = cmark_node_first_child(n); r; r = cmark_node_next(r), i++) {
		size_t j = 0;
		for (cmark_node *c = cmark_node_first_child(r); c && j < cols; c = cmark_node_next(c), j++) {
			inlines(&cell[i * cols + j], &plain, c);
			for (char *p = cell[i * cols + j].ptr; p && p < cell[i * cols + j].ptr + cell[i * cols + j].len;
			     p++)
				if (*p == '\n')
					*p = ' ';
			size_t cw = width(cell[i * cols + j].ptr, cell[i * cols + j].len);
			w[j] = cw > w[j] ? cw : w[j];
		}
	}
	daimon_buf t = DAIMON_BUF_INIT;
	for (i = 0; i < rows; i++) {
		for (size_t j = 0; j < cols; j++) {
			daimon_buf *c = &cell[i * cols + j];
			size_t pad = w[j] - width(c->ptr, c->len);
			size_t left = align && align[j] == 'r' ? pad : align && align[j] == 'c' ? pad / 2 : 0;
			daimon_buf_addf(&t, "%s%*s%.*s%*s", j ? " | " : "", (int)left, "", (int)c->len,
					c->ptr ? c->ptr : "", (int)(pad - left), "");
		}
		while (t.len && t.ptr[t.len - 1] == ' ')
			t.len--;
		daimon_buf_addc(&t, '\n');
		if (i == 0) { /* under the header */
			for (size_t j = 0; j < cols; j++) {
				daimon_buf_adds(&t, j ? "-+-" : "");
				for (size_t k = 0; k < w[j]; k++)
					daimon_buf_addc(&t, '-');
			}
			daimon_buf_addc(&t, '\n');
		}
	}
	code_block(b, s, daimon_buf_cstr(&t));
	daimon_buf_release(&t);
	for (i = 0; i < rows * cols; i++)
		daimon_buf_release(&cell[i]);
	free(cell);
	free(w);
}

static void list(daimon_buf *b, const struct style *s, cmark_node *n)
{
	int ordered = cmark_node_get_list_type(n) == CMARK_ORDERED_LIST, k = cmark_node_get_list_start(n);
	int tight = cmark_node_get_list_tight(n);
	for (cmark_node *item = cmark_node_first_child(n); item; item = cmark_node_next(item), k++) {
		char mark[24];
		if (ordered)
			snprintf(mark, sizeof(mark), "%d. ", k);
		else if (is(item, "tasklist"))
			snprintf(mark, sizeof(mark), "%s ",
				 cmark_gfm_extensions_get_tasklist_item_checked(item) ? "\xe2\x98\x91"
										      : "\xe2\x98\x90");
		else
			snprintf(mark, sizeof(mark), "\xe2\x80\xa2 ");
		if (item != cmark_node_first_child(n))
			daimon_buf_adds(b, tight ? "\n" : "\n\n");
		size_t at = b->len;
		for (cmark_node *c = cmark_node_first_child(item); c; c = cmark_node_next(c)) {
			if (c != cmark_node_first_child(item))
				daimon_buf_adds(b, tight ? "\n" : "\n\n");
			block(b, s, c);
		}
		indent(b, at, mark, "   ");
	}
}

static void block(daimon_buf *b, const struct style *s, cmark_node *n)
{
	size_t at = b->len;
	switch (cmark_node_get_type(n)) {
	case CMARK_NODE_PARAGRAPH:
		inlines(b, s, n);
		break;
	case CMARK_NODE_HEADING:
		wrap(b, s, s->heading, n);
		break;
	case CMARK_NODE_CODE_BLOCK:
		code_block(b, s, cmark_node_get_literal(n));
		break;
	case CMARK_NODE_THEMATIC_BREAK:
		daimon_buf_adds(b, "\xe2\x80\x94\xe2\x80\x94\xe2\x80\x94");
		break;
	case CMARK_NODE_LIST:
		list(b, s, n);
		break;
	case CMARK_NODE_BLOCK_QUOTE:
		daimon_buf_adds(b, s->html ? "<blockquote>" : "");
		for (cmark_node *c = cmark_node_first_child(n); c; c = cmark_node_next(c)) {
			if (c != cmark_node_first_child(n))
				daimon_buf_adds(b, "\n\n");
			block(b, s, c);
		}
		if (s->html)
			daimon_buf_adds(b, "</blockquote>");
		else
			indent(b, at, s->quote_prefix, s->quote_prefix);
		break;
	default:
		if (is(n, "table"))
			table(b, s, n);
		else
			inlines(b, s, n);
	}
}

static cmark_node *parse_only(const char *md, size_t len, cmark_parser **p)
{
	return parse(md, len, NULL, p);
}

char *daimon_md_terminal(const char *md, size_t len, int color)
{
	cmark_parser *p;
	cmark_node *doc = parse_only(md, len, &p);
	daimon_buf b = DAIMON_BUF_INIT;
	for (cmark_node *c = cmark_node_first_child(doc); c; c = cmark_node_next(c)) {
		if (c != cmark_node_first_child(doc))
			daimon_buf_adds(&b, "\n\n");
		block(&b, color ? &ansi : &plain, c);
	}
	cmark_node_free(doc);
	cmark_parser_free(p);
	return daimon_buf_detach(&b);
}

/* ---- Telegram's messages ---- */

struct parts {
	char **v;
	size_t n;
};

static void part_add(struct parts *ps, const char *t, size_t len)
{
	ps->v = daimon_xrealloc(ps->v, (ps->n + 1) * sizeof(*ps->v));
	ps->v[ps->n++] = daimon_xstrndup(t, len);
}

/* A block too long for one message: its text (a code block's code) in
 * pieces, each escaped and, for code, closed in its own <pre>. */
static void split_block(struct parts *ps, const char *raw, size_t limit, int code)
{
	size_t len = strlen(raw), room = limit - (code ? 11 : 0);
	while (len) {
		size_t take = room;
		daimon_buf e = DAIMON_BUF_INIT;
		for (;;) { /* escaping lengthens: fewer bytes until it fits */
			size_t n = daimon_channel_split(raw, len, take);
			e.len = 0;
			daimon_buf_adds(&e, code ? "<pre>" : "");
			char *piece = daimon_xstrndup(raw, n);
			text(&e, &telegram, piece);
			free(piece);
			daimon_buf_adds(&e, code ? "</pre>" : "");
			if (e.len <= limit || take < 16) {
				take = n;
				break;
			}
			take = take * 3 / 4;
		}
		part_add(ps, e.ptr, e.len);
		daimon_buf_release(&e);
		raw += take, len -= take;
	}
}

size_t daimon_md_telegram(const char *md, size_t len, size_t limit, char ***out)
{
	cmark_parser *p;
	cmark_node *doc = parse_only(md, len, &p);
	struct parts ps = {0};
	daimon_buf cur = DAIMON_BUF_INIT, one = DAIMON_BUF_INIT;
	for (cmark_node *c = cmark_node_first_child(doc); c; c = cmark_node_next(c)) {
		one.len = 0;
		block(&one, &telegram, c);
		if (cur.len && cur.len + 2 + one.len > limit) {
			part_add(&ps, cur.ptr, cur.len);
			cur.len = 0;
		}
		if (one.len <= limit) {
			daimon_buf_adds(&cur, cur.len ? "\n\n" : "");
			daimon_buf_add(&cur, one.ptr, one.len);
			continue;
		}
		if (cur.len)
			part_add(&ps, cur.ptr, cur.len), cur.len = 0;
		int code = cmark_node_get_type(c) == CMARK_NODE_CODE_BLOCK;
		one.len = 0;
		if (code)
			daimon_buf_adds(&one, cmark_node_get_literal(c));
		else
			block(&one, &plain, c);
		daimon_buf_addc(&one, 0);
		split_block(&ps, one.ptr, limit, code);
	}
	if (cur.len || !ps.n)
		part_add(&ps, cur.ptr ? cur.ptr : "", cur.len);
	daimon_buf_release(&cur);
	daimon_buf_release(&one);
	cmark_node_free(doc);
	cmark_parser_free(p);
	*out = ps.v;
	return ps.n;
}
