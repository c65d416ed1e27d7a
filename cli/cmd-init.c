/*
 * cmd-init.c — `daimon init`: create $DAIMON_HOME with the curated files
 * (SOUL.md, USER.md, MEMORY.md) and config.json from the defaults compiled
 * in from data/. Safe to run again: a file that exists is never touched.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/web.h"
#include "cli/cli.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/home.h"

struct daimon_data_file {
	const char *name;
	const char *text;
	size_t len;
};
extern const struct daimon_data_file daimon_data_files[];

static int exec_init(const struct daimon_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {"quiet", no_argument, 0, 'q'}, {0}};
	int quiet = 0, c;
	while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
		if (c == 'h')
			return cli_help(cmd);
		if (c == 'q')
			quiet = 1;
		else
			return cli_usage_error(cmd, "unknown option");
	}
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	char *home = daimon_home_dir();
	int rc = daimon_home_ensure(home);
	char *skills = daimon_home_path(home, "skills");
	if (rc == 0)
		rc = daimon_mkdir_p(skills, 0700);
	free(skills);
	for (const struct daimon_data_file *f = daimon_data_files; rc == 0 && f->name; f++) {
		char *path = daimon_home_path(home, f->name);
		int made = daimon_write_file_new(path, f->text, f->len, 0600);
		if (made < 0)
			rc = -1;
		else if (!quiet)
			printf("%s %s\n", made ? "created" : "kept   ", path);
		free(path);
	}
	char token[65];
	if (rc == 0) /* the web chat's access token (`daimon web` prints the link) */
		rc = daimon_web_token(home, token);
	if (rc == 0 && !quiet) {
		printf("daimon home is %s\n", home);
		/* the next step: the model, unless one is set already */
		daimon_model_settings ms;
		if (daimon_model_endpoint_load(&ms, home) == 0 && ms.model)
			printf("the model is %s (%s, %s); next: `daimon chat`\n", ms.model, ms.model_from, ms.provider);
		else
			printf("next: `daimon setup` chooses the model (or set DAIMON_PROVIDER, DAIMON_MODEL...), "
			       "then `daimon chat`\n");
		if (ms.base_url)
			daimon_model_settings_release(&ms);
	}
	free(home);
	return rc < 0 ? cli_fail() : 0;
}

const struct daimon_cmd daimon_cmd_init = {
	"init",
	"init [--quiet]",
	"Create the daimon home ($DAIMON_HOME, default ~/.daimon) with its default files.",
	"Creates the directory (mode 0700), sessions/, skills/, SOUL.md, USER.md,\n"
	"MEMORY.md and config.json. Files that already exist are kept as they are.\n\n"
	"  -q, --quiet   print nothing on success\n",
	exec_init,
};
