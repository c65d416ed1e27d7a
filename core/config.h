/*
 * config.h — daimon's settings: the environment first, then
 * $DAIMON_HOME/config.json. For now the model's (see data/config.json).
 */
#ifndef DAIMON_CORE_CONFIG_H
#define DAIMON_CORE_CONFIG_H

#include "core/llm.h"

typedef struct {
	daimon_llm_config llm; /* points into the strings below */
	char *base_url, *api_key, *model;
	const char *provider; /* a name of core/provider.h's table */
	/* where each came from ("DAIMON_MODEL", "model.model", "the
	 * provider's default"...; NULL: not set), for status and doctor */
	const char *model_from, *base_url_from, *key_from;
	char *note;                              /* a line worth saying (the model was picked), or NULL */
	struct daimon_model_fallback *fallbacks; /* llm.fallback's chain (model.fallbacks), then
						  * llm.summarizer (model.summary_model) */
	int nfallbacks;
} daimon_model_settings;

struct daimon_model_fallback {
	daimon_llm_config llm;
	char *model, *key;
};

/* $DAIMON_HOME/config.json parsed (*out NULL when there is none); a file
 * that is not a JSON object is an error naming it. */
int daimon_config_load(cJSON **out, const char *home);
/* Changes config.json under its lock: `edit` gets the file as it is now
 * (an empty object when there is none) and returns 0 to have it written
 * back (atomically; comments and layout are not kept), or < 0 to leave
 * it (its error is returned). */
int daimon_config_edit(const char *home, int (*edit)(cJSON *cfg, void *arg), void *arg);

/* Where the model is: DAIMON_PROVIDER (a name of core/provider.h's
 * table; default openai, or anthropic when only ANTHROPIC_API_KEY is
 * set), DAIMON_WIRE, DAIMON_BASE_URL (OPENAI_BASE_URL for openai),
 * DAIMON_API_KEY (or the provider's own variable), DAIMON_MODEL; the
 * "model" object of config.json fills what the environment does not.
 * The model may be left NULL here. A bad setting fails naming it. */
int daimon_model_endpoint_load(daimon_model_settings *out, const char *home);
/* The same, with a model: when none is named, the server's first (asked
 * with daimon_llm_models; `note` says so), or an error saying what to
 * set. */
int daimon_model_settings_load(daimon_model_settings *out, const char *home);
void daimon_model_settings_release(daimon_model_settings *s);

#endif
