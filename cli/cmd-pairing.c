/*
 * cmd-pairing.c — `daimon pairing list | approve CODE`: the owner's side
 * of pairing (channels/access.h). Works on the files directly, so it
 * needs no daemon; a running one sees the change on the sender's next
 * message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channels/access.h"
#include "cli/cli.h"
#include "core/error.h"
#include "core/home.h"
#include "core/jsonutil.h"

static int exec_pairing(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int json = 0, rc = cli_options_json(cmd, argc, argv, &json);
	if (rc >= 0)
		return rc;
	const char *sub = optind < argc ? argv[optind] : "list";
	char *home = daimon_home_dir();
	if (!strcmp(sub, "list")) {
		cJSON *list = NULL;
		if (daimon_access_pending(home, &list) < 0) {
			free(home);
			return cli_fail();
		}
		const cJSON *p;
		if (!json && !cJSON_GetArraySize(list))
			printf("no pending pairing codes\n");
		cJSON_ArrayForEach(p, list)
		{
			if (json) {
				char *s = cJSON_PrintUnformatted(p);
				printf("%s\n", s);
				cJSON_free(s);
				continue;
			}
			double left = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "expires")) / 1000 -
				      (double)time(NULL);
			const char *name = daimon_json_str(p, "name");
			printf("%s  %s:%s%s%s%s  expires in %.0f min\n", daimon_json_str(p, "code"),
			       daimon_json_str(p, "channel"), daimon_json_str(p, "sender"), name && *name ? " (" : "",
			       name && *name ? name : "", name && *name ? ")" : "", left / 60);
		}
		cJSON_Delete(list);
	} else if (!strcmp(sub, "approve")) {
		if (optind + 1 >= argc) {
			free(home);
			return cli_usage_error(cmd, "approve needs the CODE the sender was given");
		}
		char who[160];
		if (daimon_access_approve(home, argv[optind + 1], who, sizeof(who)) < 0) {
			free(home);
			return cli_fail();
		}
		if (json)
			printf("{\"approved\":\"%s\"}\n", who);
		else
			printf("approved %s: its messages now reach the assistant\n", who);
	} else {
		free(home);
		return cli_usage_error(cmd, "unknown subcommand '%s'", sub);
	}
	free(home);
	return 0;
}

const struct daimon_cmd daimon_cmd_pairing = {
	"pairing",
	"pairing [list | approve CODE] [--json]",
	"Let a new sender talk to the assistant through a channel.",
	"A sender not on a channel's allowlist (config.json \"channels\": {NAME:\n"
	"{\"allow\": [ids]}}) gets an 8-character code, valid for an hour (at most 3\n"
	"pending per channel); nothing it sends reaches the model until its code\n"
	"is approved here. Five wrong codes lock approving for an hour.\n\n"
	"  list            the pending codes (the default)\n"
	"  approve CODE    pair the sender that was given CODE\n"
	"  -j, --json      one JSON object per line\n",
	exec_pairing,
};
