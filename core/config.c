/*
 * config.c — see config.h.
 */
#include "core/config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/home.h"
#include "core/http.h"
#include "core/jsonutil.h"
#include "core/settings.h"

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

/* Asks a local server for its models (300 ms at most); the first model's
 * name, or NULL. `list` is the JSON array holding them, `field` the name. */
static char *probe(const char *url, const char *list, const char *field)
{
	daimon_buf body = DAIMON_BUF_INIT;
	long status = 0;
	if (daimon_http_fetch(NULL, url, NULL, NULL, 0, 300, &status, &body) < 0)
		status = 0; /* (nothing answers there: the usual case) */
	char *model = NULL;
	cJSON *j = status == 200 ? cJSON_Parse(daimon_buf_cstr(&body)) : NULL;
	const char *name = daimon_json_str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, list), 0), field);
	if (name && *name)
		model = daimon_xstrdup(name);
	cJSON_Delete(j);
	daimon_buf_release(&body);
	return model;
}

/* Nothing configured at all: a local Ollama or llama.cpp server, on its
 * default port, speaks the OpenAI API. */
static int find_local(daimon_model_settings *out)
{
	static const struct {
		const char *base, *models, *list, *field;
	} servers[] = {
		{"http://127.0.0.1:11434", "http://127.0.0.1:11434/api/tags", "models", "name"}, /* Ollama */
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/v1/models", "data", "id"},      /* llama.cpp */
	};
	for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
		char *model = probe(servers[i].models, servers[i].list, servers[i].field);
		if (model) {
			out->llm.provider = DAIMON_LLM_OPENAI;
			out->base_url = daimon_xstrdup(servers[i].base);
			out->model = model;
			out->llm.base_url = out->base_url;
			out->llm.model = out->model;
			return 0;
		}
	}
	return -1;
}

int daimon_config_load(cJSON **out, const char *home)
{
	*out = NULL;
	char *path = daimon_home_path(home, "config.json");
	daimon_buf text = DAIMON_BUF_INIT;
	int rc = daimon_read_file(&text, path);
	if (rc == 0) {
		rc = daimon_settings_parse_object(out, path, daimon_buf_cstr(&text), text.len);
	} else if (rc == DAIMON_ENOTFOUND) {
		rc = 0;
	}
	daimon_buf_release(&text);
	free(path);
	return rc;
}

int daimon_config_edit(const char *home, int (*edit)(cJSON *cfg, void *arg), void *arg)
{
	char *lockpath = daimon_home_path(home, "config.json.lock");
	int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lockpath);
	if (lock < 0 || flock(lock, LOCK_EX) < 0) {
		if (lock >= 0)
			close(lock);
		return daimon_error_errno("cannot lock config.json");
	}
	cJSON *cfg = NULL;
	int rc = daimon_config_load(&cfg, home);
	if (rc == 0 && !cfg)
		cfg = cJSON_CreateObject();
	if (rc == 0)
		rc = edit(cfg, arg);
	if (rc == 0) {
		char *text = cJSON_Print(cfg), *path = daimon_home_path(home, "config.json");
		size_t len = strlen(text);
		text = daimon_xrealloc(text, len + 2);
		text[len] = '\n', text[len + 1] = 0;
		rc = daimon_write_file_atomic(path, text, len + 1, 0600);
		free(path);
		free(text);
	}
	cJSON_Delete(cfg);
	close(lock);
	return rc;
}

int daimon_model_settings_load(daimon_model_settings *out, const char *home)
{
	memset(out, 0, sizeof(*out));
	daimon_settings *file;
	int rc = daimon_settings_load(&file, home);
	if (rc < 0)
		return rc;
	const char *set_provider, *set_base, *set_model, *key_env;
	if ((rc = daimon_settings_string(file, "model.provider", &set_provider)) < 0 ||
	    (rc = daimon_settings_string(file, "model.base_url", &set_base)) < 0 ||
	    (rc = daimon_settings_string(file, "model.model", &set_model)) < 0 ||
	    (rc = daimon_settings_string(file, "model.api_key_env", &key_env)) < 0) {
		daimon_settings_free(file);
		return rc;
	}
	const char *provider = pick(env("DAIMON_PROVIDER"), set_provider);
	const char *key = pick(env("DAIMON_API_KEY"), NULL);
	if (!key && key_env && *key_env)
		key = env(key_env);
	if (!provider)
		provider = !env("OPENAI_API_KEY") && env("ANTHROPIC_API_KEY") ? "anthropic" : "openai";
	if (!strcmp(provider, "openai")) {
		out->llm.provider = DAIMON_LLM_OPENAI;
		key = pick(key, env("OPENAI_API_KEY"));
		out->base_url =
			daimon_xstrdup(pick(env("DAIMON_BASE_URL"),
					    pick(env("OPENAI_BASE_URL"), pick(set_base, "https://api.openai.com"))));
	} else if (!strcmp(provider, "anthropic")) {
		out->llm.provider = DAIMON_LLM_ANTHROPIC;
		key = pick(key, env("ANTHROPIC_API_KEY"));
		out->base_url =
			daimon_xstrdup(pick(env("DAIMON_BASE_URL"), pick(set_base, "https://api.anthropic.com")));
	} else {
		daimon_settings_free(file);
		return daimon_error_code(
			DAIMON_EINVAL,
			"unknown model provider '%s' (DAIMON_PROVIDER or model.provider: openai or anthropic)",
			provider);
	}
	const char *model = pick(env("DAIMON_MODEL"), set_model);
	int nothing_set = !model && !key && !env("DAIMON_BASE_URL") && !env("OPENAI_BASE_URL") && !pick(set_base, NULL);
	if (!model) {
		daimon_settings_free(file);
		daimon_model_settings_release(out);
		if (nothing_set && find_local(out) == 0)
			return 0;
		return daimon_error_code(DAIMON_EINVAL,
					 "no model configured (and no local Ollama or llama.cpp server "
					 "answering): set DAIMON_MODEL (and DAIMON_BASE_URL, DAIMON_API_KEY "
					 "as needed) or \"model\" in config.json");
	}
	out->model = daimon_xstrdup(model);
	out->api_key = key ? daimon_xstrdup(key) : NULL;
	out->llm.base_url = out->base_url;
	out->llm.model = out->model;
	out->llm.api_key = out->api_key;
	daimon_settings_free(file);
	return 0;
}

void daimon_model_settings_release(daimon_model_settings *s)
{
	free(s->base_url);
	free(s->api_key);
	free(s->model);
	memset(s, 0, sizeof(*s));
}
