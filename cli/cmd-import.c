/*
 * cmd-import.c — `daimon import FORMAT PATH...`: bring conversations from
 * OpenClaw, Claude Code, ChatGPT and Hermes Agent into daimon, then index
 * them. Running it again imports only what is new.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "memory/import.h"

static void on_warn(void *payload, const char *where, const char *what)
{
	(void)payload;
	cli_progress_end();
	fprintf(stderr, "daimon: warning: %s: %s\n", where, what);
}

static void on_progress(void *payload, const char *path, const daimon_import_stats *s)
{
	size_t *total = payload;
	(void)path;
	cli_progress("importing files", s->files, *total);
}

static int exec_import(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int json = 0, rc = cli_options_json(cmd, argc, argv, &json);
	if (rc >= 0)
		return rc;
	if (optind + 2 > argc)
		return cli_usage_error(cmd, "give a format and at least one file or directory");
	const char *format = argv[optind];
	daimon_store st;
	daimon_index *ix;
	if (cli_open(&st, &ix, 0) < 0)
		return cli_fail();
	size_t total = 0;
	daimon_import_hooks hooks = {on_warn, on_progress, &total};
	daimon_import_stats s;
	rc = daimon_import_paths(&st, ix, format, (const char *const *)argv + optind + 1, (size_t)(argc - optind - 1),
				 &hooks, &s);
	cli_progress_end();
	if (rc < 0) {
		rc = cli_fail();
	} else if (json) {
		printf("{\"files\":%zu,\"conversations\":%zu,\"sessions_new\":%zu,\"records_new\":%zu,"
		       "\"warnings\":%zu}\n",
		       s.files, s.conversations, s.sessions_new, s.records_new, s.warnings);
	} else {
		printf("imported %zu conversation%s from %zu file%s: %zu new session%s, %zu new record%s%s\n",
		       s.conversations, s.conversations == 1 ? "" : "s", s.files, s.files == 1 ? "" : "s",
		       s.sessions_new, s.sessions_new == 1 ? "" : "s", s.records_new, s.records_new == 1 ? "" : "s",
		       s.conversations && !s.records_new ? " (already imported)" : "");
	}
	if (rc == 0 && s.warnings) {
		fprintf(stderr, "daimon: %zu warning%s; everything else was imported\n", s.warnings,
			s.warnings == 1 ? "" : "s");
		rc = 1;
	}
	daimon_index_close(ix);
	daimon_store_release(&st);
	return rc;
}

const struct daimon_cmd daimon_cmd_import = {
	"import",
	"import FORMAT PATH... [--json]",
	"Import conversations from other assistants.",
	"FORMAT is one of:\n"
	"  openclaw      session .jsonl transcripts, or the SQLite database holding\n"
	"                transcript_events (newer versions)\n"
	"  claude-code   ~/.claude/projects/<project>/<session>.jsonl\n"
	"  chatgpt       conversations.json from a ChatGPT data export\n"
	"  hermes        Hermes Agent's state.db\n\n"
	"PATH may be a file or a directory, searched for that format's files.\n"
	"Each conversation becomes a daimon session with its original times;\n"
	"importing again adds only what is new. Damaged input is reported with\n"
	"file and line (exit status 1) and everything else is still imported.\n\n"
	"  -j, --json   print the totals as one JSON object\n",
	exec_import,
};
