/*
 * cmd-status.c — `daimon status`: whether a daemon runs for this home,
 * and how it is: uptime, memory, sessions, channels.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/home.h"
#include "core/jsonutil.h"

static int exec_status(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int json = 0, rc = cli_options_json(cmd, argc, argv, &json);
	if (rc >= 0)
		return rc;
	struct cli_conn c;
	int up = cli_daemon_open(&c);
	if (up < 0)
		return cli_fail();
	if (!up) {
		char *home = daimon_home_dir();
		if (json)
			printf("{\"running\":false}\n");
		else
			printf("not running (%s)\n", home);
		free(home);
		return 3; /* as systemctl and LSB init scripts say "not running" */
	}
	cJSON *r = NULL;
	if (cli_daemon_op(&c, "status", &r) < 0) {
		cli_daemon_close(&c);
		return cli_fail();
	}
	cli_daemon_close(&c);
	if (json) {
		cJSON_DeleteItemFromObjectCaseSensitive(r, "ok");
		cJSON_AddBoolToObject(r, "running", 1);
		char *s = cJSON_PrintUnformatted(r);
		printf("%s\n", s);
		cJSON_free(s);
		cJSON_Delete(r);
		return 0;
	}
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(r, "sessions");
	printf("running, pid %.0f, up %.1f s (ready in %.0f ms), %.0f kB resident\n",
	       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "pid")),
	       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "uptime_ms")) / 1000,
	       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "ready_ms")),
	       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "rss_kb")));
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "local")))
		printf("          (a command's own daemon: `ask` or `chat` with none running; it ends with them)\n");
	printf("home      %s\n", daimon_json_str(r, "home") ? daimon_json_str(r, "home") : "?");
	const char *model = daimon_json_str(r, "model"), *key = daimon_json_str(r, "key_from");
	if (model)
		printf("model     %s (%s), %s at %s (%s)%s%s\n", model, daimon_json_str(r, "model_from"),
		       daimon_json_str(r, "provider"), daimon_json_str(r, "base_url"),
		       daimon_json_str(r, "base_url_from"), key ? ", key from " : ", no key", key ? key : "");
	else
		printf("model     none: %s\n",
		       daimon_json_str(r, "model_error") ? daimon_json_str(r, "model_error") : "?");
	printf("sessions  %.0f live, %.0f hibernated, %.0f in a turn\n",
	       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, "live")),
	       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, "hibernated")),
	       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, "busy")));
	const cJSON *ch;
	cJSON_ArrayForEach(ch, cJSON_GetObjectItemCaseSensitive(r, "channels"))
	{
		const char *err = daimon_json_str(ch, "error");
		printf("channel   %-10s %s", daimon_json_str(ch, "name"), daimon_json_str(ch, "state"));
		double restarts = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ch, "restarts"));
		if (restarts > 0)
			printf(", %.0f restarts", restarts);
		if (err && *err)
			printf(" (%s)", err);
		putchar('\n');
	}
	const cJSON *sv;
	cJSON_ArrayForEach(sv, cJSON_GetObjectItemCaseSensitive(r, "mcp"))
	{
		const char *err = daimon_json_str(sv, "error");
		printf("mcp       %-10s %s, %.0f tools", daimon_json_str(sv, "name"), daimon_json_str(sv, "state"),
		       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sv, "tools")));
		if (err && *err)
			printf(" (%s)", err);
		putchar('\n');
	}
	const cJSON *sc = cJSON_GetObjectItemCaseSensitive(r, "schedule"), *nx;
	double jobs = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sc, "jobs"));
	double failing = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sc, "failing"));
	if (sc && jobs > 0) {
		printf("schedule  %.0f jobs", jobs);
		if (failing > 0)
			printf(", %.0f not delivered yet (daimon cron history)", failing);
		putchar('\n');
	}
	cJSON_ArrayForEach(nx, cJSON_GetObjectItemCaseSensitive(sc, "next"))
		printf("next      %s  %s  %s\n", daimon_json_str(nx, "at"), daimon_json_str(nx, "id"),
		       daimon_json_str(nx, "what"));
	cJSON_Delete(r);
	return 0;
}

const struct daimon_cmd daimon_cmd_status = {
	"status",
	"status [--json]",
	"Whether the daemon runs, and how: uptime, memory, sessions, channels, MCP servers.",
	"Exit status 0 when it runs, 3 when it does not.\n\n"
	"  -j, --json   one JSON object (\"running\": false when none runs)\n",
	exec_status,
};
