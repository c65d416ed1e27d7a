/*
 * text.h — the words of a record, as search and transcripts see them.
 *
 * Content is a string or a list of blocks in the shapes the model APIs use
 * (OpenAI parts, Anthropic blocks); these helpers flatten it to plain text.
 * Search indexes messages, tool calls (name and arguments), tool results and
 * compaction summaries, each under a role.
 */
#ifndef DAIMON_MEMORY_TEXT_H
#define DAIMON_MEMORY_TEXT_H

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "memory/record.h"

enum daimon_role {
	DAIMON_ROLE_NONE = 0,
	DAIMON_ROLE_USER,
	DAIMON_ROLE_ASSISTANT,
	DAIMON_ROLE_SYSTEM,
	DAIMON_ROLE_TOOL,    /* a tool result */
	DAIMON_ROLE_SUMMARY, /* a compaction summary */
};

const char *daimon_role_name(int role);
/* DAIMON_ROLE_NONE for an unknown name. */
int daimon_role_parse(const char *name);
/* Appends the plain text of message content (string or blocks) to `out`. */
void daimon_content_text(const cJSON *content, daimon_buf *out);
/* Appends the searchable text of `rec` and sets `role`; returns 1 if the
 * record is searchable, 0 if not (session records, unknown types). */
int daimon_record_search_text(const daimon_record *rec, daimon_buf *out, int *role);

#endif
