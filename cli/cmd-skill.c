/*
 * cmd-skill.c — `daimon skill ...`: the skill author's loop. Write C,
 * build (compile, test, commit), call a tool directly, look at the
 * history, compare versions, roll back. Calls from the command line run
 * in a child process, so a skill that crashes or hangs costs that call.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"
#include "sessions/skilltools.h"
#include "skills/host.h"
#include "skills/instructions.h"
#include "skills/workspace.h"

/* --help and --json; -1 to go on (optind at the first operand). */
static int options(const struct daimon_cmd *cmd, int argc, char **argv, int *json)
{
	return cli_options_json(cmd, argc, argv, json);
}

static int open_ws(daimon_skillws **ws)
{
	char *home = daimon_home_dir();
	int rc = daimon_skillws_open(ws, home, &daimon_skill_memory_services);
	free(home);
	return rc;
}

static int need(const struct daimon_cmd *cmd, int argc, int want, const char *what)
{
	return argc - optind == want ? -1 : cli_usage_error(cmd, "%s", what);
}

/* What most subcommands start with: options, `want` operands, the
 * workspace. -1 to go on; otherwise the exit status. */
static int begin(const struct daimon_cmd *cmd, int argc, char **argv, int *json, int want, const char *what,
		 daimon_skillws **ws)
{
	int rc = options(cmd, argc, argv, json);
	if (rc >= 0 || (rc = need(cmd, argc, want, what)) >= 0)
		return rc;
	return open_ws(ws) < 0 ? cli_fail() : -1;
}

static int skill_new(const struct daimon_cmd *cmd, int argc, char **argv)
{
	daimon_skillws *ws;
	int rc = begin(cmd, argc, argv, NULL, 1, "give the new skill's name", &ws);
	if (rc >= 0)
		return rc;
	rc = 0;
	const char *name = argv[optind];
	if (daimon_skill_new(ws, name) < 0)
		rc = cli_fail();
	else
		printf("created %s/%s/ (skill.c, skill.json, tests.json); build it with `daimon skill build %s`\n",
		       daimon_skillws_root(ws), name, name);
	daimon_skillws_close(ws);
	return rc;
}

/* A running daemon swaps the new live build in now (said on stderr). */
static void swap_into_daemon(void)
{
	struct cli_conn c;
	cJSON *r = NULL;
	if (cli_daemon_open(&c) <= 0)
		return;
	if (cli_daemon_op(&c, "skills", &r) < 0)
		fprintf(stderr, "daimon: the running daemon keeps the version before: %s\n", daimon_error_last());
	else
		fprintf(stderr, "[the running daemon swapped it in]\n");
	cJSON_Delete(r);
	cli_daemon_close(&c);
}

/* build and test: compile, run the tests; build also commits and records it. */
static int skill_build(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int json = 0, rc = options(cmd, argc, argv, &json);
	if (rc >= 0 || (rc = need(cmd, argc, 1, "which skill?")) >= 0)
		return rc;
	rc = 0;
	int commit = !strcmp(cmd->name, "skill build");
	daimon_skillws *ws;
	if (open_ws(&ws) < 0)
		return cli_fail();
	daimon_skill_built b;
	daimon_buf report = DAIMON_BUF_INIT;
	rc = daimon_skill_build(ws, argv[optind], NULL, commit ? DAIMON_SKILL_COMMIT : 0, &b, &report);
	fputs(daimon_buf_cstr(&report), stdout);
	if (rc == 0 && commit)
		swap_into_daemon();
	if (rc < 0) {
		rc = cli_fail();
	} else if (json) {
		printf("{\"skill\":\"%s\",\"commit\":\"%s\",\"tests\":%d,\"build_ms\":%.0f,\"test_ms\":%.0f}\n",
		       argv[optind], b.commit, b.tests, b.build_ms, b.test_ms);
	} else if (commit) {
		printf("built %s %.12s: compiled in %.0f ms, %d test%s passed in %.0f ms\n", argv[optind], b.commit,
		       b.build_ms, b.tests, b.tests == 1 ? "" : "s", b.test_ms);
	} else {
		printf("%d test%s of %s passed (compiled in %.0f ms, tested in %.0f ms)\n", b.tests,
		       b.tests == 1 ? "" : "s", argv[optind], b.build_ms, b.test_ms);
	}
	daimon_buf_release(&report);
	daimon_skill_built_release(&b);
	daimon_skillws_close(ws);
	return rc;
}

static int skill_list(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int json = 0;
	daimon_skillws *ws;
	int rc = begin(cmd, argc, argv, &json, 0, "list takes no operands", &ws);
	if (rc >= 0)
		return rc;
	rc = 0;
	cJSON *list;
	daimon_skill_list(ws, &list);
	for (const cJSON *s = list->child; s; s = s->next) {
		if (json) {
			char *t = cJSON_PrintUnformatted(s);
			puts(t);
			cJSON_free(t);
			continue;
		}
		const cJSON *tools = cJSON_GetObjectItemCaseSensitive(s, "tools");
		printf("%-20s %.12s  %-9s %s\n", daimon_json_str(s, "name"), daimon_json_str(s, "commit"),
		       daimon_json_str(s, "isolation"),
		       daimon_json_str(s, "description") ? daimon_json_str(s, "description") : "");
		for (const cJSON *t = tools ? tools->child : NULL; t; t = t->next)
			printf("    %s-%s: %s\n", daimon_json_str(s, "name"), daimon_json_str(t, "name"),
			       daimon_json_str(t, "description"));
	}
	cJSON *instr = daimon_instructions_scan(daimon_skillws_root(ws));
	for (const cJSON *s = instr->child; s; s = s->next) {
		if (json) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "name", daimon_json_str(s, "name"));
			cJSON_AddStringToObject(o, "kind", "instructions");
			cJSON_AddStringToObject(o, "description", daimon_json_str(s, "description"));
			char *t = cJSON_PrintUnformatted(o);
			puts(t);
			cJSON_free(t);
			cJSON_Delete(o);
		} else {
			printf("%-20s %-12s  %-9s %s\n", daimon_json_str(s, "name"), "SKILL.md", "-",
			       daimon_json_str(s, "description"));
		}
	}
	if (!list->child && !instr->child && !json)
		printf("no skills yet (`daimon skill new NAME`)\n");
	cJSON_Delete(instr);
	cJSON_Delete(list);
	daimon_skillws_close(ws);
	return 0;
}

static int skill_call(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int rc = options(cmd, argc, argv, NULL);
	if (rc >= 0)
		return rc;
	if (argc - optind != 2 && argc - optind != 3)
		return cli_usage_error(cmd, "give the skill, the tool and its arguments as JSON");
	rc = 0;
	const char *args = argc - optind == 3 ? argv[optind + 2] : "{}";
	cJSON *a = cJSON_Parse(args);
	if (!cJSON_IsObject(a)) {
		cJSON_Delete(a);
		return cli_usage_error(cmd, "the arguments must be a JSON object, not '%s'", args);
	}
	daimon_skillws *ws;
	if (open_ws(&ws) < 0) {
		cJSON_Delete(a);
		return cli_fail();
	}
	char *so = NULL;
	cJSON *results = NULL;
	daimon_buf why = DAIMON_BUF_INIT;
	if (daimon_skill_live(ws, argv[optind], &so, NULL) < 0) {
		rc = cli_fail();
	} else {
		cJSON *calls = cJSON_CreateArray(), *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "tool", argv[optind + 1]);
		cJSON_AddItemToObject(c, "args", a);
		a = NULL;
		cJSON_AddItemToArray(calls, c);
		char *home = daimon_home_dir();
		if (daimon_skill_run_isolated(so, home, &daimon_skill_memory_services, calls, 30000, 0, &results,
					      &why) < 0) {
			rc = cli_error("%s", daimon_buf_cstr(&why));
		} else {
			const cJSON *r = cJSON_GetArrayItem(results, 0);
			int status = cJSON_GetObjectItemCaseSensitive(r, "status")->valueint;
			if (status == 0)
				printf("%s\n", daimon_json_str(r, "text"));
			rc = status == 0 ? 0 : cli_error("%s", daimon_json_str(r, "text"));
		}
		free(home);
		cJSON_Delete(calls);
	}
	cJSON_Delete(a);
	cJSON_Delete(results);
	daimon_buf_release(&why);
	free(so);
	daimon_skillws_close(ws);
	return rc;
}

static int skill_log(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int json = 0;
	daimon_skillws *ws;
	int rc = begin(cmd, argc, argv, &json, 1, "which skill?", &ws);
	if (rc >= 0)
		return rc;
	rc = 0;
	cJSON *log;
	daimon_skill_log(ws, argv[optind], &log);
	for (const cJSON *e = log->child; e; e = e->next) {
		if (json) {
			char *t = cJSON_PrintUnformatted(e);
			puts(t);
			cJSON_free(t);
		} else {
			printf("%.12s  %s  %s\n", daimon_json_str(e, "commit"), daimon_json_str(e, "time"),
			       daimon_json_str(e, "message"));
		}
	}
	if (!log->child)
		rc = cli_error("skill '%s' has no history", argv[optind]);
	cJSON_Delete(log);
	daimon_skillws_close(ws);
	return rc;
}

static int skill_diff(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int rc = options(cmd, argc, argv, NULL);
	if (rc >= 0)
		return rc;
	if (argc - optind < 1 || argc - optind > 3)
		return cli_usage_error(cmd, "give the skill, then at most two revisions");
	rc = 0;
	daimon_skillws *ws;
	if (open_ws(&ws) < 0)
		return cli_fail();
	daimon_buf out = DAIMON_BUF_INIT;
	const char *from = argc - optind >= 2 ? argv[optind + 1] : NULL,
		   *to = argc - optind == 3 ? argv[optind + 2] : NULL;
	if (daimon_skill_diff(ws, argv[optind], from, to, &out) < 0)
		rc = cli_fail();
	else
		fputs(daimon_buf_cstr(&out), stdout);
	daimon_buf_release(&out);
	daimon_skillws_close(ws);
	return rc;
}

static int skill_rollback(const struct daimon_cmd *cmd, int argc, char **argv)
{
	daimon_skillws *ws;
	int rc = begin(cmd, argc, argv, NULL, 2, "give the skill and the revision to go back to", &ws);
	if (rc >= 0)
		return rc;
	rc = 0;
	const char *name = argv[optind], *rev = argv[optind + 1];
	daimon_skill_built b = {0};
	daimon_buf report = DAIMON_BUF_INIT;
	char *msg = daimon_xasprintf("rollback %s to %.12s", name, rev);
	if (daimon_skill_checkout(ws, name, rev) < 0 ||
	    daimon_skill_build(ws, name, msg, DAIMON_SKILL_COMMIT, &b, &report) < 0) {
		fputs(daimon_buf_cstr(&report), stdout);
		rc = cli_fail();
	} else {
		swap_into_daemon();
		printf("%s is back to %.12s as %.12s (%d test%s passed)\n", name, rev, b.commit, b.tests,
		       b.tests == 1 ? "" : "s");
	}
	free(msg);
	daimon_buf_release(&report);
	daimon_skill_built_release(&b);
	daimon_skillws_close(ws);
	return rc;
}

static int skill_remove(const struct daimon_cmd *cmd, int argc, char **argv)
{
	daimon_skillws *ws;
	int rc = begin(cmd, argc, argv, NULL, 1, "which skill?", &ws);
	if (rc >= 0)
		return rc;
	rc = 0;
	if (daimon_skill_remove(ws, argv[optind]) < 0)
		rc = cli_fail();
	else
		printf("removed %s (its history stays: `daimon skill log %s`)\n", argv[optind], argv[optind]);
	daimon_skillws_close(ws);
	return rc;
}

static volatile sig_atomic_t stop_watching;
static void on_sigint(int sig)
{
	(void)sig;
	stop_watching = 1;
}

/* watch: every save rebuilds, tests and makes the new version live (running
 * sessions swap it in at their next turn), each step timed. */
static int skill_watch(const struct daimon_cmd *cmd, int argc, char **argv)
{
	daimon_skillws *ws;
	int rc = begin(cmd, argc, argv, NULL, 1, "which skill?", &ws);
	if (rc >= 0)
		return rc;
	rc = 0;
	const char *name = argv[optind];
	char *dir = daimon_xasprintf("%s/%s", daimon_skillws_root(ws), name);
	int fd = inotify_init1(IN_CLOEXEC);
	if (fd < 0 || inotify_add_watch(fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0) {
		rc = cli_error("cannot watch %s: %s", dir, strerror(errno));
		goto out;
	}
	struct sigaction sa = {0};
	sa.sa_handler = on_sigint;
	sigaction(SIGINT, &sa, NULL);
	printf("watching %s (Ctrl-C stops); saving a file rebuilds, tests and swaps it in\n", dir);
	fflush(stdout);
	while (!stop_watching) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 500) <= 0)
			continue;
		uint64_t saved = daimon_mono_ns();
		char buf[4096];
		/* an editor's save is several events: let them settle */
		do {
			if (read(fd, buf, sizeof(buf)) < 0 && errno != EAGAIN)
				break;
		} while (poll(&p, 1, 100) > 0);
		daimon_skill_built b;
		daimon_buf report = DAIMON_BUF_INIT;
		int ok = daimon_skill_build(ws, name, NULL, DAIMON_SKILL_COMMIT, &b, &report) == 0;
		fputs(daimon_buf_cstr(&report), stdout);
		if (ok)
			swap_into_daemon();
		if (ok)
			printf("live %.12s: compiled %.0f ms, %d test%s %.0f ms, %.0f ms from save to live\n", b.commit,
			       b.build_ms, b.tests, b.tests == 1 ? "" : "s", b.test_ms,
			       (double)(daimon_mono_ns() - saved) / 1e6);
		else
			printf("not live: %s\n", daimon_error_last());
		fflush(stdout);
		daimon_buf_release(&report);
		daimon_skill_built_release(&b);
	}
out:
	if (fd >= 0)
		close(fd);
	free(dir);
	daimon_skillws_close(ws);
	return rc;
}

/* serve: the skill as an MCP server on stdin/stdout (what daimon runs as
 * a skill's host; any MCP client can use it too). */
static int skill_serve(const struct daimon_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, 0, 'h'}, {"memory-mb", required_argument, 0, 'm'}, {0}};
	long memory_mb = 0;
	int c;
	while ((c = getopt_long(argc, argv, "hm:", opts, NULL)) != -1) {
		if (c == 'h')
			return cli_help(cmd);
		if (c != 'm' || (memory_mb = atol(optarg)) <= 0)
			return cli_usage_error(cmd,
					       c == 'm' ? "--memory-mb wants a positive number" : "unknown option");
	}
	int rc = need(cmd, argc, 1, "which skill?");
	if (rc >= 0)
		return rc;
	daimon_skillws *ws;
	if (open_ws(&ws) < 0)
		return cli_fail();
	char *so = NULL;
	rc = daimon_skill_live(ws, argv[optind], &so, NULL) < 0 ? cli_fail() : 0;
	char *home = daimon_home_dir();
	daimon_skillws_close(ws);
	if (rc == 0 && memory_mb > 0)
		daimon_skill_limit_memory((size_t)memory_mb << 20);
	if (rc == 0 && daimon_skill_serve(so, home, &daimon_skill_memory_services, 0, 1) < 0)
		rc = cli_fail();
	free(home);
	free(so);
	return rc;
}

#define SUB(n, u, s, h, f) static const struct daimon_cmd cmd_##n = {"skill " #n, u, s, h, f}
SUB(new, "skill new NAME", "Scaffold a working skill: source, manifest, tests.", "", skill_new);
SUB(build, "skill build NAME [--json]", "Compile, run the tests, commit; the new version becomes live.",
    "  -j, --json   {\"skill\",\"commit\",\"tests\",\"build_ms\",\"test_ms\"}\n", skill_build);
SUB(test, "skill test NAME", "Compile and run the tests; nothing is committed.", "", skill_build);
SUB(list, "skill list [--json]", "The skills built, with their tools.", "  -j, --json   one object per skill\n",
    skill_list);
SUB(call, "skill call NAME TOOL [JSON]", "Call a tool directly (in a child process) and print its result.", "",
    skill_call);
SUB(log, "skill log NAME [--json]", "The versions of a skill, newest first.", "", skill_log);
SUB(diff, "skill diff NAME [REV [REV]]", "What changed: the working files against the last build, or REV against REV.",
    "", skill_diff);
SUB(rollback, "skill rollback NAME REV", "Bring back the version at REV: rebuilt, tested, committed, live.", "",
    skill_rollback);
SUB(remove, "skill remove NAME", "Remove a skill (its history stays).", "", skill_remove);
SUB(serve, "skill serve NAME [--memory-mb N]", "Serve the skill's tools over MCP on stdin/stdout.",
    "  -m, --memory-mb N   limit what the skill may allocate\n", skill_serve);
SUB(watch, "skill watch NAME", "On every save: rebuild, test, make live; each step timed (Ctrl-C stops).", "",
    skill_watch);

static const struct daimon_cmd *const subs[] = {&cmd_new,  &cmd_build,    &cmd_test,   &cmd_list,  &cmd_call,  &cmd_log,
						&cmd_diff, &cmd_rollback, &cmd_remove, &cmd_watch, &cmd_serve, NULL};

static int exec_skill(const struct daimon_cmd *cmd, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		cli_help(cmd);
		return argc < 2 ? 2 : 0;
	}
	for (const struct daimon_cmd *const *s = subs; *s; s++)
		if (!strcmp((*s)->name + 6, argv[1]))
			return (*s)->exec(*s, argc - 1, argv + 1);
	return cli_usage_error(cmd, "unknown subcommand '%s'", argv[1]);
}

const struct daimon_cmd daimon_cmd_skill = {
	"skill",
	"skill new|build|test|list|call|log|diff|rollback|remove|watch|serve ...",
	"Write, build and manage native skills.",
	"Skills are C in $DAIMON_HOME/skills/NAME (a git repository: every build is\n"
	"a commit). The header is $DAIMON_HOME/skills/.include/daimon/skill.h.\n\n"
	"  daimon skill new NAME\n"
	"  daimon skill build NAME [--json]\n"
	"  daimon skill test NAME\n"
	"  daimon skill list [--json]\n"
	"  daimon skill call NAME TOOL [JSON]\n"
	"  daimon skill log NAME [--json]\n"
	"  daimon skill diff NAME [REV [REV]]\n"
	"  daimon skill rollback NAME REV\n"
	"  daimon skill remove NAME\n"
	"  daimon skill watch NAME\n"
	"  daimon skill serve NAME [--memory-mb N]\n",
	exec_skill,
};
