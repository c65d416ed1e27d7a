/*
 * text.c — see text.h.
 */
#include "memory/text.h"

#include <string.h>

#include "core/jsonutil.h"

static const char *const role_names[] = {"", "user", "assistant", "system", "tool", "summary"};

const char *daimon_role_name(int role)
{
	return role > 0 && role <= DAIMON_ROLE_SUMMARY ? role_names[role] : "?";
}

int daimon_role_parse(const char *name)
{
	for (int i = 1; i <= DAIMON_ROLE_SUMMARY; i++)
		if (!strcmp(name, role_names[i]))
			return i;
	return DAIMON_ROLE_NONE;
}

static void sep(daimon_buf *out)
{
	if (out->len && out->ptr[out->len - 1] != '\n')
		daimon_buf_addc(out, '\n');
}

static void block_text(const cJSON *b, daimon_buf *out)
{
	if (cJSON_IsString(b)) {
		sep(out);
		daimon_buf_adds(out, b->valuestring);
		return;
	}
	if (!cJSON_IsObject(b))
		return;
	const char *type = daimon_json_str(b, "type");
	const char *text = daimon_json_str(b, "text");
	if (text && (!type || strcmp(type, "thinking"))) {
		sep(out);
		daimon_buf_adds(out, text);
		return;
	}
	if (!type)
		return;
	if (!strcmp(type, "tool_use") || !strcmp(type, "toolCall") || !strcmp(type, "tool_call")) {
		const char *name = daimon_json_str(b, "name");
		const cJSON *input = cJSON_GetObjectItemCaseSensitive(b, "input");
		if (!input)
			input = cJSON_GetObjectItemCaseSensitive(b, "arguments");
		sep(out);
		daimon_buf_addf(out, "%s ", name ? name : "tool");
		if (cJSON_IsString(input))
			daimon_buf_adds(out, input->valuestring);
		else if (input)
			daimon_json_print(out, input);
	} else if (!strcmp(type, "tool_result") || !strcmp(type, "toolResult")) {
		daimon_content_text(cJSON_GetObjectItemCaseSensitive(b, "content"), out);
	} else if (!strcmp(type, "image") || !strcmp(type, "image_url")) {
		sep(out);
		daimon_buf_adds(out, "[image]");
	}
}

void daimon_content_text(const cJSON *content, daimon_buf *out)
{
	if (cJSON_IsString(content)) {
		sep(out);
		daimon_buf_adds(out, content->valuestring);
	} else if (cJSON_IsArray(content)) {
		for (const cJSON *b = content->child; b; b = b->next)
			block_text(b, out);
	} else if (cJSON_IsObject(content)) {
		block_text(content, out);
	}
}

static void tool_calls_text(const cJSON *calls, daimon_buf *out)
{
	for (const cJSON *c = calls ? calls->child : NULL; c; c = c->next) {
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "function");
		const cJSON *src = cJSON_IsObject(fn) ? fn : c;
		const char *name = daimon_json_str(src, "name");
		const cJSON *args = cJSON_GetObjectItemCaseSensitive(src, "arguments");
		sep(out);
		daimon_buf_addf(out, "%s ", name ? name : "tool");
		if (cJSON_IsString(args))
			daimon_buf_adds(out, args->valuestring);
		else if (args)
			daimon_json_print(out, args);
	}
}

int daimon_record_search_text(const daimon_record *rec, daimon_buf *out, int *role)
{
	const cJSON *j = rec->json;
	if (!strcmp(rec->type, DAIMON_REC_MESSAGE)) {
		*role = daimon_role_parse(daimon_json_str(j, "role"));
		daimon_content_text(cJSON_GetObjectItemCaseSensitive(j, "content"), out);
		tool_calls_text(cJSON_GetObjectItemCaseSensitive(j, "tool_calls"), out);
		return *role != DAIMON_ROLE_NONE;
	}
	if (!strcmp(rec->type, DAIMON_REC_TOOL_RESULT)) {
		*role = DAIMON_ROLE_TOOL;
		daimon_content_text(cJSON_GetObjectItemCaseSensitive(j, "content"), out);
		return 1;
	}
	if (!strcmp(rec->type, DAIMON_REC_COMPACTION)) {
		*role = DAIMON_ROLE_SUMMARY;
		daimon_buf_adds(out, daimon_json_str(j, "summary"));
		return 1;
	}
	if (!strcmp(rec->type, DAIMON_REC_SUMMARY)) { /* a session's title and summary */
		const char *title = daimon_json_str(j, "title"), *summary = daimon_json_str(j, "summary");
		*role = DAIMON_ROLE_SUMMARY;
		daimon_buf_addf(out, "%s%s%s", title ? title : "", title && summary ? "\n" : "",
				summary ? summary : "");
		return 1;
	}
	return 0;
}
