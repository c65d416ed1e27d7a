/*
 * config.c — see config.h.
 */
#include "core/config.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/home.h"
#include "core/jsonutil.h"

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* The first of two settings that is set (an empty string is not). */
static const char *pick(const char *a, const char *b)
{
	return a && *a ? a : (b && *b ? b : NULL);
}

int daimon_model_settings_load(daimon_model_settings *out, const char *home)
{
	memset(out, 0, sizeof(*out));
	cJSON *file = NULL;
	char *path = daimon_home_path(home, "config.json");
	daimon_buf text = DAIMON_BUF_INIT;
	int rc = daimon_read_file(&text, path);
	if (rc == 0) {
		file = cJSON_Parse(text.ptr ? text.ptr : "");
		if (!cJSON_IsObject(file)) {
			cJSON_Delete(file);
			daimon_buf_release(&text);
			rc = daimon_error_code(DAIMON_EINVAL,
					       "'%s' is not valid JSON; fix it or remove it and run `daimon init`",
					       path);
			free(path);
			return rc;
		}
	}
	daimon_buf_release(&text);
	free(path);
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(file, "model");
	const char *provider = pick(env("DAIMON_PROVIDER"), daimon_json_str(m, "provider"));
	const char *key = pick(env("DAIMON_API_KEY"), NULL);
	if (!key && m && daimon_json_str(m, "api_key_env"))
		key = env(daimon_json_str(m, "api_key_env"));
	if (!provider)
		provider = !env("OPENAI_API_KEY") && env("ANTHROPIC_API_KEY") ? "anthropic" : "openai";
	if (!strcmp(provider, "openai")) {
		out->llm.provider = DAIMON_LLM_OPENAI;
		key = pick(key, env("OPENAI_API_KEY"));
		out->base_url = daimon_xstrdup(pick(
			env("DAIMON_BASE_URL"),
			pick(env("OPENAI_BASE_URL"), pick(daimon_json_str(m, "base_url"), "https://api.openai.com"))));
	} else if (!strcmp(provider, "anthropic")) {
		out->llm.provider = DAIMON_LLM_ANTHROPIC;
		key = pick(key, env("ANTHROPIC_API_KEY"));
		out->base_url = daimon_xstrdup(pick(env("DAIMON_BASE_URL"),
						    pick(daimon_json_str(m, "base_url"), "https://api.anthropic.com")));
	} else {
		cJSON_Delete(file);
		return daimon_error_code(
			DAIMON_EINVAL,
			"unknown model provider '%s' (DAIMON_PROVIDER or model.provider: openai or anthropic)",
			provider);
	}
	const char *model = pick(env("DAIMON_MODEL"), daimon_json_str(m, "model"));
	if (!model) {
		cJSON_Delete(file);
		daimon_model_settings_release(out);
		return daimon_error_code(DAIMON_EINVAL, "no model configured: set DAIMON_MODEL (and DAIMON_BASE_URL, "
							"DAIMON_API_KEY as needed) or \"model\" in config.json");
	}
	out->model = daimon_xstrdup(model);
	out->api_key = key ? daimon_xstrdup(key) : NULL;
	out->llm.base_url = out->base_url;
	out->llm.model = out->model;
	out->llm.api_key = out->api_key;
	cJSON_Delete(file);
	return 0;
}

void daimon_model_settings_release(daimon_model_settings *s)
{
	free(s->base_url);
	free(s->api_key);
	free(s->model);
	memset(s, 0, sizeof(*s));
}
