/*
 * cmd-ps.c — `daimon ps`: the daemon's live actor table, like Erlang's
 * observer in a terminal: every actor as a tree under its parent, with
 * its state, what it is doing and for how long, its mailbox, messages
 * handled and memory.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/jsonutil.h"

static volatile sig_atomic_t stop_watch;

static void on_sigint(int sig)
{
	(void)sig;
	stop_watch = 1;
}

static const char *str(const cJSON *o, const char *k)
{
	const char *s = daimon_json_str(o, k);
	return s ? s : "";
}

static double num(const cJSON *o, const char *k)
{
	return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void human(char *out, size_t size, double bytes)
{
	if (bytes >= 1 << 20)
		snprintf(out, size, "%.1fM", bytes / (1 << 20));
	else if (bytes >= 1 << 10)
		snprintf(out, size, "%.1fK", bytes / (1 << 10));
	else
		snprintf(out, size, "%.0f", bytes);
}

/* Prints the actors whose parent is `parent`, and theirs below them. */
static void tree(const cJSON *actors, const char *parent, int depth, int *shown)
{
	const cJSON *a;
	cJSON_ArrayForEach(a, actors)
	{
		if (strcmp(str(a, "parent"), parent) || depth > 16)
			continue;
		char label[96], mem[16], op[80] = "";
		snprintf(label, sizeof(label), "%*s%s%s%s", depth * 2, "", str(a, "behaviour"),
			 *str(a, "name") ? " " : "", str(a, "name"));
		human(mem, sizeof(mem), num(a, "mem"));
		if (*str(a, "op"))
			snprintf(op, sizeof(op), "%s (%.1f s)", str(a, "op"), num(a, "op_age_ms") / 1000);
		printf("%-10s %-40.40s %-11s %5.0f %9.0f %7s  %s\n", str(a, "id"), label, str(a, "state"),
		       num(a, "mailbox"), num(a, "handled"), mem, op);
		(*shown)++;
		tree(actors, str(a, "id"), depth + 1, shown);
	}
}

static int show(struct cli_conn *c, int json)
{
	cJSON *r = NULL;
	if (cli_daemon_op(c, "ps", &r) < 0)
		return -1;
	const cJSON *actors = cJSON_GetObjectItemCaseSensitive(r, "actors"), *a;
	if (json) {
		cJSON_ArrayForEach(a, actors)
		{
			char *s = cJSON_PrintUnformatted(a);
			printf("%s\n", s);
			cJSON_free(s);
		}
	} else {
		printf("%-10s %-40s %-11s %5s %9s %7s  %s\n", "ID", "ACTOR", "STATE", "MBOX", "HANDLED", "MEM",
		       "DOING");
		int shown = 0;
		tree(actors, "", 0, &shown);
		printf("%d actors, daemon %.0f kB resident\n", cJSON_GetArraySize(actors), num(r, "rss_kb"));
	}
	fflush(stdout);
	cJSON_Delete(r);
	return 0;
}

static int exec_ps(const struct daimon_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'},
					     {"json", no_argument, 0, 'j'},
					     {"watch", optional_argument, 0, 'w'},
					     {0}};
	int json = 0, watch = 0, o;
	double every = 1;
	while ((o = getopt_long(argc, argv, "hjw::", opts, NULL)) != -1) {
		if (o == 'h')
			return cli_help(cmd);
		else if (o == 'j')
			json = 1;
		else if (o == 'w') {
			watch = 1;
			if (optarg && (every = atof(optarg)) <= 0)
				return cli_usage_error(cmd, "--watch takes seconds, more than 0");
		} else
			return cli_usage_error(cmd, "unknown option");
	}
	struct cli_conn c;
	int up = cli_daemon_open(&c);
	if (up < 0)
		return cli_fail();
	if (!up)
		return cli_error("no daemon is running (start one with `daimon serve`)");
	int rc = 0;
	if (!watch) {
		rc = show(&c, json) < 0 ? cli_fail() : 0;
	} else {
		signal(SIGINT, on_sigint);
		int tty = isatty(STDOUT_FILENO);
		while (!stop_watch && rc == 0) {
			if (tty && !json)
				printf("\033[H\033[2J");
			rc = show(&c, json) < 0 ? cli_fail() : 0;
			struct timespec ts = {(time_t)every, (long)((every - (double)(time_t)every) * 1e9)};
			nanosleep(&ts, NULL);
		}
	}
	cli_daemon_close(&c);
	return rc;
}

const struct daimon_cmd daimon_cmd_ps = {
	"ps",
	"ps [--json] [--watch[=SECONDS]]",
	"The running daemon's actors: sessions, channels, skill hosts, clients.",
	"One row per actor, as a tree under its parent: state, mailbox length,\n"
	"messages handled, memory, and what it is doing and for how long.\n\n"
	"  -j, --json            one JSON object per actor per line\n"
	"  -w, --watch[=SECONDS] show it again every SECONDS (default 1) until Ctrl-C\n",
	exec_ps,
};
