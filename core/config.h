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
} daimon_model_settings;

/* $DAIMON_HOME/config.json parsed (*out NULL when there is none); a file
 * that is not a JSON object is an error naming it. */
int daimon_config_load(cJSON **out, const char *home);
/* Changes config.json under its lock: `edit` gets the file as it is now
 * (an empty object when there is none) and returns 0 to have it written
 * back (atomically; comments and layout are not kept), or < 0 to leave
 * it (its error is returned). */
int daimon_config_edit(const char *home, int (*edit)(cJSON *cfg, void *arg), void *arg);

/* DAIMON_PROVIDER (openai|anthropic), DAIMON_BASE_URL, DAIMON_API_KEY,
 * DAIMON_MODEL; OPENAI_API_KEY, OPENAI_BASE_URL and ANTHROPIC_API_KEY are
 * honoured; config.json's "model" object fills what the environment does
 * not. A missing or bad setting fails with a message naming it. */
int daimon_model_settings_load(daimon_model_settings *out, const char *home);
void daimon_model_settings_release(daimon_model_settings *s);

#endif
