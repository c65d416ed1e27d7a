/*
 * cmd-stop.c — `daimon stop`: asks the daemon to stop and waits until it
 * is gone (its connection closes when the process exits, and its lock is
 * let go), so a script can start another right after.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/home.h"
#include "daemon/control.h"

static int exec_stop(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int json = 0, rc = cli_options_json(cmd, argc, argv, &json);
	if (rc >= 0)
		return rc;
	struct cli_conn c;
	int up = cli_daemon_open(&c);
	if (up < 0)
		return cli_fail();
	if (!up)
		return cli_error("no daemon is running");
	cJSON *r = NULL;
	if (cli_daemon_op(&c, "stop", &r) < 0) {
		cli_daemon_close(&c);
		return cli_fail();
	}
	cJSON_Delete(r);
	while (cli_daemon_recv(&c, &r, -1) >= 0) /* until the daemon closes it */
		cJSON_Delete(r);
	cli_daemon_close(&c);
	char *home = daimon_home_dir(), *lock = daimon_control_lock_path(home);
	free(home);
	int fd = open(lock, O_RDWR | O_CLOEXEC);
	free(lock);
	for (int i = 0; fd >= 0 && i < 600; i++) { /* the lock goes with the process */
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (fd >= 0)
		close(fd);
	printf(json ? "{\"stopped\":true}\n" : "stopped\n");
	return 0;
}

const struct daimon_cmd daimon_cmd_stop = {
	"stop",
	"stop [--json]",
	"Stop the running daemon gracefully and wait until it is gone.",
	"Running turns get daemon.stop_timeout_s (default 10) to finish, then are\n"
	"cancelled and logged as such; every log is flushed.\n",
	exec_stop,
};
