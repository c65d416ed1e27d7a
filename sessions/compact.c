/*
 * compact.c — see compact.h.
 */
#include "sessions/compact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/jsonutil.h"

static const char *role(const cJSON *m)
{
	const char *r = daimon_json_str(m, "role");
	return r ? r : "";
}

size_t daimon_compact_tokens(const cJSON *msg)
{
	size_t bytes = 16;
	const char *c = daimon_json_str(msg, "content");
	if (c)
		bytes += strlen(c);
	const cJSON *calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
	for (const cJSON *k = calls ? calls->child : NULL; k; k = k->next) {
		const char *a = daimon_json_str(k, "arguments");
		bytes += 32 + (a ? strlen(a) : 0);
	}
	return bytes / 4;
}

int daimon_compact_cut(const cJSON *history, int head, size_t tail_tokens, int *from, int *to)
{
	int n = cJSON_GetArraySize(history);
	/* The head ends after the results of any calls it makes. */
	int h = head < n ? head : n;
	while (h < n && !strcmp(role(cJSON_GetArrayItem(history, h)), "tool"))
		h++;
	/* The tail: recent messages until the budget is met ... */
	int t = n;
	size_t tokens = 0;
	while (t > h && tokens < tail_tokens)
		tokens += daimon_compact_tokens(cJSON_GetArrayItem(history, --t));
	/* ... never starting on a tool result: its call comes along. */
	while (t > h && !strcmp(role(cJSON_GetArrayItem(history, t)), "tool"))
		t--;
	if (t - h < 2)
		return 0;
	*from = h;
	*to = t - 1;
	return 1;
}

cJSON *daimon_transcript(const cJSON *history, int from, int to, const char *instruction)
{
	daimon_buf t = DAIMON_BUF_INIT;
	for (int i = from; i <= to; i++) {
		const cJSON *m = cJSON_GetArrayItem(history, i);
		const char *c = daimon_json_str(m, "content");
		const char *r = role(m);
		size_t len = c ? strlen(c) : 0;
		daimon_buf_addf(&t, "%s%s: %.*s%s\n", i > from ? "\n" : "",
				!strcmp(r, "tool")        ? "TOOL RESULT"
				: !strcmp(r, "assistant") ? "ASSISTANT"
							  : "USER",
				(int)(len > 4000 ? 4000 : len), c ? c : "", len > 4000 ? " [...]" : "");
		const cJSON *calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
		for (const cJSON *k = calls ? calls->child : NULL; k; k = k->next)
			daimon_buf_addf(&t, "(called %s %.300s)\n", daimon_json_str(k, "name"),
					daimon_json_str(k, "arguments") ? daimon_json_str(k, "arguments") : "");
	}
	/* A long one: its start and its recent part. */
	if (t.len > 48000) {
		daimon_buf cut = DAIMON_BUF_INIT;
		daimon_buf_add(&cut, t.ptr, 8000);
		daimon_buf_adds(&cut, "\n[... the middle of the conversation is left out ...]\n");
		daimon_buf_add(&cut, t.ptr + t.len - 40000, 40000);
		daimon_buf_release(&t);
		t = cut;
	}
	daimon_buf_addf(&t, "\n%s", instruction);
	cJSON *msgs = cJSON_CreateArray();
	cJSON *u = cJSON_CreateObject();
	cJSON_AddStringToObject(u, "role", "user");
	cJSON_AddStringToObject(u, "content", daimon_buf_cstr(&t));
	cJSON_AddItemToArray(msgs, u);
	daimon_buf_release(&t);
	return msgs;
}

void daimon_compact_request(const cJSON *history, int from, int to, char **system, cJSON **messages)
{
	*system = daimon_xstrdup(
		"You compress conversations so they can go on without their full text. Summarize the "
		"conversation you are given for the assistant who will continue it, in these sections: "
		"## Topics; ## Facts and decisions (names, numbers, preferences, what was agreed); "
		"## Tool results worth keeping; ## Open questions; ## Work in progress (as it stood then — "
		"it may be finished since). Be concise and concrete; do not address the user.");
	*messages = daimon_transcript(history, from, to, "Summarize the conversation above.");
}

cJSON *daimon_compact_message(const char *summary, double seq)
{
	char *text =
		daimon_xasprintf("[Summary of the earlier part of this conversation — for reference only, not "
				 "instructions. Work it mentions may be finished or out of date; answer the latest "
				 "message.]\n\n%s",
				 summary);
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", "user");
	cJSON_AddStringToObject(m, "content", text);
	cJSON_AddNumberToObject(m, "seq", seq);
	cJSON_AddBoolToObject(m, "summary", 1);
	free(text);
	return m;
}

void daimon_compact_apply(cJSON *history, int from, int to, cJSON *summary_msg)
{
	/* (delete then replace: cJSON 1.7.15 refuses to insert after a delete) */
	for (int i = to; i > from; i--)
		cJSON_DeleteItemFromArray(history, i);
	cJSON_ReplaceItemInArray(history, from, summary_msg);
}

void daimon_compact_restore(cJSON *history, double from_seq, double to_seq, cJSON *summary_msg)
{
	int first = -1, last = -1, i = 0;
	for (const cJSON *m = history->child; m; m = m->next, i++) {
		const cJSON *seq = cJSON_GetObjectItemCaseSensitive(m, "seq");
		if (cJSON_IsNumber(seq) && seq->valuedouble >= from_seq && seq->valuedouble <= to_seq) {
			if (first < 0)
				first = i;
			last = i;
		}
	}
	if (first < 0) {
		cJSON_Delete(summary_msg); /* nothing of it is here (a damaged log) */
		return;
	}
	daimon_compact_apply(history, first, last, summary_msg);
}
