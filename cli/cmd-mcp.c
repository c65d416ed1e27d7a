/*
 * cmd-mcp.c — `daimon mcp add | remove | list | call | serve`: the MCP
 * servers daimon uses (skills/mcp.h), and daimon as an MCP server itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/port.h"
#include "core/timefmt.h"
#include "core/work.h"
#include "sessions/mcp-memory.h"
#include "skills/mcp.h"

int cli_mcp_log(const char *home)
{
	static int fd = -1;
	if (fd < 0) {
		char *dir = daimon_home_path(home, "logs");
		daimon_mkdir_p(dir, 0700);
		char *path = daimon_xasprintf("%s/mcp.log", dir);
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		free(path);
		free(dir);
	}
	return fd > 0 ? fd : 0;
}

/* ---- add, remove ---- */

struct add {
	const char *name;
	cJSON *server;
};

static int add_edit(cJSON *cfg, void *arg)
{
	struct add *a = arg;
	cJSON *servers = daimon_json_member(daimon_json_member(cfg, "mcp", 0), "servers", 0);
	if (!a->server) { /* remove */
		if (!cJSON_GetObjectItemCaseSensitive(servers, a->name))
			return daimon_error_code(DAIMON_ENOTFOUND, "no MCP server '%s' (see `daimon mcp list`)",
						 a->name);
		cJSON_DeleteItemFromObjectCaseSensitive(servers, a->name);
		return 0;
	}
	if (cJSON_GetObjectItemCaseSensitive(servers, a->name))
		return daimon_error("an MCP server '%s' is already configured (`daimon mcp remove %s` first)", a->name,
				    a->name);
	cJSON_AddItemToObject(servers, a->name, a->server);
	a->server = NULL;
	return 0;
}

/* A running daemon takes the change now. */
static void tell_daemon(void)
{
	if (cli_daemon_tell("reload") == 1)
		fprintf(stderr, "daimon: the running daemon reloaded its settings\n");
}

static int mcp_add(const struct daimon_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'},
					     {"env", required_argument, 0, 'e'},
					     {"root", required_argument, 0, 'r'},
					     {"timeout", required_argument, 0, 't'},
					     {"side-effecting", no_argument, 0, 's'},
					     {"idempotent", no_argument, 0, 'i'},
					     {0}};
	const char *name = NULL;
	if (argc > 1 && argv[1][0] != '-') { /* NAME, then its options */
		name = argv[1];
		argv[1] = argv[0];
		argc--, argv++;
	}
	cJSON *server = cJSON_CreateObject(), *env = cJSON_CreateObject(), *roots = cJSON_CreateArray();
	int c, rc = -1;
	while (rc < 0 && (c = getopt_long(argc, argv, "+he:r:t:si", opts, NULL)) != -1) {
		if (c == 'h') {
			rc = cli_help(cmd);
		} else if (c == 'e') {
			const char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg) {
				rc = cli_usage_error(cmd, "--env takes KEY=VALUE, not '%s'", optarg);
			} else {
				char *k = daimon_xstrndup(optarg, (size_t)(eq - optarg));
				cJSON_DeleteItemFromObjectCaseSensitive(env, k);
				cJSON_AddStringToObject(env, k, eq + 1);
				free(k);
			}
		} else if (c == 'r') {
			char *abs = realpath(optarg, NULL);
			cJSON_AddItemToArray(roots, cJSON_CreateString(abs ? abs : optarg));
			free(abs);
		} else if (c == 't') {
			char *end;
			double s = strtod(optarg, &end);
			if (*end || s <= 0)
				rc = cli_usage_error(cmd, "--timeout takes seconds");
			else
				cJSON_AddNumberToObject(server, "timeout_s", s);
		} else if (c == 's' || c == 'i') {
			cJSON_AddTrueToObject(server, c == 's' ? "side_effecting" : "idempotent");
		} else {
			rc = cli_usage_error(cmd, "unknown option");
		}
	}
	if (rc < 0 && (!name || optind >= argc))
		rc = cli_usage_error(cmd, "mcp add needs NAME -- COMMAND [ARGS...]");
	else if (rc < 0 && !daimon_mcp_name_ok(name))
		rc = cli_usage_error(cmd, "'%s' cannot name a server: use letters, digits and '-' (at most 32)", name);
	if (rc >= 0) {
		cJSON_Delete(server), cJSON_Delete(env), cJSON_Delete(roots);
		return rc;
	}
	cJSON_AddStringToObject(server, "command", argv[optind++]);
	cJSON *args = cJSON_AddArrayToObject(server, "args");
	while (optind < argc)
		cJSON_AddItemToArray(args, cJSON_CreateString(argv[optind++]));
	cJSON_AddItemToObject(server, "env", env);
	if (cJSON_GetArraySize(roots))
		cJSON_AddItemToObject(server, "roots", roots);
	else
		cJSON_Delete(roots);
	char *home = daimon_home_dir();
	struct add a = {name, server};
	rc = daimon_config_edit(home, add_edit, &a);
	cJSON_Delete(a.server);
	free(home);
	if (rc < 0)
		return cli_fail();
	printf("added MCP server %s (`daimon mcp list` starts it and shows its tools)\n", name);
	tell_daemon();
	return 0;
}

static int mcp_remove(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int rc = cli_options_json(cmd, argc, argv, NULL);
	if (rc >= 0)
		return rc;
	if (optind >= argc)
		return cli_usage_error(cmd, "mcp remove needs the server's NAME");
	char *home = daimon_home_dir();
	struct add a = {argv[optind], NULL};
	rc = daimon_config_edit(home, add_edit, &a);
	free(home);
	if (rc < 0)
		return cli_fail();
	printf("removed MCP server %s\n", argv[optind]);
	tell_daemon();
	return 0;
}

/* ---- list ---- */

static int mcp_list(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int json = 0, rc = cli_options_json(cmd, argc, argv, &json);
	if (rc >= 0)
		return rc;
	char *home = daimon_home_dir();
	daimon_rt *rt;
	if (daimon_rt_new(&rt, NULL) < 0) {
		free(home);
		return cli_fail();
	}
	daimon_mcp *m = daimon_mcp_start(rt, home, optind < argc ? argv[optind] : NULL, cli_mcp_log(home));
	rc = m ? 0 : cli_fail();
	cJSON *list = NULL;
	if (m) {
		daimon_mcp_wait(m, 20000);
		list = daimon_mcp_snapshot(m);
		daimon_mcp_stop(m);
	}
	daimon_rt_free(rt);
	free(home);
	if (rc == 0 && !json && !cJSON_GetArraySize(list))
		printf("no MCP servers (add one: daimon mcp add NAME -- COMMAND [ARGS...])\n");
	for (const cJSON *s = list ? list->child : NULL; s; s = s->next) {
		if (json) {
			char *line = cJSON_PrintUnformatted(s);
			printf("%s\n", line);
			cJSON_free(line);
			continue;
		}
		const cJSON *tools = cJSON_GetObjectItemCaseSensitive(s, "tools");
		printf("%s  %s  %d tools", daimon_json_str(s, "name"), daimon_json_str(s, "state"),
		       cJSON_GetArraySize(tools));
		if (daimon_json_str(s, "error"))
			printf("  (%s)", daimon_json_str(s, "error"));
		printf("\n");
		for (const cJSON *t = tools->child; t; t = t->next) {
			const char *d = daimon_json_str(t, "description");
			printf("  %s.%s%s  %.*s\n", daimon_json_str(s, "name"), daimon_json_str(t, "name"),
			       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "side_effecting")) ? " [side effects]"
												   : "",
			       (int)strcspn(d, "\n"), d);
		}
	}
	cJSON_Delete(list);
	return rc;
}

/* ---- call ---- */

struct caller {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	daimon_aid port;
	const char *params;
	long timeout_ms;
	int done, status;
	char *text;
};

static int caller_init(daimon_ctx *ctx, void *state)
{
	struct caller *c = state;
	daimon_port_call_send(ctx, c->port, 1, "tools/call", c->params, c->timeout_ms);
	return DAIMON_CONTINUE;
}

static int caller_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	(void)ctx;
	struct caller *c = state;
	if (m->len < sizeof(daimon_job_done))
		return DAIMON_CONTINUE;
	const daimon_job_done *d = m->data;
	if (m->type == DAIMON_PORT_PROGRESS) {
		cJSON *p = cJSON_ParseWithLength(d->text, d->len);
		double done = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "progress"));
		double total = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "total"));
		const char *msg = daimon_json_str(p, "message");
		if (total > 0)
			fprintf(stderr, "progress: %g/%g%s%s\n", done, total, msg ? " " : "", msg ? msg : "");
		else
			fprintf(stderr, "progress: %g%s%s\n", done, msg ? " " : "", msg ? msg : "");
		cJSON_Delete(p);
		return DAIMON_CONTINUE;
	}
	if (m->type != DAIMON_MSG_JOB_DONE)
		return DAIMON_CONTINUE;
	pthread_mutex_lock(&c->mu);
	c->done = 1;
	c->status = d->status;
	c->text = daimon_xstrndup(d->text, d->len);
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return DAIMON_STOP(DAIMON_EXIT_NORMAL);
}

static const daimon_behaviour caller_behaviour = {.name = "mcp-call", .init = caller_init, .handle = caller_handle};

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int mcp_call(const struct daimon_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'},
					     {"json", no_argument, 0, 'j'},
					     {"timeout", required_argument, 0, 't'},
					     {0}};
	int c, json = 0;
	long timeout_ms = 0;
	while ((c = getopt_long(argc, argv, "hjt:", opts, NULL)) != -1) {
		if (c == 'h')
			return cli_help(cmd);
		if (c == 'j')
			json = 1;
		else if (c == 't' && atof(optarg) > 0)
			timeout_ms = (long)(atof(optarg) * 1000);
		else
			return cli_usage_error(cmd, c == 't' ? "--timeout takes seconds" : "unknown option");
	}
	if (optind + 1 >= argc)
		return cli_usage_error(cmd, "mcp call needs SERVER TOOL [JSON]");
	const char *server = argv[optind], *tool = argv[optind + 1];
	cJSON *args = cJSON_Parse(optind + 2 < argc ? argv[optind + 2] : "{}");
	if (!cJSON_IsObject(args)) {
		cJSON_Delete(args);
		return cli_usage_error(cmd, "the tool's arguments must be a JSON object");
	}
	char *home = daimon_home_dir();
	daimon_rt *rt = NULL;
	daimon_mcp *m = NULL;
	int rc = daimon_rt_new(&rt, NULL);
	if (rc == 0 && !(m = daimon_mcp_start(rt, home, server, cli_mcp_log(home))))
		rc = -1;
	/* the server as the MCP host read its settings: there, and its deadline */
	cJSON *snap = m ? daimon_mcp_snapshot(m) : NULL;
	const cJSON *conf = cJSON_GetArrayItem(snap, 0);
	if (rc == 0 && !conf)
		rc = daimon_error_code(DAIMON_ENOTFOUND, "no MCP server '%s' (see `daimon mcp list`)", server);
	if (rc == 0 && !timeout_ms)
		timeout_ms = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(conf, "timeout_ms"));
	cJSON_Delete(snap);
	if (rc < 0) {
		rc = cli_fail();
		daimon_mcp_stop(m);
		daimon_rt_free(rt);
		cJSON_Delete(args);
		free(home);
		return rc;
	}
	struct caller k = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .timeout_ms = timeout_ms};
	char *params = daimon_mcp_call_params(tool, args, NULL);
	k.params = params;
	daimon_mcp_wait(m, timeout_ms); /* started and listed (or failed) */
	k.port = daimon_mcp_port(rt, server);
	snap = daimon_mcp_snapshot(m);
	const char *why = daimon_json_str(cJSON_GetArrayItem(snap, 0), "error");
	char *failed = why ? daimon_xstrdup(why) : NULL;
	cJSON_Delete(snap);
	struct sigaction sa = {0}, old;
	sa.sa_handler = on_sigint;
	sigaction(SIGINT, &sa, &old);
	daimon_spawn_opts so = {.behaviour = &caller_behaviour, .state = &k};
	if (k.port && daimon_spawn(rt, &so)) {
		int told = 0;
		pthread_mutex_lock(&k.mu);
		while (!k.done) {
			struct timespec ts;
			daimon_realtime_after(&ts, 100);
			pthread_cond_timedwait(&k.cv, &k.mu, &ts);
			if (interrupted && !told) { /* the server is told (notifications/cancelled) */
				uint64_t ref = 1;
				daimon_send(rt, k.port, DAIMON_PORT_CANCEL, &ref, sizeof(ref));
				told = 1;
			}
		}
		pthread_mutex_unlock(&k.mu);
	} else {
		k.status = -2;
		k.text = daimon_xstrdup(failed ? failed : "the server could not be started");
	}
	free(failed);
	sigaction(SIGINT, &old, NULL);
	daimon_mcp_stop(m);
	daimon_rt_free(rt);
	cJSON_free(params);
	cJSON_Delete(args);
	free(home);
	rc = 0;
	if (k.status == DAIMON_ECANCELLED) {
		rc = cli_error("cancelled");
		rc = 130;
	} else if (k.status < 0) {
		rc = cli_error("%s.%s failed: %s", server, tool, k.text);
	} else if (json) {
		printf("%s\n", k.text);
		cJSON *r = cJSON_Parse(k.text);
		rc = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "isError")) ? 1 : 0;
		cJSON_Delete(r);
	} else {
		daimon_buf out = DAIMON_BUF_INIT;
		int is_error = daimon_mcp_result_text(k.text, &out);
		fprintf(is_error ? stderr : stdout, "%s\n", daimon_buf_cstr(&out));
		daimon_buf_release(&out);
		rc = is_error ? 1 : 0;
	}
	free(k.text);
	return rc;
}

/* ---- serve ---- */

static int mcp_serve(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int rc = cli_options_json(cmd, argc, argv, NULL);
	if (rc >= 0)
		return rc;
	daimon_store st;
	if (cli_open(&st, NULL, 0) < 0)
		return cli_fail();
	signal(SIGPIPE, SIG_IGN);
	rc = daimon_mcp_serve_memory(&st, STDIN_FILENO, STDOUT_FILENO);
	daimon_store_release(&st);
	return rc < 0 ? cli_fail() : 0;
}

static int exec_mcp(const struct daimon_cmd *cmd, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return argc < 2 ? cli_usage_error(cmd, "mcp needs a subcommand") : cli_help(cmd);
	static const struct {
		const char *name;
		int (*fn)(const struct daimon_cmd *, int, char **);
	} subs[] = {
		{"add", mcp_add}, {"remove", mcp_remove}, {"list", mcp_list}, {"call", mcp_call}, {"serve", mcp_serve}};
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(argv[1], subs[i].name)) {
			optind = 1;
			return subs[i].fn(cmd, argc - 1, argv + 1);
		}
	return cli_usage_error(cmd, "unknown subcommand '%s'", argv[1]);
}

const struct daimon_cmd daimon_cmd_mcp = {
	.name = "mcp",
	.usage = "mcp add NAME [--env K=V]... [--root DIR]... [--timeout S] [--side-effecting] [--idempotent] -- "
		 "COMMAND [ARGS...]\n"
		 "       daimon mcp remove NAME\n"
		 "       daimon mcp list [NAME] [--json]\n"
		 "       daimon mcp call SERVER TOOL [JSON] [--timeout S] [--json]\n"
		 "       daimon mcp serve",
	.summary = "MCP servers as tools (supervised child processes over stdio), and daimon as an MCP server",
	.help = "  add       configure a server: started by COMMAND with ARGS, its tools offered to the model\n"
		"            as NAME.TOOL; --env sets its environment, --root a folder it may see (roots/list),\n"
		"            --timeout a call's deadline (default 60 s); --side-effecting / --idempotent mark\n"
		"            its tools for durable turns when its own annotations do not say\n"
		"  remove    forget a server\n"
		"  list      start the servers and show their state and tools (--json: one object per server)\n"
		"  call      call one tool with JSON arguments and print its text (exit 1 when the result is an\n"
		"            error; Ctrl-C cancels the call; progress on stderr; --json: the whole result)\n"
		"  serve     speak MCP on stdin/stdout: session_search, session_read, memory_read and memory,\n"
		"            so another assistant can use daimon's memory\n"
		"\nServers live in config.json under mcp.servers; their stderr goes to $DAIMON_HOME/logs/mcp.log\n"
		"(the daemon's own log when the daemon runs them). A running daemon reloads after add/remove.\n",
	.exec = exec_mcp,
};
