/*
 * cmd-memory.c — `daimon memory show|add|replace|remove|edit`: the user's
 * hands on the curated files (memory/curated.h), with the same rules the
 * model's memory tool follows. `edit` opens $EDITOR on a copy and writes it
 * back only if the file did not change meanwhile; otherwise (or if the
 * edit cannot be taken) the edited copy is kept and named.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "memory/curated.h"

/* Options shared by the subcommands: --for KEY, --json, --help. Returns -1
 * to go on (optind at the first operand), or the exit status. */
static int options(const struct daimon_cmd *cmd, int argc, char **argv, const char **who, int *json)
{
	static const struct option opts[] = {
		{"help", no_argument, 0, 'h'}, {"json", no_argument, 0, 'j'}, {"for", required_argument, 0, 'f'}, {0}};
	int c;
	while ((c = getopt_long(argc, argv, "hjf:", opts, NULL)) != -1) {
		if (c == 'h')
			return cli_help(cmd);
		else if (c == 'j' && json)
			*json = 1;
		else if (c == 'f')
			*who = optarg;
		else
			return cli_usage_error(cmd, "unknown option");
	}
	return -1;
}

/* The file TARGET names for --for KEY (default: the owner). */
static int open_target(daimon_store *st, daimon_mem_file *f, const char *target, const char *who)
{
	if (cli_open(st, NULL, 0) < 0)
		return -1;
	if (daimon_mem_file_for(f, st->home, target, who) < 0) {
		daimon_store_release(st);
		return -1;
	}
	return 0;
}

static int show_one(daimon_store *st, const char *target, const char *who, int json)
{
	daimon_mem_file f;
	if (daimon_mem_file_for(&f, st->home, target, who) < 0)
		return cli_fail();
	daimon_mem_entries e;
	int rc = daimon_mem_read(&f, &e);
	if (rc < 0) {
		daimon_mem_file_release(&f);
		return cli_fail();
	}
	if (json) {
		daimon_buf b = DAIMON_BUF_INIT;
		daimon_buf_adds(&b, "{\"target\":");
		daimon_json_quote(&b, target);
		daimon_buf_adds(&b, ",\"file\":");
		daimon_json_quote(&b, f.path);
		daimon_buf_addf(&b, ",\"chars\":%zu,\"limit\":%zu,\"entries\":[", e.chars, f.limit);
		for (size_t i = 0; i < e.n; i++) {
			daimon_buf_adds(&b, i ? "," : "");
			daimon_json_quote(&b, e.entries[i]);
		}
		daimon_buf_adds(&b, "]}\n");
		fwrite(b.ptr, 1, b.len, stdout);
		daimon_buf_release(&b);
	} else {
		printf("%s — %zu/%zu characters (%zu%%), %zu entr%s\n", f.name, e.chars, f.limit,
		       f.limit ? e.chars * 100 / f.limit : 0, e.n, e.n == 1 ? "y" : "ies");
		for (size_t i = 0; i < e.n; i++) {
			const char *why = daimon_mem_scan(e.entries[i]);
			printf("%s%zu. %s\n", i ? "\n" : "", i + 1, e.entries[i]);
			if (why)
				printf("   (hidden from the model: %s)\n", why);
		}
	}
	daimon_mem_entries_release(&e);
	daimon_mem_file_release(&f);
	return 0;
}

static int memory_show(const struct daimon_cmd *cmd, int argc, char **argv)
{
	const char *who = NULL;
	int json = 0, rc = options(cmd, argc, argv, &who, &json);
	if (rc >= 0)
		return rc;
	if (argc - optind > 1)
		return cli_usage_error(cmd, "show one of memory, user, soul (or all of them)");
	daimon_store st;
	if (cli_open(&st, NULL, 0) < 0)
		return cli_fail();
	static const char *const all[] = {"memory", "user", "soul"};
	if (optind < argc)
		rc = show_one(&st, argv[optind], who, json);
	for (int i = 0; optind == argc && i < 3 && rc <= 0; i++) {
		if (i && !json)
			putchar('\n');
		rc = show_one(&st, all[i], who, json);
	}
	daimon_store_release(&st);
	return rc;
}

/* add TARGET TEXT | replace TARGET OLD TEXT | remove TARGET OLD */
static int memory_edit_op(const struct daimon_cmd *cmd, int argc, char **argv)
{
	const char *who = NULL;
	int rc = options(cmd, argc, argv, &who, NULL);
	if (rc >= 0)
		return rc;
	const char *op = argv[0];
	int want = !strcmp(op, "replace") ? 3 : 2;
	if (argc - optind != want)
		return cli_usage_error(cmd, "%s wants %s", op,
				       want == 3            ? "TARGET OLD TEXT"
				       : !strcmp(op, "add") ? "TARGET TEXT"
							    : "TARGET OLD");
	daimon_store st;
	daimon_mem_file f;
	if (open_target(&st, &f, argv[optind], who) < 0)
		return cli_fail();
	daimon_buf msg = DAIMON_BUF_INIT;
	const char *a = argv[optind + 1], *b = want == 3 ? argv[optind + 2] : NULL;
	if (!strcmp(op, "add"))
		rc = daimon_mem_add(&f, a, &msg);
	else if (!strcmp(op, "replace"))
		rc = daimon_mem_replace(&f, a, b, &msg);
	else
		rc = daimon_mem_remove(&f, a, &msg);
	if (rc < 0)
		rc = cli_error("%s", daimon_buf_cstr(&msg));
	else
		printf("%s\n", daimon_buf_cstr(&msg));
	daimon_buf_release(&msg);
	daimon_mem_file_release(&f);
	daimon_store_release(&st);
	return rc;
}

static int memory_edit(const struct daimon_cmd *cmd, int argc, char **argv)
{
	const char *who = NULL;
	int rc = options(cmd, argc, argv, &who, NULL);
	if (rc >= 0)
		return rc;
	if (argc - optind != 1)
		return cli_usage_error(cmd, "edit which? memory, user or soul");
	daimon_store st;
	daimon_mem_file f;
	if (open_target(&st, &f, argv[optind], who) < 0)
		return cli_fail();
	daimon_buf before = DAIMON_BUF_INIT, after = DAIMON_BUF_INIT, msg = DAIMON_BUF_INIT;
	char tmp[] = "/tmp/daimon-memory.XXXXXX.md";
	int fd = -1;
	rc = daimon_read_file(&before, f.path);
	if (rc == DAIMON_ENOTFOUND)
		rc = 0;
	if (rc == 0 && (fd = mkstemps(tmp, 3)) < 0)
		rc = daimon_error_errno("cannot make a file to edit");
	if (rc == 0 && daimon_write_all(fd, before.ptr ? before.ptr : "", before.len) < 0)
		rc = daimon_error_errno("cannot write '%s'", tmp);
	if (fd >= 0)
		close(fd);
	if (rc < 0) {
		rc = cli_fail();
		goto out;
	}
	const char *editor = getenv("VISUAL") && *getenv("VISUAL") ? getenv("VISUAL") : getenv("EDITOR");
	char *command = daimon_xasprintf("%s '%s'", editor && *editor ? editor : "vi", tmp);
	int status = system(command);
	free(command);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rc = cli_error("the editor failed; %s is unchanged (your edit, if any, is in %s)", f.name, tmp);
		goto out;
	}
	if (daimon_read_file(&after, tmp) < 0) {
		rc = cli_fail();
		goto out;
	}
	if (!strcmp(daimon_buf_cstr(&after), daimon_buf_cstr(&before))) {
		printf("%s is unchanged\n", f.name);
	} else if (daimon_mem_write_whole(&f, daimon_buf_cstr(&before), daimon_buf_cstr(&after), &msg) < 0) {
		rc = cli_error("%s", daimon_buf_cstr(&msg));
	} else {
		printf("saved; %s\n", daimon_buf_cstr(&msg));
	}
	unlink(tmp);
out:
	daimon_buf_release(&before);
	daimon_buf_release(&after);
	daimon_buf_release(&msg);
	daimon_mem_file_release(&f);
	daimon_store_release(&st);
	return rc;
}

#define FOR_HELP                                                                      \
	"  -f, --for KEY  the user file of another person (a conversation key such\n" \
	"                 as telegram:42); default: the owner's USER.md\n"

static const struct daimon_cmd cmd_show = {
	"memory show", "memory show [memory|user|soul] [--for KEY] [--json]",
	"Print the curated files, with their usage.",
	FOR_HELP "  -j, --json     one object per file: target, file, chars, limit, entries\n", NULL};
static const struct daimon_cmd cmd_add = {"memory add", "memory add TARGET TEXT [--for KEY]",
					  "Add an entry to memory, user or soul.", FOR_HELP, NULL};
static const struct daimon_cmd cmd_replace = {"memory replace", "memory replace TARGET OLD TEXT [--for KEY]",
					      "Replace the one entry holding OLD with TEXT.", FOR_HELP, NULL};
static const struct daimon_cmd cmd_remove = {"memory remove", "memory remove TARGET OLD [--for KEY]",
					     "Remove the one entry holding OLD.", FOR_HELP, NULL};
static const struct daimon_cmd cmd_edit = {
	"memory edit", "memory edit TARGET [--for KEY]",
	"Edit a file in $VISUAL or $EDITOR; written back only if unchanged meanwhile.", FOR_HELP, NULL};

static int exec_memory(const struct daimon_cmd *cmd, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		cli_help(cmd);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "show"))
		return memory_show(&cmd_show, argc - 1, argv + 1);
	if (!strcmp(sub, "add"))
		return memory_edit_op(&cmd_add, argc - 1, argv + 1);
	if (!strcmp(sub, "replace"))
		return memory_edit_op(&cmd_replace, argc - 1, argv + 1);
	if (!strcmp(sub, "remove"))
		return memory_edit_op(&cmd_remove, argc - 1, argv + 1);
	if (!strcmp(sub, "edit"))
		return memory_edit(&cmd_edit, argc - 1, argv + 1);
	return cli_usage_error(cmd, "unknown subcommand '%s'", sub);
}

const struct daimon_cmd daimon_cmd_memory = {
	"memory",
	"memory show|add|replace|remove|edit ...",
	"Read and edit what daimon keeps about itself and you.",
	"TARGET is memory (MEMORY.md, daimon's notes), user (USER.md, about you) or\n"
	"soul (SOUL.md, its persona). Entries are separated by a line holding only §;\n"
	"OLD is text that exactly one entry holds.\n\n"
	"  daimon memory show [memory|user|soul] [--for KEY] [--json]\n"
	"  daimon memory add TARGET TEXT\n"
	"  daimon memory replace TARGET OLD TEXT\n"
	"  daimon memory remove TARGET OLD\n"
	"  daimon memory edit TARGET\n",
	exec_memory,
};
