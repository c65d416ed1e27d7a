/*
 * cmd-owner.c — `daimon owner list | add KEY... | remove KEY...`: who is
 * the owner on the channels where other people write too.
 *
 * The terminal, the web page (its token is the owner's) and imported
 * conversations are the owner's already; on Telegram and mail the owner
 * is a sender like any other until named here (config.json "owners"):
 * then they get USER.md, MEMORY.md and every tool there, as at the
 * terminal, in each of their conversations (memory/curated.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/setup.h"
#include "core/config.h"
#include "core/error.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/settings.h"

static int remove_owners(cJSON *cfg, void *arg)
{
	const cJSON *keys = arg, *k;
	cJSON *owners = daimon_json_member(cfg, "owners", 1);
	cJSON_ArrayForEach(k, keys)
	{
		int i = 0, found = 0;
		for (cJSON *o = owners->child; o; o = o->next, i++)
			if (cJSON_IsString(o) && !strcmp(o->valuestring, k->valuestring)) {
				cJSON_DeleteItemFromArray(owners, i);
				found = 1;
				break;
			}
		if (!found)
			return daimon_error_code(DAIMON_ENOTFOUND, "'%s' is not an owner (see `daimon owner list`)",
						 k->valuestring);
	}
	return 0;
}

static int list_owners(const char *home, int json)
{
	daimon_settings *set;
	if (daimon_settings_load(&set, home) < 0)
		return cli_fail();
	const cJSON *owners = daimon_settings_json(set, "owners"), *o;
	if (json) {
		char *s = cJSON_PrintUnformatted(cJSON_IsArray(owners) ? owners : NULL);
		printf("{\"owners\":%s}\n", s ? s : "[]");
		cJSON_free(s);
	} else {
		printf("the terminal, the web page and imported conversations\n");
		for (o = cJSON_IsArray(owners) ? owners->child : NULL; o; o = o->next)
			if (cJSON_IsString(o))
				printf("%s\n", o->valuestring);
	}
	daimon_settings_free(set);
	return 0;
}

static int exec_owner(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int json = 0, rc = cli_options_json(cmd, argc, argv, &json);
	if (rc >= 0)
		return rc;
	const char *sub = optind < argc ? argv[optind] : "list";
	int add = !strcmp(sub, "add");
	if (!add && strcmp(sub, "remove") && strcmp(sub, "list"))
		return cli_usage_error(cmd, "unknown subcommand '%s'", sub);
	if (strcmp(sub, "list") && optind + 1 >= argc)
		return cli_usage_error(cmd, "%s needs a KEY such as telegram:42 or mail:me@example.org", sub);
	char *home = daimon_home_dir();
	if (!strcmp(sub, "list")) {
		rc = list_owners(home, json);
		free(home);
		return rc;
	}
	cJSON *keys = cJSON_CreateArray();
	for (int i = optind + 1; i < argc; i++)
		cJSON_AddItemToArray(keys, cJSON_CreateString(argv[i]));
	rc = add ? setup_owners(home, keys) : daimon_config_edit(home, remove_owners, keys);
	if (rc == 0 && !add)
		for (int i = optind + 1; i < argc; i++)
			printf("%s is no longer an owner: a stranger there, with a file of their own\n", argv[i]);
	cJSON_Delete(keys);
	free(home);
	return rc < 0 ? cli_fail() : 0;
}

const struct daimon_cmd daimon_cmd_owner = {
	"owner",
	"owner [list | add KEY... | remove KEY...] [--json]",
	"Say which Telegram and mail senders are you.",
	"You are the owner at the terminal, on the web page and in imported\n"
	"conversations. On Telegram and mail, where others write too, name\n"
	"yourself here: those conversations then get USER.md, MEMORY.md and\n"
	"every tool, as the terminal does; anyone else gets a file of their own\n"
	"(people/) and only the tools granted in tools.others.\n\n"
	"  list            the owners (the default)\n"
	"  add KEY...      telegram:YOUR_ID or mail:you@host is you\n"
	"  remove KEY...   no longer\n"
	"  -j, --json      as JSON\n",
	exec_owner,
};
