/*
 * cmd-sessions.c — `daimon sessions list|show`: the conversations daimon
 * has, and one of them in full. The list comes from the index (so it is
 * instant for tens of thousands of sessions); a transcript is read from
 * the session's log, the source of truth.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"
#include "memory/log.h"
#include "memory/text.h"

static const char *or_empty(const char *t)
{
	return t ? t : "";
}

static void list_json_row(const daimon_index_session *s)
{
	char first[DAIMON_TS_LEN], last[DAIMON_TS_LEN];
	daimon_ts_format(first, s->first_ts);
	daimon_ts_format(last, s->last_ts);
	daimon_buf b = DAIMON_BUF_INIT;
	daimon_buf_adds(&b, "{\"id\":");
	daimon_json_quote(&b, or_empty(s->id));
	daimon_buf_adds(&b, ",\"key\":");
	daimon_json_quote(&b, or_empty(s->key));
	daimon_buf_adds(&b, ",\"channel\":");
	daimon_json_quote(&b, or_empty(s->channel));
	daimon_buf_adds(&b, ",\"title\":");
	daimon_json_quote(&b, or_empty(s->title));
	daimon_buf_addf(&b, ",\"messages\":%lld,\"first\":\"%s\",\"last\":\"%s\"", (long long)s->messages, first, last);
	if (s->source)
		daimon_buf_addf(&b, ",\"source\":%s", s->source);
	if (s->summary) {
		daimon_buf_adds(&b, ",\"summary\":");
		daimon_json_quote(&b, s->summary);
	}
	daimon_buf_adds(&b, "}\n");
	fwrite(b.ptr, 1, b.len, stdout);
	daimon_buf_release(&b);
}

struct list_row {
	int json, color, rows;
};

static int list_row(const daimon_index_session *s, void *payload)
{
	struct list_row *r = payload;
	r->rows++;
	if (r->json) {
		list_json_row(s);
		return 0;
	}
	char first[32], last[32];
	cli_local_time(first, s->first_ts);
	cli_local_time(last, s->last_ts);
	if (r->rows == 1)
		printf(r->color ? "\033[1m%-30s %-12s %6s  %-16s  %-16s  %s\033[0m\n"
				: "%-30s %-12s %6s  %-16s  %-16s  %s\n",
		       "ID", "CHANNEL", "MSGS", "FIRST", "LAST", "TITLE");
	printf("%-30s %-12s %6lld  %-16s  %-16s  %s\n", or_empty(s->id), or_empty(s->channel), (long long)s->messages,
	       first, last, or_empty(s->title));
	if (s->summary) /* the session's summary, under it */
		printf(r->color ? "\033[2m%31s%s\033[0m\n" : "%31s%s\n", "", s->summary);
	return 0;
}

static int sessions_list(const struct daimon_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'},
					     {"json", no_argument, 0, 'j'},
					     {"limit", required_argument, 0, 'n'},
					     {0}};
	int json = 0, c;
	long limit = -1;
	while ((c = getopt_long(argc, argv, "hjn:", opts, NULL)) != -1) {
		if (c == 'h')
			return cli_help(cmd);
		else if (c == 'j')
			json = 1;
		else if (c == 'n' && (limit = atol(optarg)) > 0)
			continue;
		else
			return cli_usage_error(cmd, c == 'n' ? "--limit wants a positive number" : "unknown option");
	}
	daimon_store st;
	daimon_index *ix;
	int rc = cli_open(&st, &ix, 1);
	if (rc != 0) {
		if (rc > 0 && !json)
			printf("no conversations yet\n");
		return rc < 0 ? cli_fail() : 0;
	}
	if (daimon_index_refresh(ix, NULL) < 0) {
		rc = cli_fail();
		goto out;
	}
	struct list_row r = {.json = json, .color = !json && cli_color_stdout()};
	if (daimon_index_sessions(ix, limit, list_row, &r) < 0) {
		rc = cli_fail();
		goto out;
	}
	int rows = r.rows;
	if (!rows && !json)
		printf("no conversations yet\n");
out:
	daimon_index_close(ix);
	daimon_store_release(&st);
	return rc;
}

static void indent(const char *text, const char *prefix)
{
	const char *p = text;
	while (*p) {
		size_t n = strcspn(p, "\n");
		printf("%s%.*s\n", prefix, (int)n, p);
		p += n + (p[n] == '\n');
	}
}

static void show_record(const daimon_record *rec, int color)
{
	const cJSON *j = rec->json;
	char when[32];
	cli_local_time(when, rec->ts);
	const char *dim = color ? "\033[2m" : "", *bold = color ? "\033[1m" : "", *off = color ? "\033[0m" : "";
	daimon_buf text = DAIMON_BUF_INIT;
	if (!strcmp(rec->type, DAIMON_REC_SESSION)) {
		printf("%ssession %s%s  key %s  channel %s  created %s\n", bold, daimon_json_str(j, "id"), off,
		       daimon_json_str(j, "key") ? daimon_json_str(j, "key") : "-",
		       daimon_json_str(j, "channel") ? daimon_json_str(j, "channel") : "-", when);
		const cJSON *src = cJSON_GetObjectItemCaseSensitive(j, "source");
		if (src)
			printf("%simported from %s: %s (%s)%s\n", dim, daimon_json_str(src, "format"),
			       daimon_json_str(src, "path"), daimon_json_str(src, "id"), off);
		if (daimon_json_str(j, "title"))
			printf("title: %s\n", daimon_json_str(j, "title"));
	} else if (!strcmp(rec->type, DAIMON_REC_MESSAGE)) {
		printf("\n%s[%s] %s%s\n", bold, when, daimon_json_str(j, "role"), off);
		daimon_content_text(cJSON_GetObjectItemCaseSensitive(j, "content"), &text);
		indent(daimon_buf_cstr(&text), "  ");
		const cJSON *calls = cJSON_GetObjectItemCaseSensitive(j, "tool_calls");
		for (const cJSON *c = calls ? calls->child : NULL; c; c = c->next)
			printf("%s  → %s %s%s\n", dim, daimon_json_str(c, "name") ? daimon_json_str(c, "name") : "?",
			       daimon_json_str(c, "arguments") ? daimon_json_str(c, "arguments") : "", off);
	} else if (!strcmp(rec->type, DAIMON_REC_TOOL_RESULT)) {
		int err = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "is_error"));
		printf("\n%s[%s] tool %s%s%s\n", bold, when, err ? "error" : "result",
		       daimon_json_str(j, "name") ? " " : "",
		       daimon_json_str(j, "name") ? daimon_json_str(j, "name") : "");
		printf("%s", off);
		daimon_content_text(cJSON_GetObjectItemCaseSensitive(j, "content"), &text);
		indent(daimon_buf_cstr(&text), "  ");
	} else if (!strcmp(rec->type, DAIMON_REC_TOOL_INTENT) ||
		   !strcmp(rec->type, DAIMON_REC_TOOL_OUTCOME)) { /* the durable journal */
		int intent = !strcmp(rec->type, DAIMON_REC_TOOL_INTENT);
		printf("%s  %s %s %s (key %s)%s\n", dim, intent ? "⋯" : "✓",
		       daimon_json_str(j, "name") ? daimon_json_str(j, "name") : "?", intent ? "started" : "returned",
		       daimon_json_str(j, "key") ? daimon_json_str(j, "key") : "", off);
	} else if (!strcmp(rec->type, DAIMON_REC_COMPACTION)) {
		printf("\n%s[%s] summary of earlier messages%s\n", bold, when, off);
		indent(daimon_json_str(j, "summary"), "  ");
	}
	daimon_buf_release(&text);
}

static int sessions_show(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int json = 0, rc = cli_options_json(cmd, argc, argv, &json);
	if (rc >= 0)
		return rc;
	if (optind + 1 != argc)
		return cli_usage_error(cmd, "which session? give one id");
	daimon_store st;
	daimon_index *ix;
	rc = cli_open(&st, &ix, 1);
	if (rc > 0)
		return cli_error("no session '%s' (no conversations yet)", argv[optind]);
	if (rc < 0)
		return cli_fail();
	char *id = daimon_index_resolve(ix, argv[optind]);
	daimon_log_reader *r = NULL;
	if (!id) {
		rc = cli_fail();
		goto out;
	}
	char *path = daimon_store_log_path(&st, id);
	rc = daimon_log_reader_open(&r, path, 0, 0, 0);
	free(path);
	if (rc < 0) {
		rc = cli_fail();
		goto out;
	}
	int color = !json && cli_color_stdout();
	daimon_record rec;
	while ((rc = daimon_log_reader_next(r, &rec)) == 1) {
		if (json) {
			char *s = cJSON_PrintUnformatted(rec.json);
			puts(s);
			cJSON_free(s);
		} else {
			show_record(&rec, color);
		}
		daimon_record_clear(&rec);
	}
	fflush(stdout);
	if (rc < 0)
		rc = cli_fail();
	else if (daimon_log_reader_torn_bytes(r))
		fprintf(stderr, "daimon: '%s' ends in an unfinished line (%zu bytes) that is not shown\n", id,
			daimon_log_reader_torn_bytes(r));
out:
	daimon_log_reader_free(r);
	free(id);
	daimon_index_close(ix);
	daimon_store_release(&st);
	return rc;
}

static const struct daimon_cmd cmd_list = {
	"sessions list",
	"sessions list [--limit N] [--json]",
	"List conversations, most recent first.",
	"  -n, --limit N   at most N sessions\n"
	"  -j, --json      one object per line: id, key, channel, title, messages,\n"
	"                  first, last (RFC 3339), source (for imported ones), summary\n"
	"                  (once the session has been summarized)\n",
	NULL,
};

static const struct daimon_cmd cmd_show = {
	"sessions show",
	"sessions show ID [--json]",
	"Print one conversation.",
	"ID is a session id, a unique prefix of one, or a conversation key such as\n"
	"cli:default (its most recent session).\n\n"
	"  -j, --json   the log's records as stored, one JSON object per line\n",
	NULL,
};

static int exec_sessions(const struct daimon_cmd *cmd, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		cli_help(cmd);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "list"))
		return sessions_list(&cmd_list, argc - 1, argv + 1);
	if (!strcmp(argv[1], "show"))
		return sessions_show(&cmd_show, argc - 1, argv + 1);
	return cli_usage_error(cmd, "unknown subcommand '%s'", argv[1]);
}

const struct daimon_cmd daimon_cmd_sessions = {
	"sessions",
	"sessions list|show ...",
	"List conversations or print one.",
	"  daimon sessions list [--limit N] [--json]\n"
	"  daimon sessions show ID [--json]\n",
	exec_sessions,
};
