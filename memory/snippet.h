/*
 * snippet.h — the part of a message around the words a query matched,
 * with those words marked.
 *
 * Words are found the way the index's unicode61 tokenizer finds them for
 * ASCII (letters and digits, case folded); any byte from 0x80 up counts as
 * a word character, so text in other scripts is kept whole. The words of
 * the query are its terms (FTS5 operators AND, OR, NOT, NEAR and column
 * prefixes left out; "word*" matches by prefix; terms after NOT are not
 * marked). The window shown is the one with the most distinct query terms.
 */
#ifndef DAIMON_MEMORY_SNIPPET_H
#define DAIMON_MEMORY_SNIPPET_H

#include "core/buf.h"

/* Whether a byte belongs to a word, as the index's tokenizer sees ASCII
 * (letters, digits) and as daimon sees the rest (any byte from 0x80). */
static inline int daimon_word_byte(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

/* Appends to `out` up to `max_words` words of `text` around the matches
 * of `query`, matches between `open` and `close`, "…" where cut. */
void daimon_snippet(daimon_buf *out, const char *text, const char *query, const char *open, const char *close,
		    int max_words);

#endif
