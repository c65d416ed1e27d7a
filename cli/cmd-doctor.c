/*
 * cmd-doctor.c — `daimon doctor`: every part a person needs working,
 * checked one line each — ok, warn or FAIL, with the command that fixes
 * it — and `--fix` for the safe fixes (file modes, the index).
 *
 * The checks, in order: the home and its files' modes, the settings
 * (syntax with line:column, unknown keys, ranges), the model's key, the
 * model itself (one short real call, its latency), the daemon (running,
 * its model the same as this command line's, its channels and MCP
 * servers), the MCP servers when no daemon runs, the search index
 * against the logs, the disk, the systemd unit.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/error.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/provider.h"
#include "core/settings.h"
#include "memory/index.h"
#include "skills/mcp.h"

enum { OK, WARN, FAIL };

struct doctor {
	const char *home;
	int json, fix, failed;
	cJSON *results;
};

/* One check's line: `fix` is the command that mends it (may be NULL). */
static void report(struct doctor *d, int level, const char *check, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void report(struct doctor *d, int level, const char *check, const char *fix, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	static const char *const names[] = {"ok", "warn", "FAIL"};
	d->failed |= level == FAIL;
	if (d->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "check", check);
		cJSON_AddStringToObject(o, "status", level == OK ? "ok" : level == WARN ? "warn" : "fail");
		cJSON_AddStringToObject(o, "message", msg);
		if (fix)
			cJSON_AddStringToObject(o, "fix", fix);
		cJSON_AddItemToArray(d->results, o);
		return;
	}
	printf("%-4s  %-10s %s%s%s\n", names[level], check, msg, fix ? " — fix: " : "", fix ? fix : "");
}

/* A file that must be the owner's alone: its mode, mended with --fix. */
static void check_mode(struct doctor *d, const char *check, const char *rel, mode_t want, int level)
{
	char *path = rel ? daimon_home_path(d->home, rel) : daimon_xstrdup(d->home);
	struct stat st;
	if (stat(path, &st) < 0) {
		if (!rel)
			report(d, FAIL, check, "daimon init", "%s does not exist", path);
		free(path);
		return;
	}
	mode_t mode = st.st_mode & 0777;
	if (!(mode & ~want)) {
		report(d, OK, check, NULL, "%s (%03o)", path, (unsigned)mode);
	} else if (d->fix && chmod(path, want) == 0) {
		report(d, OK, check, NULL, "%s was %03o, now %03o (fixed)", path, (unsigned)mode, (unsigned)want);
	} else {
		char fix[600];
		snprintf(fix, sizeof(fix), "chmod %03o %s", (unsigned)want, path);
		report(d, level, check, fix, "%s is %03o: others may read it", path, (unsigned)mode);
	}
	free(path);
}

static void one_problem(void *payload, const char *problem)
{
	report(payload, WARN, "settings", "daimon config check", "%s", problem);
}

/* 1 when the settings load (the checks after need them). */
static int check_settings(struct doctor *d)
{
	daimon_settings *set;
	if (daimon_settings_load(&set, d->home) < 0) {
		report(d, FAIL, "settings", "daimon config check", "%s", daimon_error_last());
		return 0;
	}
	if (!daimon_settings_problems(set, one_problem, d))
		report(d, OK, "settings", NULL, "config.json is valid");
	daimon_settings_free(set);
	return 1;
}

/* The model: where, with which key, and one short real call. `model`
 * gets its name (for comparing with the daemon's). */
static void check_model(struct doctor *d, char *model, size_t size)
{
	daimon_model_settings ms;
	if (daimon_model_settings_load(&ms, d->home) < 0) {
		report(d, FAIL, "model", "daimon setup", "%s", daimon_error_last());
		return;
	}
	snprintf(model, size, "%s", ms.model);
	const daimon_provider *p = daimon_provider_named(ms.provider);
	if (p && p->key_env && !ms.api_key && !strcmp(ms.base_url_from, "the provider's default")) {
		report(d, FAIL, "key", "daimon setup", "%s needs a key (%s, or $DAIMON_HOME/credentials)", ms.provider,
		       p->key_env);
		report(d, WARN, "model", NULL, "not tried without a key");
		daimon_model_settings_release(&ms);
		return;
	}
	report(d, OK, "key", NULL, "%s", ms.key_from ? ms.key_from : "none needed");
	char said[128] = "";
	long ms_taken = 0;
	if (daimon_llm_ping(&ms.llm, said, sizeof(said), &ms_taken) < 0)
		report(d, FAIL, "model", "daimon setup", "%s (%s) at %s: %s", ms.model, ms.provider, ms.base_url,
		       daimon_error_last());
	else
		report(d, OK, "model", NULL, "%s (%s) answered in %ld ms", ms.model, ms.provider, ms_taken);
	daimon_model_settings_release(&ms);
}

/* One MCP server as `status` or daimon_mcp_snapshot has it ("tools" a
 * count or the list). */
static void report_server(struct doctor *d, const cJSON *sv)
{
	const char *state = daimon_json_str(sv, "state"), *err = daimon_json_str(sv, "error");
	const cJSON *tools = cJSON_GetObjectItemCaseSensitive(sv, "tools");
	int bad = !state || strcmp(state, "ready");
	report(d, bad ? FAIL : OK, "mcp", bad ? "daimon mcp list" : NULL, "%s %s, %d tools%s%s",
	       daimon_json_str(sv, "name"), state ? state : "?",
	       cJSON_IsNumber(tools) ? tools->valueint : cJSON_GetArraySize(tools), err && *err ? ": " : "",
	       err ? err : "");
}

/* The daemon, if one runs: its model, its channels, its MCP servers.
 * 1 when one runs. */
static int check_daemon(struct doctor *d, const char *model)
{
	struct cli_conn c;
	int up = cli_daemon_open(&c);
	if (up <= 0) {
		report(d, up < 0 ? FAIL : OK, "daemon", up < 0 ? "daimon status" : NULL, "%s",
		       up < 0 ? daimon_error_last() : "not running (`daimon serve` starts it)");
		return 0;
	}
	cJSON *r = NULL;
	if (cli_daemon_op(&c, "status", &r) < 0) {
		report(d, FAIL, "daemon", "daimon stop; daimon serve", "does not answer: %s", daimon_error_last());
		cli_daemon_close(&c);
		return 1;
	}
	cli_daemon_close(&c);
	const char *its = daimon_json_str(r, "model");
	if (!its)
		report(d, FAIL, "daemon", "daimon setup; kill -HUP the daemon", "pid %.0f runs without a model: %s",
		       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "pid")),
		       daimon_json_str(r, "model_error") ? daimon_json_str(r, "model_error") : "?");
	else if (*model && strcmp(its, model))
		report(d, WARN, "daemon", "put the settings in $DAIMON_HOME/env or config.json, then kill -HUP it",
		       "pid %.0f uses %s, this command line %s",
		       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "pid")), its, model);
	else
		report(d, OK, "daemon", NULL, "pid %.0f, model %s",
		       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "pid")), its);
	const cJSON *ch;
	cJSON_ArrayForEach(ch, cJSON_GetObjectItemCaseSensitive(r, "channels"))
	{
		const char *state = daimon_json_str(ch, "state"), *err = daimon_json_str(ch, "error");
		int bad = state && !strcmp(state, "failed");
		report(d, bad ? FAIL : OK, "channel", bad ? "daimon status; check its settings" : NULL, "%s %s%s%s",
		       daimon_json_str(ch, "name"), state ? state : "?", err && *err ? ": " : "", err ? err : "");
	}
	const cJSON *sv;
	cJSON_ArrayForEach(sv, cJSON_GetObjectItemCaseSensitive(r, "mcp")) report_server(d, sv);
	cJSON_Delete(r);
	return 1;
}

/* The MCP servers, started here as a turn would start them. */
static void check_mcp(struct doctor *d)
{
	daimon_rt *rt;
	if (daimon_rt_new(&rt, NULL) < 0)
		return;
	daimon_mcp *m = daimon_mcp_start(rt, d->home, NULL, cli_mcp_log(d->home));
	cJSON *list = NULL;
	if (!m) {
		report(d, FAIL, "mcp", "daimon mcp list", "%s", daimon_error_last());
	} else {
		daimon_mcp_wait(m, 20000);
		list = daimon_mcp_snapshot(m);
		daimon_mcp_stop(m);
	}
	daimon_rt_free(rt);
	for (const cJSON *s = list ? list->child : NULL; s; s = s->next)
		report_server(d, s);
	cJSON_Delete(list);
}

static void check_index(struct doctor *d)
{
	daimon_store st;
	daimon_index *ix;
	if (daimon_store_open(&st, d->home) < 0) {
		report(d, FAIL, "index", "daimon init", "%s", daimon_error_last());
		return;
	}
	daimon_index_status s;
	if (daimon_index_open(&ix, &st) < 0 || daimon_index_get_status(ix, &s) < 0) {
		report(d, FAIL, "index", "daimon index rebuild", "%s", daimon_error_last());
	} else if (s.logs_behind || s.logs_missing) {
		daimon_index_stats stats;
		if (d->fix && daimon_index_update(ix, NULL, &stats) == 0)
			report(d, OK, "index", NULL, "%lld logs were behind, %lld gone: brought up to date (fixed)",
			       (long long)s.logs_behind, (long long)s.logs_missing);
		else
			report(d, WARN, "index", "daimon index update",
			       "%lld logs not yet indexed, %lld indexed logs gone", (long long)s.logs_behind,
			       (long long)s.logs_missing);
	} else {
		report(d, OK, "index", NULL, "%lld sessions, %lld messages, up to date", (long long)s.sessions,
		       (long long)s.messages);
	}
	if (ix)
		daimon_index_close(ix);
	daimon_store_release(&st);
}

static void check_disk(struct doctor *d)
{
	struct statvfs v;
	if (statvfs(d->home, &v) < 0) {
		report(d, WARN, "disk", NULL, "cannot tell the free space of %s: %s", d->home, strerror(errno));
		return;
	}
	double mb = (double)v.f_bavail * (double)v.f_frsize / 1048576.0;
	int level = mb < 100 ? FAIL : mb < 1024 ? WARN : OK;
	report(d, level, "disk", level ? "free some space on that disk" : NULL, "%.0f MB free for %s", mb, d->home);
}

static void check_unit(struct doctor *d)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *user = getenv("HOME");
	char path[1024];
	snprintf(path, sizeof(path), "%s%s/systemd/user/daimon.service",
		 xdg    ? xdg
		 : user ? user
			: "",
		 xdg ? "" : "/.config");
	if (access(path, R_OK) == 0)
		report(d, OK, "systemd", NULL, "%s", path);
	else
		report(d, WARN, "systemd",
		       "cp data/daimon.service ~/.config/systemd/user/ && systemctl --user enable --now daimon",
		       "no user unit at %s (optional: the daemon then starts by hand)", path);
}

static int exec_doctor(const struct daimon_cmd *cmd, int argc, char **argv)
{
	struct doctor d = {0};
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return cli_help(cmd);
		else if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			d.json = 1;
		else if (!strcmp(argv[i], "--fix"))
			d.fix = 1;
		else
			return cli_usage_error(cmd, "unknown option '%s'", argv[i]);
	}
	char *home = daimon_home_dir();
	d.home = home;
	d.results = cJSON_CreateArray();
	check_mode(&d, "home", NULL, 0700, WARN);
	struct stat st;
	if (stat(home, &st) == 0) {
		check_mode(&d, "files", "credentials", 0600, FAIL);
		check_mode(&d, "files", "web-token", 0600, FAIL);
		check_mode(&d, "files", "config.json", 0600, WARN);
		char model[256] = "";
		int settings = check_settings(&d);
		if (settings)
			check_model(&d, model, sizeof(model));
		else
			report(&d, WARN, "model", NULL, "not checked: the settings do not load");
		if (!check_daemon(&d, model) && settings)
			check_mcp(&d);
		check_index(&d);
		check_disk(&d);
	}
	check_unit(&d);
	if (d.json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddBoolToObject(o, "ok", !d.failed);
		cJSON_AddItemToObject(o, "checks", d.results);
		char *s = cJSON_PrintUnformatted(o);
		printf("%s\n", s);
		cJSON_free(s);
		cJSON_Delete(o);
	} else {
		cJSON_Delete(d.results);
	}
	free(home);
	return d.failed ? 1 : 0;
}

const struct daimon_cmd daimon_cmd_doctor = {
	"doctor",
	"doctor [--fix] [--json]",
	"Check everything daimon needs, one line each, with the fix.",
	"Each check says ok, warn or FAIL, and for the last two the command that\n"
	"fixes it: the home and its files' modes, the settings, the model's key,\n"
	"the model (one short real call and its latency), the daemon (running, its\n"
	"model the same as this command line's, its channels and MCP servers), the\n"
	"MCP servers when no daemon runs, the search index, the disk, the systemd\n"
	"unit. The exit status is 0 only when nothing failed.\n\n"
	"  --fix        mend what is safe to: file modes, an index behind its logs\n"
	"  -j, --json   one JSON object: ok, checks [{check, status, message, fix}]\n",
	exec_doctor,
};
