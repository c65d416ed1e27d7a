/*
 * provider.h — the model providers daimon knows by name, and where a
 * request goes.
 *
 * Each named provider has a wire format, a default base URL and the
 * environment variable its key is usually in; `DAIMON_PROVIDER=ollama`
 * needs nothing else. A provider not in the table is a base URL plus a
 * wire format (model.base_url, model.wire).
 *
 * Base URLs follow each SDK's convention: an OpenAI-compatible base URL
 * includes its version path (`https://api.openai.com/v1`, Gemini's
 * `.../v1beta/openai`, Z.ai's `.../api/paas/v4`) and daimon appends
 * `/chat/completions` — a bare host (`http://localhost:11434`) gets
 * `/v1`; Anthropic's base is the host and daimon appends
 * `/v1/messages` (a `/v1` already there is not doubled).
 */
#ifndef DAIMON_CORE_PROVIDER_H
#define DAIMON_CORE_PROVIDER_H

#include "core/llm.h"

typedef struct {
	const char *name;
	daimon_llm_provider wire;
	const char *base_url;
	const char *key_env; /* NULL: a server on this machine, no key */
} daimon_provider;

/* The table, ending with a zeroed entry. */
extern const daimon_provider daimon_providers[];

/* The provider called `name`, or NULL. */
const daimon_provider *daimon_provider_named(const char *name);
/* "openai, anthropic, ..." (static). */
const char *daimon_provider_names(void);

enum { DAIMON_LLM_CHAT, DAIMON_LLM_MODELS, DAIMON_LLM_TRANSCRIBE };
/* The URL of the chat, the model-list or the speech-to-text endpoint of
 * `cfg` (caller frees). */
char *daimon_llm_url(const daimon_llm_config *cfg, int endpoint);
/* The headers that say who asks: Authorization (OpenAI's) or x-api-key
 * and anthropic-version (Anthropic's). Appends up to two malloc'd
 * "Name: value" strings to `h` and returns how many. */
int daimon_llm_auth_headers(const daimon_llm_config *cfg, char **h);
/* The models the server offers (GET .../models, either wire format; an
 * Ollama list too): *ids gets a JSON array of their names. A failure
 * names the URL asked (never the key). Blocking: not on a scheduler. */
int daimon_llm_models(const daimon_llm_config *cfg, long timeout_ms, cJSON **ids);
/* One short real call (a few tokens), read as a turn reads its answer:
 * 0 with what the model said and how long it took, or < 0 (the error
 * names the URL). Blocking, like daimon_llm_models. */
int daimon_llm_ping(const daimon_llm_config *cfg, char *said, size_t size, long *ms);

/* Speech to text: `len` bytes of audio (its file `name` and `mime` as
 * they came) sent to the server's /audio/transcriptions as OpenAI's API
 * takes it (multipart, `model`), what was said appended to `text`. An
 * Anthropic server has no such endpoint: an error saying so. Blocking. */
int daimon_llm_transcribe(const daimon_llm_config *cfg, const char *model, const void *audio, size_t len,
			  const char *name, const char *mime, long timeout_ms, daimon_buf *text);

#endif
