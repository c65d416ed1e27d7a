/*
 * cmd-web.c — `daimon web`: the address of the web chat, with its access
 * token, to open in a browser (the daemon serves it).
 */
#include <stdio.h>
#include <stdlib.h>

#include "channels/web.h"
#include "cli/cli.h"
#include "core/error.h"
#include "core/home.h"
#include "core/settings.h"

static int exec_web(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int json = 0, rc = cli_options_json(cmd, argc, argv, &json);
	if (rc >= 0)
		return rc;
	char *home = daimon_home_dir();
	daimon_settings *set = NULL;
	char token[65];
	int64_t port = 0;
	int on = 0;
	if (daimon_home_ensure(home) < 0 || daimon_settings_load(&set, home) < 0 || daimon_web_token(home, token) < 0 ||
	    daimon_settings_int(set, "channels.web.port", &port) < 0 ||
	    daimon_settings_bool(set, "channels.web.enabled", &on) < 0) {
		daimon_settings_free(set);
		free(home);
		return cli_fail();
	}
	free(home);
	daimon_settings_free(set);
	int off = !on;
	struct cli_conn c;
	int up = cli_daemon_open(&c);
	if (up > 0)
		cli_daemon_close(&c);
	if (json) {
		printf("{\"url\":\"http://127.0.0.1:%d/#token=%s\",\"daemon_running\":%s,\"enabled\":%s}\n", (int)port,
		       token, up > 0 ? "true" : "false", off ? "false" : "true");
		return 0;
	}
	printf("http://127.0.0.1:%d/#token=%s\n", (int)port, token);
	if (off)
		fprintf(stderr, "daimon: the web chat is off (channels.web.enabled in config.json)\n");
	else if (up <= 0)
		fprintf(stderr, "daimon: no daemon is running: start it with `daimon serve` to open this\n");
	return 0;
}

const struct daimon_cmd daimon_cmd_web = {
	"web",
	"web [--json]",
	"Print the web chat's address, with its access token.",
	"The daemon (`daimon serve`) serves the chat on 127.0.0.1, port\n"
	"channels.web.port (default 8377). The token is in $DAIMON_HOME/web-token;\n"
	"opening the link keeps it in a cookie. Anyone with the link can chat as you.\n",
	exec_web,
};
