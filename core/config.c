/*
 * config.c — see config.h.
 */
#include "core/config.h"

#include <fcntl.h>
#include <stdio.h>
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
#include "core/provider.h"
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

/* The key of a provider (caller frees): DAIMON_API_KEY, then the
 * variable model.api_key_env names, then the provider's own
 * (OPENAI_API_KEY...) — in the environment, then in the credentials file
 * as it is now (a reload sees what `setup` wrote). */
static char *find_key(const char *home, const char *key_env, const daimon_provider *p, const char **from, int primary)
{
	/* (DAIMON_API_KEY is the primary model's: a fallback has its provider's own) */
	const char *names[] = {primary ? "DAIMON_API_KEY" : NULL, key_env && *key_env ? key_env : NULL, p->key_env};
	for (int in_file = 0; in_file < 2; in_file++)
		for (size_t i = 0; i < 3; i++) {
			if (!names[i])
				continue;
			char *key = in_file         ? daimon_credentials_get(home, names[i])
				    : env(names[i]) ? daimon_xstrdup(env(names[i]))
						    : NULL;
			if (key && *key) {
				*from = in_file  ? (i == 0   ? "DAIMON_API_KEY in credentials"
						    : i == 1 ? "model.api_key_env in credentials"
							     : "the provider's key in credentials")
					: i == 1 ? "model.api_key_env"
						 : names[i];
				return key;
			}
			free(key);
		}
	return NULL;
}

/* model.fallbacks: "provider/model" each, a named provider at its own
 * base URL with its own key, chained after the primary; and
 * model.summary_model, the same way, as the summarizer. */
static int load_fallbacks(daimon_model_settings *out, const char *home, const cJSON *list, const char *summary)
{
	int n = cJSON_GetArraySize(list) + (summary && *summary);
	if (n <= 0)
		return 0;
	out->fallbacks = daimon_xcalloc((size_t)n, sizeof(*out->fallbacks));
	const daimon_llm_config **link = &out->llm.fallback;
	cJSON *all = list ? cJSON_Duplicate(list, 1) : cJSON_CreateArray();
	if (summary && *summary)
		cJSON_AddItemToArray(all, cJSON_CreateString(summary));
	int i = 0, rc = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, all)
	{
		const char *setting = i++ < n - (summary && *summary) ? "model.fallbacks" : "model.summary_model";
		const char *v = cJSON_GetStringValue(e), *slash = v ? strchr(v, '/') : NULL;
		char name[64];
		snprintf(name, sizeof(name), "%.*s", slash ? (int)(slash - v) : 0, v ? v : "");
		const daimon_provider *p = daimon_provider_named(name);
		if (!p || !slash[1]) {
			rc = daimon_error_code(DAIMON_EINVAL,
					       "%s: '%s' is not \"provider/model\" with a provider of: %s", setting,
					       v ? v : "?", daimon_provider_names());
			break;
		}
		struct daimon_model_fallback *f = &out->fallbacks[out->nfallbacks++];
		const char *from;
		f->model = daimon_xstrdup(slash + 1);
		f->key = find_key(home, NULL, p, &from, 0);
		f->llm = out->llm; /* (the bounds are the primary's) */
		f->llm.provider = p->wire;
		f->llm.provider_name = p->name;
		f->llm.base_url = p->base_url;
		f->llm.model = f->model;
		f->llm.api_key = f->key;
		f->llm.fallback = f->llm.summarizer = NULL;
		if (!strcmp(setting, "model.summary_model")) {
			f->llm.thinking_tokens = 0; /* (a summary needs no deliberation) */
			out->llm.summarizer = &f->llm;
		} else {
			*link = &f->llm;
			link = &f->llm.fallback;
		}
	}
	cJSON_Delete(all);
	return rc;
}

int daimon_model_endpoint_load(daimon_model_settings *out, const char *home)
{
	memset(out, 0, sizeof(*out));
	daimon_settings *file;
	int rc = daimon_settings_load(&file, home);
	if (rc < 0)
		return rc;
	const char *set_provider, *set_wire, *set_base, *set_model, *key_env;
	if ((rc = daimon_settings_string(file, "model.provider", &set_provider)) < 0 ||
	    (rc = daimon_settings_string(file, "model.wire", &set_wire)) < 0 ||
	    (rc = daimon_settings_string(file, "model.base_url", &set_base)) < 0 ||
	    (rc = daimon_settings_string(file, "model.model", &set_model)) < 0 ||
	    (rc = daimon_settings_string(file, "model.api_key_env", &key_env)) < 0) {
		daimon_settings_free(file);
		return rc;
	}
	/* the bounds on one call */
	double first_s, idle_s, stream_s, answer_kb, retry_s, thinking;
	if ((rc = daimon_settings_number(file, "model.first_token_s", &first_s)) < 0 ||
	    (rc = daimon_settings_number(file, "model.idle_s", &idle_s)) < 0 ||
	    (rc = daimon_settings_number(file, "model.max_stream_s", &stream_s)) < 0 ||
	    (rc = daimon_settings_number(file, "model.max_answer_kb", &answer_kb)) < 0 ||
	    (rc = daimon_settings_number(file, "model.max_retry_after_s", &retry_s)) < 0 ||
	    (rc = daimon_settings_number(file, "model.thinking_tokens", &thinking)) < 0) {
		daimon_settings_free(file);
		return rc;
	}
	out->llm.first_token_ms = (long)(first_s * 1000);
	out->llm.idle_ms = (long)(idle_s * 1000);
	out->llm.max_stream_ms = (long)(stream_s * 1000);
	out->llm.max_answer_bytes = (size_t)answer_kb * 1024;
	out->llm.max_retry_after_ms = (long)(retry_s * 1000);
	out->llm.thinking_tokens = (int)thinking;
	int images = 1;
	double max_images = 4;
	if ((rc = daimon_settings_bool(file, "model.images", &images)) < 0 ||
	    (rc = daimon_settings_number(file, "model.max_images", &max_images)) < 0) {
		daimon_settings_free(file);
		return rc;
	}
	out->llm.no_images = !images;
	out->llm.max_images = max_images > 0 ? (int)max_images : -1;
	const char *name = pick(env("DAIMON_PROVIDER"), set_provider);
	if (!name) /* nothing said: OpenAI's API, unless only an Anthropic key is there */
		name = !env("OPENAI_API_KEY") && env("ANTHROPIC_API_KEY") ? "anthropic" : "openai";
	const daimon_provider *p = daimon_provider_named(name);
	if (!p) {
		daimon_settings_free(file);
		return daimon_error_code(DAIMON_EINVAL,
					 "unknown model provider '%s' (one of: %s; or model.base_url with model.wire "
					 "for another)",
					 name, daimon_provider_names());
	}
	out->provider = p->name;
	out->llm.provider = p->wire;
	const char *wire = pick(env("DAIMON_WIRE"), set_wire);
	if (wire && !strcmp(wire, "anthropic"))
		out->llm.provider = DAIMON_LLM_ANTHROPIC;
	else if (wire && !strcmp(wire, "openai"))
		out->llm.provider = DAIMON_LLM_OPENAI;
	else if (wire) {
		daimon_settings_free(file);
		return daimon_error_code(DAIMON_EINVAL, "unknown wire format '%s' (DAIMON_WIRE: openai or anthropic)",
					 wire);
	}
	const char *base;
	if ((base = env("DAIMON_BASE_URL")))
		out->base_url_from = "DAIMON_BASE_URL";
	else if (p->wire == DAIMON_LLM_OPENAI && !strcmp(p->name, "openai") && (base = env("OPENAI_BASE_URL")))
		out->base_url_from = "OPENAI_BASE_URL";
	else if ((base = pick(set_base, NULL)))
		out->base_url_from = "model.base_url";
	else
		base = p->base_url, out->base_url_from = "the provider's default";
	if (strncmp(base, "http://", 7) && strncmp(base, "https://", 8)) {
		daimon_settings_free(file);
		return daimon_error_code(DAIMON_EINVAL, "the model's base URL '%s' (%s) needs http:// or https://",
					 base, out->base_url_from);
	}
	out->base_url = daimon_xstrdup(base);
	char *key = find_key(home, key_env, p, &out->key_from, 1);
	if (key) {
		out->api_key = daimon_xstrndup(key, strcspn(key, "\r\n")); /* (a key file's newline) */
		free(key);
	}
	const char *model;
	if ((model = env("DAIMON_MODEL")))
		out->model_from = "DAIMON_MODEL";
	else if ((model = pick(set_model, NULL)))
		out->model_from = "model.model";
	out->model = model ? daimon_xstrdup(model) : NULL;
	out->llm.base_url = out->base_url;
	out->llm.model = out->model;
	out->llm.api_key = out->api_key;
	out->llm.provider_name = out->provider;
	double retries;
	const char *summary = NULL;
	rc = daimon_settings_number(file, "model.retries", &retries);
	out->llm.retries = retries > 0 ? (int)retries : -1;
	if (rc == 0)
		rc = daimon_settings_string(file, "model.summary_model", &summary);
	if (rc == 0)
		rc = load_fallbacks(out, home, daimon_settings_json(file, "model.fallbacks"), summary);
	daimon_settings_free(file);
	if (rc < 0)
		daimon_model_settings_release(out);
	return rc;
}

/* Nothing configured at all: a local Ollama or llama.cpp server on its
 * default port speaks the OpenAI API (300 ms each to answer). */
static int find_local(daimon_model_settings *out)
{
	static const char *const local[] = {"ollama", "llamacpp"};
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
		const daimon_provider *p = daimon_provider_named(local[i]);
		daimon_llm_config cfg = {.provider = p->wire, .base_url = p->base_url};
		cJSON *ids = NULL;
		const char *first = daimon_llm_models(&cfg, 300, &ids) == 0
					    ? cJSON_GetStringValue(cJSON_GetArrayItem(ids, 0))
					    : NULL;
		if (first) {
			daimon_llm_config bounds = out->llm; /* (the settings' bounds and fallbacks stay) */
			struct daimon_model_fallback *fb = out->fallbacks;
			int nfb = out->nfallbacks;
			out->fallbacks = NULL, out->nfallbacks = 0;
			daimon_model_settings_release(out);
			out->llm = bounds;
			out->fallbacks = fb, out->nfallbacks = nfb;
			out->llm.api_key = NULL;
			out->provider = p->name;
			out->llm.provider_name = p->name;
			out->llm.provider = p->wire;
			out->base_url = daimon_xstrdup(p->base_url);
			out->model = daimon_xstrdup(first);
			out->base_url_from = "a local server found";
			out->model_from = "the server's first model";
			out->llm.base_url = out->base_url;
			out->llm.model = out->model;
			out->note =
				daimon_xasprintf("no model set: using '%s' from %s on this machine", first, p->name);
		}
		cJSON_Delete(ids);
		if (first)
			return 0;
	}
	return -1;
}

int daimon_model_settings_load(daimon_model_settings *out, const char *home)
{
	int rc = daimon_model_endpoint_load(out, home);
	if (rc < 0 || out->model)
		return rc;
	int nothing_set = !out->key_from && strcmp(out->base_url_from, "the provider's default") == 0 &&
			  !env("DAIMON_PROVIDER") && !strcmp(out->provider, "openai");
	if (nothing_set && find_local(out) == 0)
		return 0;
	const daimon_provider *p = daimon_provider_named(out->provider);
	if (!out->key_from && p->key_env && !strcmp(out->base_url_from, "the provider's default")) {
		daimon_model_settings_release(out);
		return daimon_error_code(
			DAIMON_EINVAL,
			"no model configured (and no local Ollama or llama.cpp server answering): set "
			"DAIMON_MODEL (and DAIMON_PROVIDER or DAIMON_BASE_URL, DAIMON_API_KEY as needed)");
	}
	/* No model named: the server's first, said — a local server
	 * (Ollama, llama.cpp...) usually has one loaded. */
	cJSON *ids = NULL;
	char *url = daimon_llm_url(&out->llm, DAIMON_LLM_MODELS);
	int local = !strncmp(out->base_url, "http://127.0.0.1", 16) || !strncmp(out->base_url, "http://localhost", 16);
	rc = daimon_llm_models(&out->llm, local ? 1000 : 10000, &ids);
	const char *first = rc == 0 ? cJSON_GetStringValue(cJSON_GetArrayItem(ids, 0)) : NULL;
	if (first) {
		out->model = daimon_xstrdup(first);
		out->llm.model = out->model;
		out->model_from = "the server's first model";
		out->note = daimon_xasprintf("no model set: using '%s', the first %s offers (DAIMON_MODEL or "
					     "model.model chooses)",
					     first, url);
	}
	cJSON_Delete(ids);
	if (!first) {
		char why[300];
		snprintf(why, sizeof(why), "%s", rc < 0 ? daimon_error_last() : "it lists none");
		daimon_model_settings_release(out);
		rc = daimon_error_code(DAIMON_EINVAL,
				       "no model configured, and none to pick from %s (%s): set DAIMON_MODEL (and "
				       "DAIMON_PROVIDER or DAIMON_BASE_URL, DAIMON_API_KEY as needed)",
				       url, why);
	}
	free(url);
	return rc < 0 ? rc : 0;
}

void daimon_model_settings_release(daimon_model_settings *s)
{
	free(s->base_url);
	free(s->api_key);
	free(s->model);
	free(s->note);
	for (int i = 0; i < s->nfallbacks; i++) {
		free(s->fallbacks[i].model);
		free(s->fallbacks[i].key);
	}
	free(s->fallbacks);
	memset(s, 0, sizeof(*s));
}
