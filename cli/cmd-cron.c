/*
 * cmd-cron.c — `daimon cron`: the scheduled jobs (reminders, recurring
 * prompts) the model or the owner made.
 *
 * Every action is a request to the daemon's scheduler (daemon/schedule.h)
 * over the control socket; with no daemon running, the command's own
 * daemon takes it (the job then runs once `daimon serve` does).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/cron.h"
#include "core/error.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"
#include "memory/store.h"

static const char *const actions[] = {"list",   "add",    "show",    "pause",   "resume",
				      "remove", "cancel", "run-now", "history", NULL};

/* Sends {"op":"cron","request":req} (taken) and returns the reply. */
static int ask_scheduler(cJSON *req, cJSON **reply)
{
	daimon_store st;
	if (cli_open(&st, NULL, 0) < 0) {
		cJSON_Delete(req);
		return -1;
	}
	struct cli_conn conn;
	daimon_local *local;
	int rc = cli_daemon_connect(&conn, &local, st.home);
	if (rc >= 0) {
		cJSON *op = cJSON_CreateObject();
		cJSON_AddStringToObject(op, "op", "cron");
		cJSON_AddItemToObject(op, "request", req);
		req = NULL;
		rc = cli_daemon_request(&conn, op, reply);
		cJSON_Delete(op);
		cli_daemon_disconnect(&conn, local);
	}
	cJSON_Delete(req);
	daimon_store_release(&st);
	return rc;
}

static void print_job(const cJSON *j, int wide)
{
	const char *next = daimon_json_str(j, "next"), *to = daimon_json_str(j, "to");
	const char *name = daimon_json_str(j, "name"), *text = daimon_json_str(j, "text");
	char shown[64];
	snprintf(shown, sizeof(shown), "%.60s%s",
		 name && *name ? name
		 : text        ? text
			       : "",
		 strlen(name && *name ? name
			: text        ? text
				      : "") > 60
			 ? "…"
			 : "");
	printf("%-8s  %-23.23s  %-10s  %-8s  %s\n", daimon_json_str(j, "id"), next ? next : "-",
	       daimon_json_str(j, "state"), daimon_json_str(j, "kind"), shown);
	if (!wide)
		return;
	int64_t runs = 0, delivered = 0, attempts = 0;
	daimon_json_int(j, "runs", &runs);
	daimon_json_int(j, "delivered", &delivered);
	printf("  when:      %s\n  text:      %s\n  made in:   %s\n  to:        %s\n  runs:      %lld, delivered "
	       "%lld\n",
	       daimon_json_str(j, "when"), text, daimon_json_str(j, "key"), to && *to ? to : "(its conversation)",
	       (long long)runs, (long long)delivered);
	if (daimon_json_int(j, "delivery_attempts", &attempts) == 0)
		printf("  delivery:  pending, %lld attempts so far\n", (long long)attempts);
	if (daimon_json_str(j, "last_error"))
		printf("  last error: %s\n", daimon_json_str(j, "last_error"));
}

static void print_history(const cJSON *list)
{
	const cJSON *r;
	cJSON_ArrayForEach(r, list)
	{
		int64_t slot = 0;
		char when[64] = "";
		if (daimon_json_int(r, "slot", &slot) == 0)
			daimon_time_local(when, sizeof(when), slot);
		const char *error = daimon_json_str(r, "error");
		printf("%s  %-8s  %-8s %-9s for %s%s%s\n", daimon_json_str(r, "ts"), daimon_json_str(r, "id"),
		       daimon_json_str(r, "type"), daimon_json_str(r, "state"), when, error ? ": " : "",
		       error ? error : "");
	}
}

/* The options of add (and of update-like flags) into `req`. */
static int add_options(const struct daimon_cmd *cmd, int argc, char **argv, cJSON *req, int *json)
{
	static const struct option opts[] = {
		{"help", no_argument, 0, 'h'},        {"json", no_argument, 0, 'j'},
		{"at", required_argument, 0, 'a'},    {"in", required_argument, 0, 'i'},
		{"every", required_argument, 0, 'e'}, {"cron", required_argument, 0, 'c'},
		{"to", required_argument, 0, 't'},    {"name", required_argument, 0, 'n'},
		{"prompt", no_argument, 0, 'p'},      {"session", required_argument, 0, 's'},
		{"urgent", no_argument, 0, 'u'},      {0}};
	int c;
	while ((c = getopt_long(argc, argv, "hja:i:e:c:t:n:ps:u", opts, NULL)) != -1) {
		const char *member = NULL;
		switch (c) {
		case 'h':
			return cli_help(cmd);
		case 'j':
			*json = 1;
			break;
		case 'a':
			member = "at";
			break;
		case 'i':
			member = "in";
			break;
		case 'e':
			member = "every";
			break;
		case 'c':
			member = "cron";
			break;
		case 't':
			member = "to";
			break;
		case 'n':
			member = "name";
			break;
		case 's':
			member = "key";
			break;
		case 'p':
			cJSON_AddStringToObject(req, "kind", "prompt");
			break;
		case 'u':
			cJSON_AddBoolToObject(req, "urgent", 1);
			break;
		default:
			return cli_usage_error(cmd, "unknown option");
		}
		if (member)
			cJSON_AddStringToObject(req, member, optarg);
	}
	return -1;
}

static int exec_cron(const struct daimon_cmd *cmd, int argc, char **argv)
{
	const char *action = argc > 1 && argv[1][0] != '-' ? argv[1] : "list";
	int shift = argc > 1 && argv[1][0] != '-';
	size_t i = 0;
	while (actions[i] && strcmp(actions[i], action))
		i++;
	if (!actions[i])
		return cli_usage_error(cmd, "no action '%s'", action);
	cJSON *req = cJSON_CreateObject();
	int json = 0, rc;
	argc -= shift, argv += shift;
	rc = add_options(cmd, argc, argv, req, &json);
	if (rc >= 0) {
		cJSON_Delete(req);
		return rc;
	}
	int add = !strcmp(action, "add");
	cJSON_AddStringToObject(req, "action", add ? "create" : !strcmp(action, "remove") ? "cancel" : action);
	if (add) {
		daimon_buf text = DAIMON_BUF_INIT;
		for (int k = optind; k < argc; k++)
			daimon_buf_addf(&text, "%s%s", k > optind ? " " : "", argv[k]);
		if (!text.len) {
			cJSON_Delete(req);
			return cli_usage_error(cmd, "add needs the text: the message, or with --prompt what to do");
		}
		cJSON_AddStringToObject(req, "text", daimon_buf_cstr(&text));
		daimon_buf_release(&text);
		if (!cJSON_GetObjectItemCaseSensitive(req, "key"))
			cJSON_AddStringToObject(req, "key", "cli:default");
	} else if (strcmp(action, "list") && !(optind < argc) && strcmp(action, "history")) {
		cJSON_Delete(req);
		return cli_usage_error(cmd, "%s needs a job's id (daimon cron list shows them)", action);
	} else if (optind < argc) {
		cJSON_AddStringToObject(req, "id", argv[optind]);
	}
	cJSON *reply = NULL;
	if (ask_scheduler(req, &reply) < 0)
		return cli_fail();
	const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(reply, "jobs"),
		    *job = cJSON_GetObjectItemCaseSensitive(reply, "job"),
		    *hist = cJSON_GetObjectItemCaseSensitive(reply, "history"), *j;
	if (json) {
		const cJSON *list = jobs ? jobs : hist;
		if (list) {
			cJSON_ArrayForEach(j, list)
			{
				char *s = cJSON_PrintUnformatted(j);
				printf("%s\n", s);
				cJSON_free(s);
			}
		} else if (job) {
			char *s = cJSON_PrintUnformatted(job);
			printf("%s\n", s);
			cJSON_free(s);
		}
	} else if (jobs) {
		if (!cJSON_GetArraySize(jobs))
			printf("no jobs (the model makes them when asked to remind; or daimon cron add)\n");
		else
			printf("%-8s  %-23s  %-10s  %-8s  %s\n", "ID", "NEXT", "STATE", "KIND", "WHAT");
		cJSON_ArrayForEach(j, jobs) print_job(j, 0);
	} else if (hist) {
		print_history(hist);
	} else if (job) {
		static const char *const done[][2] = {{"add", "scheduled"},  {"pause", "paused"},
						      {"resume", "resumed"}, {"remove", "removed"},
						      {"cancel", "removed"}, {"run-now", "ran"}};
		const char *verb = NULL;
		for (size_t k = 0; k < sizeof(done) / sizeof(done[0]); k++)
			if (!strcmp(action, done[k][0]))
				verb = done[k][1];
		if (verb)
			printf("%s %s: %s\n", verb, daimon_json_str(job, "id"), daimon_json_str(job, "when"));
		else
			print_job(job, 1);
	}
	cJSON_Delete(reply);
	return 0;
}

const struct daimon_cmd daimon_cmd_cron = {
	"cron",
	"cron [list|add|show|pause|resume|remove|run-now|history] [OPTIONS] [ID|TEXT...]",
	"Scheduled jobs: reminders and recurring prompts.",
	"  list [--json]          the jobs waiting, running or delivering\n"
	"  add [OPTIONS] TEXT     a job: TEXT is delivered as it is, or with --prompt\n"
	"                         run as a turn whose answer is delivered\n"
	"      --at TIME          once, at an ISO 8601 time (2026-12-05T09:00; local\n"
	"                         unless it has Z or an offset)\n"
	"      --in DURATION      once, after 90s, 5m, 1h30m, 2d...\n"
	"      --every DURATION   again and again (first run --at/--in, or one interval\n"
	"                         from now)\n"
	"      --cron EXPR        by a 5-field cron expression (\"30 9 * * mon-fri\")\n"
	"      --to KEY           where it is delivered (telegram:CHAT); default its\n"
	"                         conversation's channel, else schedule.deliver_to\n"
	"      --session KEY      the conversation it belongs to (cli:default)\n"
	"      --name NAME, --urgent\n"
	"  show ID, pause ID, resume ID, remove ID\n"
	"  run-now ID             run it now (the daemon must be running)\n"
	"  history [ID]           runs and deliveries, with their errors\n\n"
	"Times are in time.zone (else the system's). A run and its delivery are\n"
	"recorded apart in $DAIMON_HOME/schedule.jsonl: a message that could not\n"
	"be delivered is retried and shown \"delivering\" until it is.\n",
	exec_cron,
};
