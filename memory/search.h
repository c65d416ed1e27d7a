/*
 * search.h — full-text search over every conversation.
 *
 * Queries use FTS5 syntax (words, "phrases", prefix*, AND/OR/NOT, NEAR);
 * a query that is not valid FTS5 is searched as plain words instead of
 * failing. Hits come best first (BM25), each with a snippet cut from the
 * log line around the matching words.
 */
#ifndef DAIMON_MEMORY_SEARCH_H
#define DAIMON_MEMORY_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "memory/index.h"

typedef struct {
	const char *query;
	size_t limit;          /* 0: 20 */
	const char *session;   /* only this session id (NULL: all) */
	int role;              /* only this role (0: all) */
	int64_t since, until;  /* ms bounds, inclusive (0: none) */
	const char *mark_open; /* put around matched words in snippets */
	const char *mark_close;
	int snippet_tokens; /* 0: 16 */
} daimon_search_opts;

typedef struct {
	char *session;
	char *channel;
	char *title;
	uint64_t seq;
	int64_t ts;
	int role;
	double score; /* higher is better (BM25, sign flipped) */
	char *snippet;
} daimon_search_hit;

typedef struct {
	daimon_search_hit *hits;
	size_t n;
	int plain_words; /* the query was not valid FTS5 and was searched as words */
	char *query_used;
} daimon_search_result;

int daimon_search(daimon_index *ix, const daimon_search_opts *opts, daimon_search_result *out);
void daimon_search_result_release(daimon_search_result *r);

#endif
