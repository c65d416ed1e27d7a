/*
 * cmd-models.c — `daimon models`: what the configured model server
 * offers, asked the way daimon will ask it (the same URL and key).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/error.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/provider.h"

static int exec_models(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int json = 0, rc = cli_options_json(cmd, argc, argv, &json);
	if (rc >= 0)
		return rc;
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	char *home = daimon_home_dir();
	daimon_model_settings ms;
	rc = daimon_model_endpoint_load(&ms, home);
	free(home);
	if (rc < 0)
		return cli_fail();
	cJSON *ids = NULL;
	rc = daimon_llm_models(&ms.llm, 10000, &ids);
	if (rc < 0) {
		daimon_model_settings_release(&ms);
		return cli_fail();
	}
	char *url = daimon_llm_url(&ms.llm, DAIMON_LLM_MODELS);
	if (json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "provider", ms.provider);
		cJSON_AddStringToObject(o, "url", url);
		if (ms.model)
			cJSON_AddStringToObject(o, "model", ms.model);
		else
			cJSON_AddNullToObject(o, "model");
		cJSON_AddItemToObject(o, "models", ids);
		ids = NULL;
		char *s = cJSON_PrintUnformatted(o);
		printf("%s\n", s);
		cJSON_free(s);
		cJSON_Delete(o);
	} else {
		const cJSON *id;
		cJSON_ArrayForEach(id, ids)
			printf("%s %s\n", ms.model && !strcmp(ms.model, id->valuestring) ? "*" : " ", id->valuestring);
		if (!cJSON_GetArraySize(ids))
			printf("%s lists no models\n", url);
		else if (!ms.model)
			printf("(no model set: the first is used; DAIMON_MODEL or model.model chooses)\n");
	}
	cJSON_Delete(ids);
	free(url);
	daimon_model_settings_release(&ms);
	return 0;
}

const struct daimon_cmd daimon_cmd_models = {
	"models",
	"models [--json]",
	"List the models the configured server offers.",
	"Asks the model server daimon is set up for (DAIMON_PROVIDER, DAIMON_BASE_URL,\n"
	"the key, or \"model\" in config.json) for its models, the way a turn would\n"
	"ask it; the one in use is marked with *.\n\n"
	"  -j, --json   one JSON object: provider, url, model (null: none set), models\n",
	exec_models,
};
