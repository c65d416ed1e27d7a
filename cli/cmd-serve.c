/*
 * cmd-serve.c — `daimon serve`: the daemon, in the foreground (systemd
 * and terminals both want that; data/daimon.service runs it).
 *
 * Start-up: signals are blocked before any thread exists (the listener
 * reads them from a signalfd), the gateway comes up, the control socket
 * and the channels start, and "ready" is said on stderr. Then this
 * thread only waits for a stop (SIGTERM, SIGINT, `daimon stop`): no new
 * clients, the channels stop, running turns get daemon.stop_timeout_s to
 * finish and are then cancelled (logged as such), the logs are closed,
 * and the socket and lock go last.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "channels/channels.h"
#include "cli/cli.h"
#include "core/error.h"
#include "core/home.h"
#include "core/timefmt.h"
#include "daemon/control.h"
#include "daemon/gateway.h"

static int exec_serve(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int64_t t0 = daimon_mono_ms();
	static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0}};
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h')
			return cli_help(cmd);
		return cli_usage_error(cmd, "unknown option");
	}
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits it */
	signal(SIGPIPE, SIG_IGN);
	char *home = daimon_home_dir();
	if (daimon_home_ensure(home) < 0) {
		free(home);
		return cli_fail();
	}
	daimon_gateway *g = NULL;
	daimon_control *ctl = NULL;
	daimon_channels *ch = NULL;
	/* The lock first: a second serve starts nothing (no MCP server, no
	 * resumed turn) before it fails. */
	int lock = daimon_control_lock(home, DAIMON_CONTROL_SERVE);
	daimon_gateway_opts go = {.resume = 1};
	int rc = lock < 0 ? -1 : daimon_gateway_new(&g, home, &go);
	free(home);
	if (rc < 0) {
		if (lock >= 0)
			close(lock);
		return cli_fail();
	}
	if (daimon_control_start(&ctl, g, lock, DAIMON_CONTROL_SERVE) < 0 ||
	    daimon_channels_start(&ch, daimon_gateway_channel_host(g)) < 0) {
		rc = cli_fail();
		daimon_control_free(ctl);
		daimon_gateway_free(g);
		return rc;
	}
	int64_t ready = daimon_mono_ms() - t0;
	daimon_gateway_ready(g, ready);
	char *sock = daimon_control_path(daimon_gateway_home(g));
	fprintf(stderr, "daimon: ready in %lld ms on %s (pid %d)\n", (long long)ready, sock, (int)getpid());
	free(sock);
	daimon_gateway_wait_stop(g);
	daimon_control_close(ctl);
	daimon_channels_stop(ch);
	daimon_gateway_drain(g);
	daimon_gateway_free(g);
	daimon_channels_free(ch);
	daimon_control_free(ctl);
	fprintf(stderr, "daimon: stopped\n");
	return 0;
}

const struct daimon_cmd daimon_cmd_serve = {
	"serve",
	"serve",
	"Run the daemon in the foreground: every channel, one session per conversation.",
	"The control socket is $DAIMON_HOME/run/daimon.sock; `daimon chat`, `ask`,\n"
	"`status`, `ps`, `stop`, `skill build` and `pairing` use it while it runs.\n"
	"SIGTERM or `daimon stop` stops it gracefully (running turns get\n"
	"daemon.stop_timeout_s, default 10, then are cancelled); SIGHUP reloads\n"
	"config.json. Channels (Telegram, the web page, mail) start from the\n"
	"\"channels\" object of config.json and the environment\n"
	"(TELEGRAM_BOT_TOKEN, DAIMON_TELEGRAM_API_URL).\n",
	exec_serve,
};
