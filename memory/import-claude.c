/*
 * import-claude.c — Claude Code transcripts
 * (~/.claude/projects/<project>/<session>.jsonl).
 *
 * One JSON object per line. Lines of type "user" and "assistant" carry
 * {"message":{"role","content"}, "timestamp", "sessionId", "cwd", ...};
 * content is a string or blocks (text, thinking, tool_use{id,name,input},
 * and in user lines tool_result{tool_use_id,content,is_error}). A "summary"
 * line names the conversation. Other lines (file-history snapshots, system
 * notes) are not conversation; user lines marked isMeta are harness notes.
 * One file is one conversation.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/jsonutil.h"
#include "memory/import.h"

struct cc {
	daimon_import_sink *sink;
	const char *name;
	char *orig_id;
	char *title;
	char *key;
	int begun;
};

static int cc_line(void *ctx, const char *line, size_t len, size_t lineno)
{
	struct cc *c = ctx;
	cJSON *j = cJSON_ParseWithLength(line, len);
	int rc = 0;
	if (!cJSON_IsObject(j)) {
		daimon_import_warn(c->sink, c->name, lineno, "not a JSON object");
		goto out;
	}
	const char *type = daimon_json_str(j, "type");
	if (!type) {
		daimon_import_warn(c->sink, c->name, lineno, "line without a type");
		goto out;
	}
	if (!strcmp(type, "summary")) {
		const char *s = daimon_json_str(j, "summary");
		if (s && !c->title)
			c->title = daimon_xstrdup(s);
		goto out;
	}
	if (strcmp(type, "user") && strcmp(type, "assistant"))
		goto out;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "isMeta")))
		goto out;
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(j, "message");
	if (!cJSON_IsObject(msg)) {
		daimon_import_warn(c->sink, c->name, lineno, "%s line without a message", type);
		goto out;
	}
	int64_t ts = daimon_import_ts(cJSON_GetObjectItemCaseSensitive(j, "timestamp"));
	if (!c->begun) {
		const char *sid = daimon_json_str(j, "sessionId");
		if (sid) {
			free(c->orig_id);
			c->orig_id = daimon_xstrdup(sid);
		}
		const char *cwd = daimon_json_str(j, "cwd");
		if (cwd) {
			const char *base = strrchr(cwd, '/');
			c->key = daimon_xasprintf("claude-code:%s", base && base[1] ? base + 1 : cwd);
		}
		daimon_import_conv conv = {"claude-code", c->orig_id, c->name, ts, c->title, c->key, "claude-code"};
		c->begun = 1;
		if ((rc = c->sink->begin(c->sink->payload, &conv)) < 0)
			goto out;
	}
	const char *role = daimon_json_str(msg, "role");
	if (!role || (strcmp(role, "user") && strcmp(role, "assistant")))
		role = type;
	rc = daimon_import_blocks(c->sink, role, cJSON_GetObjectItemCaseSensitive(msg, "content"), ts);
out:
	cJSON_Delete(j);
	return rc;
}

int daimon_import_claude_buf(const char *data, size_t len, const char *name, daimon_import_sink *sink)
{
	const char *b = strrchr(name, '/');
	b = b ? b + 1 : name;
	struct cc c = {.sink = sink, .name = name, .orig_id = daimon_xstrndup(b, strcspn(b, "."))};
	int rc = daimon_import_each_line(data, len, cc_line, &c);
	int erc = c.begun ? sink->end(sink->payload) : 0;
	free(c.orig_id);
	free(c.title);
	free(c.key);
	return rc < 0 ? rc : erc < 0 ? erc : c.begun;
}
