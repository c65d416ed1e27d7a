/*
 * cmd-cancel.c — `daimon cancel`: stops the turn running in a
 * conversation, whoever asked it (another terminal, the web page, a
 * Telegram message), as Ctrl-C stops one's own.
 */
#include <stdio.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/jsonutil.h"

static int exec_cancel(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int json = 0, rc = cli_options_json(cmd, argc, argv, &json);
	if (rc >= 0)
		return rc;
	if (argc - optind > 1)
		return cli_usage_error(cmd, "one conversation at a time");
	const char *key = optind < argc ? argv[optind] : "cli:default";
	struct cli_conn c;
	int up = cli_daemon_open(&c);
	if (up < 0)
		return cli_fail();
	if (!up)
		return cli_error("no daemon is running, so no turn is either");
	cJSON *req = cJSON_CreateObject(), *reply = NULL;
	cJSON_AddStringToObject(req, "op", "cancel");
	cJSON_AddStringToObject(req, "session", key);
	rc = cli_daemon_request(&c, req, &reply);
	cJSON_Delete(req);
	cJSON_Delete(reply);
	cli_daemon_close(&c);
	if (rc < 0)
		return cli_fail();
	if (json) {
		daimon_buf b = DAIMON_BUF_INIT;
		daimon_buf_adds(&b, "{\"session\":");
		daimon_json_quote(&b, key);
		daimon_buf_adds(&b, ",\"cancelled\":true}\n");
		fwrite(b.ptr, 1, b.len, stdout);
		daimon_buf_release(&b);
	} else
		printf("cancelled the turn in %s\n", key);
	return 0;
}

const struct daimon_cmd daimon_cmd_cancel = {
	"cancel",
	"cancel [--json] [KEY]",
	"Stop the turn running in a conversation, whoever asked it.",
	"KEY is the conversation (default cli:default; `daimon ps` shows the\n"
	"running ones). The turn is logged as stopped by the user, with what had\n"
	"been said so far, and messages queued behind it are dropped; whoever\n"
	"asked is told. A killed or interrupted `ask` stops its own turn.\n",
	exec_cancel,
};
