/*
 * daimon.c — the `daimon` command: the command table and what every
 * command shares (errors, help, opening $DAIMON_HOME).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/home.h"

static const struct daimon_cmd *const commands[] = {
	&daimon_cmd_init,   &daimon_cmd_search,  &daimon_cmd_sessions,
	&daimon_cmd_index,  &daimon_cmd_import,  &daimon_cmd_chat,
	&daimon_cmd_ask,    &daimon_cmd_serve,   &daimon_cmd_status,
	&daimon_cmd_stop,   &daimon_cmd_cancel,  &daimon_cmd_cron,
	&daimon_cmd_ps,     &daimon_cmd_web,     &daimon_cmd_pairing,
	&daimon_cmd_owner,  &daimon_cmd_api_key, &daimon_cmd_memory,
	&daimon_cmd_skill,  &daimon_cmd_mcp,     &daimon_cmd_config,
	&daimon_cmd_setup,  &daimon_cmd_doctor,  &daimon_cmd_usage,
	&daimon_cmd_models, &daimon_cmd_debug,   NULL,
};

int cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("daimon: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

int cli_fail(void)
{
	return cli_error("%s", daimon_error_last());
}

int cli_help(const struct daimon_cmd *cmd)
{
	printf("usage: daimon %s\n\n%s\n", cmd->usage, cmd->summary);
	if (cmd->help && *cmd->help)
		printf("\n%s", cmd->help);
	return 0;
}

int cli_usage_error(const struct daimon_cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("daimon: ", stderr);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (see 'daimon %s --help')\n", cmd->name);
	va_end(ap);
	return 2;
}

int cli_options_json(const struct daimon_cmd *cmd, int argc, char **argv, int *json)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {"json", no_argument, 0, 'j'}, {0}};
	int c;
	while ((c = getopt_long(argc, argv, "hj", opts, NULL)) != -1) {
		if (c == 'h')
			return cli_help(cmd);
		if (c != 'j' || !json) /* (json NULL: the command has no --json) */
			return cli_usage_error(cmd, "unknown option");
		*json = 1;
	}
	return -1;
}

int cli_conversation_key(daimon_store *st, char *key, size_t size)
{
	if (strchr(key, ':'))
		return 0;
	daimon_index *ix;
	if (daimon_index_open(&ix, st) < 0)
		return -1;
	char *id = daimon_index_resolve(ix, key), *k = id ? daimon_index_key_of(ix, id) : NULL;
	daimon_index_close(ix);
	int rc = k ? 0 : -1;
	if (id && !k)
		daimon_error_code(DAIMON_ENOTFOUND, "session '%s' has no conversation key to go on with", id);
	if (k)
		snprintf(key, size, "%s", k);
	free(id);
	free(k);
	return rc;
}

int cli_open(daimon_store *st, daimon_index **ix, int must_exist)
{
	char *home = daimon_home_dir();
	struct stat sb;
	if (must_exist && stat(home, &sb) < 0 && errno == ENOENT) {
		free(home);
		return 1;
	}
	int rc = daimon_store_open(st, home);
	free(home);
	if (rc < 0)
		return -1;
	if (ix && daimon_index_open(ix, st) < 0) {
		daimon_store_release(st);
		return -1;
	}
	return 0;
}

int cli_color_stdout(void)
{
	const char *nc = getenv("NO_COLOR");
	const char *term = getenv("TERM");
	return isatty(STDOUT_FILENO) && !(nc && *nc) && !(term && !strcmp(term, "dumb"));
}

int cli_tty_stderr(void)
{
	static int tty = -1; /* asked once: progress asks on every update */
	if (tty < 0)
		tty = isatty(STDERR_FILENO);
	return tty;
}

void cli_local_time(char out[32], int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%d %H:%M", &tm);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: daimon <command> [options]\n\n"
		   "daimon is a personal assistant that lives on your laptop.\n\ncommands:\n");
	for (const struct daimon_cmd *const *c = commands; *c; c++)
		fprintf(f, "  %-10s %s\n", (*c)->name, (*c)->summary);
	fprintf(f, "\nRun 'daimon <command> --help' for a command's options.\n"
		   "Data lives in $DAIMON_HOME (default ~/.daimon).\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
		if (argc > 2 && strcmp(name, "help") == 0)
			name = argv[2];
		else {
			usage(stdout);
			return 0;
		}
		for (const struct daimon_cmd *const *c = commands; *c; c++)
			if (!strcmp((*c)->name, name))
				return cli_help(*c);
		return cli_error("'%s' is not a daimon command (see 'daimon --help')", name);
	}
	if (!strcmp(name, "--version") || !strcmp(name, "-V") || !strcmp(name, "version")) {
		printf("daimon %s\n", DAIMON_VERSION);
		return 0;
	}
	/* $DAIMON_HOME/env and credentials, before any thread (setenv) */
	char *home = daimon_home_dir();
	daimon_home_load_env(home);
	free(home);
	for (const struct daimon_cmd *const *c = commands; *c; c++)
		if (!strcmp((*c)->name, name))
			return (*c)->exec(*c, argc - 1, argv + 1);
	return cli_error("'%s' is not a daimon command (see 'daimon --help')", name);
}
