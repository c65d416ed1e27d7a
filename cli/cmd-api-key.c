/*
 * cmd-api-key.c — `daimon api-key create NAME | list | revoke NAME`: the
 * keys of the OpenAI-compatible door on the web port (channels/apikeys.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/apikeys.h"
#include "cli/cli.h"
#include "core/home.h"
#include "core/jsonutil.h"

static int exec_api_key(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int json = 0, rc = cli_options_json(cmd, argc, argv, &json);
	if (rc >= 0)
		return rc;
	const char *sub = optind < argc ? argv[optind] : "list", *name = optind + 1 < argc ? argv[optind + 1] : NULL;
	if (strcmp(sub, "list") && strcmp(sub, "create") && strcmp(sub, "revoke"))
		return cli_usage_error(cmd, "unknown subcommand '%s'", sub);
	if (strcmp(sub, "list") && !name)
		return cli_usage_error(cmd, "%s needs the key's NAME", sub);
	char *home = daimon_home_dir();
	if (!strcmp(sub, "create")) {
		char key[DAIMON_API_KEY_LEN + 1];
		rc = daimon_api_key_create(home, name, key);
		if (rc == 0 && json)
			printf("{\"name\":\"%s\",\"key\":\"%s\"}\n", name, key);
		else if (rc == 0)
			printf("%s\n(the key '%s', shown this once: give it to the client as its OpenAI API key, with\n"
			       "the base URL http://127.0.0.1:PORT/v1 of `daimon serve`'s web port)\n",
			       key, name);
	} else if (!strcmp(sub, "revoke")) {
		rc = daimon_api_key_revoke(home, name);
		if (rc == 0)
			printf(json ? "{\"revoked\":\"%s\"}\n" : "revoked %s: it opens nothing now\n", name);
	} else {
		cJSON *list = NULL;
		rc = daimon_api_keys_list(home, &list);
		const cJSON *k;
		if (rc == 0 && !json && !cJSON_GetArraySize(list))
			printf("no API keys (daimon api-key create NAME makes one)\n");
		cJSON_ArrayForEach(k, list)
		{
			if (json) {
				char *s = cJSON_PrintUnformatted(k);
				printf("%s\n", s);
				cJSON_free(s);
				continue;
			}
			char when[32];
			cli_local_time(when,
				       (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(k, "created")));
			printf("%-20s %s  made %s\n", daimon_json_str(k, "name"), daimon_json_str(k, "hint"), when);
		}
		cJSON_Delete(list);
	}
	free(home);
	return rc < 0 ? cli_fail() : 0;
}

const struct daimon_cmd daimon_cmd_api_key = {
	"api-key",
	"api-key [list | create NAME | revoke NAME] [--json]",
	"Keys for OpenAI clients talking to daimon.",
	"While `daimon serve` runs, its web port answers OpenAI's chat API\n"
	"(POST /v1/chat/completions, streaming or not, and GET /v1/models) for\n"
	"clients that send one of these keys as their API key. Each conversation\n"
	"is daimon's, with its memory and tools: the `user` field or an\n"
	"X-Daimon-Session header picks which (api:USER; api:default without).\n\n"
	"  list            the keys, by name (the default)\n"
	"  create NAME     a new key, shown once\n"
	"  revoke NAME     it opens nothing from now on\n"
	"  -j, --json      as JSON\n",
	exec_api_key,
};
