/*
 * cmd-usage.c — `daimon usage`: the model calls' tokens, totalled from
 * the session logs by day, session, model or channel.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/settings.h"
#include "core/timefmt.h"
#include "memory/usage.h"

static double num(const cJSON *o, const char *name)
{
	return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

static int exec_usage(const struct daimon_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'},
					     {"json", no_argument, 0, 'j'},
					     {"since", required_argument, 0, 'S'},
					     {"by", required_argument, 0, 'b'},
					     {0}};
	int json = 0, c, by = DAIMON_USAGE_DAY;
	int64_t since = 0;
	while ((c = getopt_long(argc, argv, "hjS:b:", opts, NULL)) != -1) {
		if (c == 'h')
			return cli_help(cmd);
		else if (c == 'j')
			json = 1;
		else if (c == 'S' && daimon_ts_parse_user(optarg, daimon_now_ms(), &since) < 0)
			return cli_usage_error(cmd,
					       "cannot read the time '%s' (use 2026-11-24, an RFC 3339 time, or an age "
					       "such as 7d or 12h)",
					       optarg);
		else if (c == 'b' && (by = daimon_usage_by_parse(optarg)) < 0)
			return cli_usage_error(cmd, "cannot group by '%s' (day, session, model or channel)", optarg);
		else if (c != 'S' && c != 'b')
			return cli_usage_error(cmd, "unknown option");
	}
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	daimon_store st;
	int rc = cli_open(&st, NULL, 1);
	if (rc < 0)
		return cli_fail();
	if (rc == 1) {
		printf(json ? "{\"rows\":[],\"total\":{\"calls\":0,\"tokens_in\":0,\"tokens_out\":0,\"tokens_cached\":"
			      "0}}\n"
			    : "no conversations yet\n");
		return 0;
	}
	cJSON *rows = NULL;
	size_t damaged = 0;
	daimon_settings *set = NULL;
	rc = daimon_settings_load(&set, st.home);
	if (rc == 0)
		rc = daimon_usage_totals(&st, since, (daimon_usage_by)by, daimon_settings_json(set, "usage.prices"),
					 &rows, &damaged);
	daimon_settings_free(set);
	daimon_store_release(&st);
	if (rc < 0)
		return cli_fail();
	if (damaged)
		fprintf(stderr, "daimon: %zu damaged log%s counted up to the damage (the last: %s)\n", damaged,
			damaged == 1 ? "" : "s", daimon_error_last());
	double total[6] = {0};
	static const char *const fields[] = {"calls",         "tokens_in",      "tokens_out",
					     "tokens_cached", "unpriced_calls", "cost"};
	const cJSON *r;
	cJSON_ArrayForEach(r, rows) for (int i = 0; i < 6; i++) total[i] += num(r, fields[i]);
	if (json) {
		cJSON *o = cJSON_CreateObject(), *t;
		cJSON_AddItemToObject(o, "rows", rows);
		t = cJSON_AddObjectToObject(o, "total");
		for (int i = 0; i < 6; i++)
			cJSON_AddNumberToObject(t, fields[i], total[i]);
		char *s = cJSON_PrintUnformatted(o);
		printf("%s\n", s);
		cJSON_free(s);
		cJSON_Delete(o);
		return 0;
	}
	static const char *const heads[] = {"day", "session", "model", "channel"};
	printf("%-28s %7s %12s %12s %12s %10s\n", heads[by], "calls", "tokens in", "tokens out", "cached", "cost");
	cJSON_ArrayForEach(r, rows)
	{
		char cost[32] = "-"; /* (no price: no cost, never a guess) */
		if (num(r, "unpriced_calls") < num(r, "calls"))
			snprintf(cost, sizeof(cost), "%.4f%s", num(r, "cost"), num(r, "unpriced_calls") ? "+" : "");
		printf("%-28s %7.0f %12.0f %12.0f %12.0f %10s\n",
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "key")), num(r, "calls"),
		       num(r, "tokens_in"), num(r, "tokens_out"), num(r, "tokens_cached"), cost);
	}
	char cost[32] = "-";
	if (total[4] < total[0])
		snprintf(cost, sizeof(cost), "%.4f%s", total[5], total[4] ? "+" : "");
	printf("%-28s %7.0f %12.0f %12.0f %12.0f %10s\n", "total", total[0], total[1], total[2], total[3], cost);
	if (total[4] && total[4] < total[0])
		printf("(+: %.0f calls of models with no price in usage.prices are not in the cost)\n", total[4]);
	cJSON_Delete(rows);
	return 0;
}

const struct daimon_cmd daimon_cmd_usage = {
	"usage",
	"usage [--since T] [--by day|session|model|channel] [--json]",
	"The model calls' tokens, totalled from the logs.",
	"Every answer's log record says which model gave it and its tokens (in,\n"
	"out, of them cached); this totals them.\n\n"
	"      --since T   only calls at or after T: 2026-11-24, an RFC 3339 time, or\n"
	"                  an age such as 30m, 12h, 7d\n"
	"  -b, --by G      group by day (the default; local dates), session, model or\n"
	"                  channel\n"
	"  -j, --json      one JSON object: rows [{key, calls, tokens_in, tokens_out,\n"
	"                  tokens_cached}], total\n",
	exec_usage,
};
