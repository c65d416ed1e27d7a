/*
 * cmd-index.c — `daimon index status|update|rebuild`: look after index.db,
 * the search index derived from the session logs.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/timefmt.h"

static void on_progress(void *payload, size_t done, size_t total)
{
	cli_progress((const char *)payload, done, total);
}

static void on_warn(void *payload, const char *msg)
{
	(void)payload;
	cli_progress_end();
	fprintf(stderr, "daimon: warning: %s\n", msg);
}

static void human_bytes(char out[32], int64_t n)
{
	const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 4)
		v /= 1024, u++;
	snprintf(out, 32, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

static int index_status(daimon_index *ix, int json)
{
	daimon_index_status s;
	if (daimon_index_get_status(ix, &s) < 0)
		return cli_fail();
	char built[DAIMON_TS_LEN] = "";
	if (s.built)
		daimon_ts_format(built, s.built);
	if (json) {
		printf("{\"sessions\":%lld,\"messages\":%lld,\"index_bytes\":%lld,\"log_bytes\":%lld,"
		       "\"logs_behind\":%lld,\"logs_missing\":%lld,\"built\":%s%s%s}\n",
		       (long long)s.sessions, (long long)s.messages, (long long)s.index_bytes, (long long)s.log_bytes,
		       (long long)s.logs_behind, (long long)s.logs_missing, s.built ? "\"" : "",
		       s.built ? built : "null", s.built ? "\"" : "");
		return 0;
	}
	char ib[32], lb[32];
	human_bytes(ib, s.index_bytes);
	human_bytes(lb, s.log_bytes);
	printf("sessions indexed  %lld\nmessages indexed  %lld\nindex size        %s\nlog size          %s\n",
	       (long long)s.sessions, (long long)s.messages, ib, lb);
	printf("logs behind       %lld%s\n", (long long)s.logs_behind,
	       s.logs_behind ? "  (run `daimon index update`)" : "");
	if (s.logs_missing)
		printf("logs missing      %lld  (run `daimon index rebuild`)\n", (long long)s.logs_missing);
	printf("last rebuilt      %s\n", s.built ? built : "never");
	return 0;
}

static int exec_index(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int json = 0, rc = cli_options_json(cmd, argc, argv, &json);
	if (rc >= 0)
		return rc;
	const char *sub = optind < argc ? argv[optind] : "status";
	if (strcmp(sub, "status") && strcmp(sub, "update") && strcmp(sub, "rebuild"))
		return cli_usage_error(cmd, "unknown subcommand '%s'", sub);
	if (optind + 1 < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
	daimon_store st;
	daimon_index *ix;
	if (cli_open(&st, &ix, 0) < 0)
		return cli_fail();
	rc = 0;
	if (!strcmp(sub, "status")) {
		rc = index_status(ix, json);
	} else {
		int rebuild = !strcmp(sub, "rebuild");
		daimon_index_hooks hooks = {on_progress, on_warn, rebuild ? "rebuilding" : "updating"};
		daimon_index_stats stats = {0};
		uint64_t t0 = daimon_mono_ns();
		rc = rebuild ? daimon_index_rebuild(ix, &hooks, &stats) : daimon_index_update(ix, &hooks, &stats);
		cli_progress_end();
		double secs = (double)(daimon_mono_ns() - t0) / 1e9;
		if (rc < 0) {
			rc = cli_fail();
		} else if (json) {
			printf("{\"sessions\":%zu,\"sessions_updated\":%zu,\"records_indexed\":%zu,\"damaged\":%zu,"
			       "\"rebuilt\":%s,\"seconds\":%.3f}\n",
			       stats.sessions_seen, stats.sessions_updated, stats.records_indexed, stats.damaged,
			       stats.rebuilt || rebuild ? "true" : "false", secs);
		} else {
			printf("%s %zu records from %zu of %zu sessions in %.2fs%s\n",
			       rebuild || stats.rebuilt ? "rebuilt: indexed" : "indexed", stats.records_indexed,
			       stats.sessions_updated, stats.sessions_seen, secs,
			       stats.damaged ? " (some logs are damaged; see warnings above)" : "");
		}
		if (rc == 0 && stats.damaged)
			rc = 1;
	}
	daimon_index_close(ix);
	daimon_store_release(&st);
	return rc;
}

const struct daimon_cmd daimon_cmd_index = {
	"index",
	"index [status|update|rebuild] [--json]",
	"Show or repair the search index (index.db).",
	"  status    what is indexed, sizes, and logs not indexed yet (the default)\n"
	"  update    index whatever the session logs have that the index has not\n"
	"  rebuild   throw the index away and read every session log again\n\n"
	"  -j, --json   print the result as one JSON object\n\n"
	"The index is derived from the logs in sessions/ and can always be rebuilt.\n"
	"A damaged log is reported with file:line; its good records are still indexed.\n",
	exec_index,
};
