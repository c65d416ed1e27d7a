/*
 * cmd-pairing.c — `daimon pairing list | approve CODE`: the owner's side
 * of pairing (channels/access.h). Works on the files directly, so it
 * needs no daemon; a running one sees the change on the sender's next
 * message.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channels/access.h"
#include "cli/cli.h"
#include "cli/setup.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/home.h"
#include "core/jsonutil.h"

static int exec_pairing(const struct daimon_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, 0, 'h'}, {"json", no_argument, 0, 'j'}, {"owner", no_argument, 0, 'o'}, {0}};
	int json = 0, owner = 0, c;
	while ((c = getopt_long(argc, argv, "hjo", opts, NULL)) != -1) {
		if (c == 'h')
			return cli_help(cmd);
		if (c == 'j')
			json = 1;
		else if (c == 'o')
			owner = 1;
		else
			return cli_usage_error(cmd, "unknown option");
	}
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
			const char *name = daimon_json_str(p, "name"), *sender = daimon_json_str(p, "sender");
			daimon_buf who = DAIMON_BUF_INIT; /* (the sender chose the name: never printed raw) */
			daimon_buf_add_printable(&who, sender ? sender : "", sender ? strlen(sender) : 0);
			if (name && *name) {
				daimon_buf_adds(&who, " (");
				daimon_buf_add_printable(&who, name, strlen(name));
				daimon_buf_addc(&who, ')');
			}
			printf("%s  %s:%s  expires in %.0f min\n", daimon_json_str(p, "code"),
			       daimon_json_str(p, "channel"), daimon_buf_cstr(&who), left / 60);
			daimon_buf_release(&who);
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
			printf("{\"approved\":\"%s\",\"owner\":%s}\n", who, owner ? "true" : "false");
		else
			printf("approved %s: its messages now reach the assistant\n", who);
		cJSON *keys = cJSON_CreateArray();
		cJSON_AddItemToArray(keys, cJSON_CreateString(who));
		int rc = owner ? json ? owners_add(home, keys) : setup_owners(home, keys) : 0;
		cJSON_Delete(keys);
		if (rc < 0) {
			free(home);
			return cli_fail();
		}
	} else {
		free(home);
		return cli_usage_error(cmd, "unknown subcommand '%s'", sub);
	}
	free(home);
	return 0;
}

const struct daimon_cmd daimon_cmd_pairing = {
	"pairing",
	"pairing [list | approve CODE [--owner]] [--json]",
	"Let a new sender talk to the assistant through a channel.",
	"A sender not on a channel's allowlist (config.json \"channels\": {NAME:\n"
	"{\"allow\": [ids]}}) gets an 8-character code, valid for an hour (at most 3\n"
	"pending per channel); nothing it sends reaches the model until its code\n"
	"is approved here. Five wrong codes lock approving for an hour.\n\n"
	"  list            the pending codes (the default)\n"
	"  approve CODE    pair the sender that was given CODE\n"
	"      --owner     ...and it is you (`daimon owner add`): your USER.md,\n"
	"                  memory and tools there\n"
	"  -j, --json      one JSON object per line\n",
	exec_pairing,
};
