/*
 * import-chatgpt.c — a ChatGPT data export's conversations.json.
 *
 * The file is a JSON array of conversations: {"id" or "conversation_id",
 * "title", "create_time" (seconds), "current_node", "mapping"}. "mapping"
 * is a tree of nodes {id, parent, children, message}; edits and
 * regenerations are branches. The conversation as the user last saw it is
 * the path from the root to current_node, so that path is what is
 * imported. A message is {"author":{"role","name"}, "create_time",
 * "content":{"content_type", "parts":[...] or "text"}, "metadata"}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/jsonutil.h"
#include "memory/import.h"

static void message_text(const cJSON *content, daimon_buf *out)
{
	const cJSON *parts = cJSON_GetObjectItemCaseSensitive(content, "parts");
	for (const cJSON *p = cJSON_IsArray(parts) ? parts->child : NULL; p; p = p->next) {
		if (cJSON_IsString(p) && *p->valuestring) {
			if (out->len)
				daimon_buf_addc(out, '\n');
			daimon_buf_adds(out, p->valuestring);
		} else if (cJSON_IsObject(p)) {
			const char *t = daimon_json_str(p, "text");
			if (out->len)
				daimon_buf_addc(out, '\n');
			daimon_buf_adds(out, t ? t : "[attachment]");
		}
	}
	const char *text = daimon_json_str(content, "text");
	if (!out->len && text)
		daimon_buf_adds(out, text);
}

static int import_node(daimon_import_sink *sink, const cJSON *msg)
{
	const cJSON *author = cJSON_GetObjectItemCaseSensitive(msg, "author");
	const char *role = daimon_json_str(author, "role");
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(msg, "metadata");
	if (!role || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(meta, "is_visually_hidden_from_conversation")))
		return 0;
	daimon_buf text = DAIMON_BUF_INIT;
	message_text(cJSON_GetObjectItemCaseSensitive(msg, "content"), &text);
	int64_t ts = daimon_import_ts(cJSON_GetObjectItemCaseSensitive(msg, "create_time"));
	int rc = 0;
	if (!text.len) {
		/* hidden system prompts, empty placeholders */
	} else if (!strcmp(role, "tool")) {
		const char *name = daimon_json_str(author, "name");
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "call_id", name ? name : "tool");
		if (name)
			cJSON_AddStringToObject(f, "name", name);
		cJSON_AddStringToObject(f, "content", text.ptr);
		cJSON_AddBoolToObject(f, "is_error", 0);
		rc = sink->record(sink->payload, "tool_result", ts, f);
		cJSON_Delete(f);
	} else if (!strcmp(role, "user") || !strcmp(role, "assistant") || !strcmp(role, "system")) {
		cJSON *s = cJSON_CreateString(text.ptr);
		rc = daimon_import_blocks(sink, role, s, ts);
		cJSON_Delete(s);
	}
	daimon_buf_release(&text);
	return rc;
}

/* The leaf to follow when current_node is missing: the newest leaf. */
static const cJSON *newest_leaf(const cJSON *mapping)
{
	const cJSON *best = NULL;
	int64_t best_ts = -1;
	for (const cJSON *n = mapping->child; n; n = n->next) {
		const cJSON *kids = cJSON_GetObjectItemCaseSensitive(n, "children");
		if (cJSON_GetArraySize(kids) > 0)
			continue;
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(n, "message");
		int64_t ts = daimon_import_ts(cJSON_GetObjectItemCaseSensitive(msg, "create_time"));
		if (ts > best_ts) {
			best_ts = ts;
			best = n;
		}
	}
	return best;
}

static int import_conversation(daimon_import_sink *sink, const cJSON *conv, const char *name, size_t index)
{
	char where[4096];
	snprintf(where, sizeof(where), "%s: conversation %zu", name, index);
	const cJSON *mapping = cJSON_GetObjectItemCaseSensitive(conv, "mapping");
	if (!cJSON_IsObject(conv) || !cJSON_IsObject(mapping)) {
		daimon_import_warn(sink, where, 0, "no message mapping");
		return 0;
	}
	const char *id = daimon_json_str(conv, "conversation_id");
	if (!id)
		id = daimon_json_str(conv, "id");
	if (!id) {
		daimon_import_warn(sink, where, 0, "no conversation id");
		return 0;
	}
	const char *cur = daimon_json_str(conv, "current_node");
	const cJSON *node = cur ? cJSON_GetObjectItemCaseSensitive(mapping, cur) : newest_leaf(mapping);
	/* Walk up to the root, then import downwards. */
	int size = cJSON_GetArraySize(mapping), n = 0;
	const cJSON **path = daimon_xmalloc((size_t)(size + 1) * sizeof(*path));
	while (cJSON_IsObject(node) && n <= size) {
		path[n++] = node;
		const char *parent = daimon_json_str(node, "parent");
		node = parent ? cJSON_GetObjectItemCaseSensitive(mapping, parent) : NULL;
	}
	int rc = 0;
	if (n > size) {
		daimon_import_warn(sink, where, 0, "the message tree has a cycle");
	} else {
		daimon_import_conv c = {"chatgpt",
					id,
					name,
					daimon_import_ts(cJSON_GetObjectItemCaseSensitive(conv, "create_time")),
					daimon_json_str(conv, "title"),
					NULL,
					"chatgpt"};
		rc = sink->begin(sink->payload, &c);
		for (int i = n - 1; i >= 0 && rc >= 0; i--) {
			const cJSON *msg = cJSON_GetObjectItemCaseSensitive(path[i], "message");
			if (cJSON_IsObject(msg))
				rc = import_node(sink, msg);
		}
		int erc = sink->end(sink->payload);
		if (rc >= 0)
			rc = erc;
	}
	free(path);
	return rc < 0 ? rc : 1;
}

int daimon_import_chatgpt_buf(const char *data, size_t len, const char *name, daimon_import_sink *sink)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(data, len, &end, 0);
	if (!root) {
		/* Count the line of the parse error for the message. */
		size_t line = 1;
		for (const char *p = data; end && p < end && p < data + len; p++)
			line += *p == '\n';
		daimon_import_warn(sink, name, line, "not valid JSON");
		return 0;
	}
	const cJSON *list = cJSON_IsArray(root) ? root : cJSON_GetObjectItemCaseSensitive(root, "conversations");
	if (!cJSON_IsArray(list)) {
		daimon_import_warn(sink, name, 0, "not a list of conversations");
		cJSON_Delete(root);
		return 0;
	}
	int rc = 0, convs = 0;
	size_t i = 0;
	for (const cJSON *c = list->child; c && rc >= 0; c = c->next, i++) {
		rc = import_conversation(sink, c, name, i);
		convs += rc > 0;
	}
	cJSON_Delete(root);
	return rc < 0 ? rc : convs;
}
