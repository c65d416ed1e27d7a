/*
 * cmd-debug.c — `daimon debug runtime`: starts the actor runtime with a
 * small supervised tree doing some work, and prints the introspection
 * snapshot `daimon ps` will show of the daemon (issue: the daemon comes
 * later). Useful to see what the runtime reports, and cheap: the
 * snapshot is taken as often as asked.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/actor.h"
#include "core/buf.h"
#include "core/jsonutil.h"
#include "core/supervisor.h"
#include "core/timefmt.h"

struct demo {
	int busy;
};

static int demo_init(daimon_ctx *ctx, void *state)
{
	struct demo *d = state;
	daimon_set_state_label(ctx, d->busy ? "working" : "waiting");
	if (d->busy)
		daimon_set_op(ctx, "pretending to call a model");
	daimon_set_mem(ctx, sizeof(*d));
	daimon_timer_start(ctx, 50, 50);
	return DAIMON_CONTINUE;
}

static int demo_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	(void)ctx, (void)state, (void)m;
	return DAIMON_CONTINUE;
}

static void demo_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)ctx, (void)reason;
	free(state);
}

static void *demo_state(void *arg)
{
	struct demo *d = daimon_xmalloc(sizeof(*d));
	d->busy = (int)(intptr_t)arg;
	return d;
}

static const daimon_behaviour demo_b = {
	.name = "demo", .init = demo_init, .handle = demo_handle, .terminate = demo_terminate};

static void print_table(const daimon_actor_info *v, size_t n)
{
	printf("%-18s %-18s %-12s %-11s %5s %8s %7s %4s %-30s\n", "ID", "NAME", "BEHAVIOUR", "STATE", "MBOX", "HANDLED",
	       "MEM", "KIDS", "OPERATION");
	for (size_t i = 0; i < n; i++) {
		char op[64] = "";
		if (v[i].op[0])
			snprintf(op, sizeof(op), "%s (%lld ms)", v[i].op, (long long)v[i].op_age_ms);
		printf("%-18llx %-18s %-12s %-11s %5zu %8llu %7zu %4zu %-30s\n", (unsigned long long)v[i].id,
		       v[i].name[0] ? v[i].name : "-", v[i].behaviour, v[i].state, v[i].mailbox,
		       (unsigned long long)v[i].handled, v[i].mem, v[i].children, op);
	}
}

static void print_json(const daimon_actor_info *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		daimon_buf b = DAIMON_BUF_INIT;
		daimon_buf_addf(&b, "{\"id\":\"%llx\",\"parent\":\"%llx\",\"name\":", (unsigned long long)v[i].id,
				(unsigned long long)v[i].parent);
		daimon_json_quote(&b, v[i].name);
		daimon_buf_adds(&b, ",\"behaviour\":");
		daimon_json_quote(&b, v[i].behaviour);
		daimon_buf_adds(&b, ",\"state\":");
		daimon_json_quote(&b, v[i].state);
		daimon_buf_adds(&b, ",\"op\":");
		daimon_json_quote(&b, v[i].op);
		daimon_buf_addf(&b,
				",\"op_age_ms\":%lld,\"mailbox\":%zu,\"handled\":%llu,\"mem\":%zu,\"children\":%zu}\n",
				(long long)v[i].op_age_ms, v[i].mailbox, (unsigned long long)v[i].handled, v[i].mem,
				v[i].children);
		fwrite(b.ptr, 1, b.len, stdout);
		daimon_buf_release(&b);
	}
}

static int exec_debug(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int json = 0, rc = cli_options_json(cmd, argc, argv, &json);
	if (rc >= 0)
		return rc;
	if (optind >= argc || strcmp(argv[optind], "runtime"))
		return cli_usage_error(cmd, "what should I debug? (runtime)");
	daimon_rt *rt;
	if (daimon_rt_new(&rt, NULL) < 0)
		return cli_fail();
	daimon_child_spec kids[3] = {
		{"session:cli:default", &demo_b, demo_state, (void *)1, DAIMON_PERMANENT},
		{"channel:telegram", &demo_b, demo_state, (void *)0, DAIMON_PERMANENT},
		{"channel:web", &demo_b, demo_state, (void *)0, DAIMON_TRANSIENT},
	};
	daimon_sup_spec spec = {DAIMON_ONE_FOR_ONE, 5, 10000, kids, 3};
	daimon_aid sup = daimon_supervisor_start(rt, &spec, 0);
	daimon_register(rt, "supervisor:root", sup);
	usleep(300000); /* let the timers tick a few times */
	daimon_actor_info *v;
	size_t n = daimon_rt_snapshot(rt, &v);
	json ? print_json(v, n) : print_table(v, n);
	free(v);
	daimon_rt_free(rt);
	return 0;
}

const struct daimon_cmd daimon_cmd_debug = {
	"debug",
	"debug runtime [--json]",
	"Show what the actor runtime reports about its actors (a demo tree).",
	"  runtime      start the runtime with a supervisor and three workers, let\n"
	"               them run for 300 ms, and print the introspection snapshot:\n"
	"               id, name, behaviour, state, mailbox length, messages\n"
	"               handled, memory, children, current operation and its age\n"
	"  -j, --json   one JSON object per actor\n",
	exec_debug,
};
