/*
 * provider.c — see provider.h.
 */
#include "core/provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/http.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"

const daimon_provider daimon_providers[] = {
	{"openai", DAIMON_LLM_OPENAI, "https://api.openai.com/v1", "OPENAI_API_KEY"},
	{"anthropic", DAIMON_LLM_ANTHROPIC, "https://api.anthropic.com", "ANTHROPIC_API_KEY"},
	{"openrouter", DAIMON_LLM_OPENAI, "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"},
	{"groq", DAIMON_LLM_OPENAI, "https://api.groq.com/openai/v1", "GROQ_API_KEY"},
	{"gemini", DAIMON_LLM_OPENAI, "https://generativelanguage.googleapis.com/v1beta/openai", "GEMINI_API_KEY"},
	{"deepseek", DAIMON_LLM_OPENAI, "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"},
	{"mistral", DAIMON_LLM_OPENAI, "https://api.mistral.ai/v1", "MISTRAL_API_KEY"},
	{"together", DAIMON_LLM_OPENAI, "https://api.together.xyz/v1", "TOGETHER_API_KEY"},
	{"xai", DAIMON_LLM_OPENAI, "https://api.x.ai/v1", "XAI_API_KEY"},
	{"ollama", DAIMON_LLM_OPENAI, "http://127.0.0.1:11434/v1", NULL},
	{"llamacpp", DAIMON_LLM_OPENAI, "http://127.0.0.1:8080/v1", NULL},
	{"vllm", DAIMON_LLM_OPENAI, "http://127.0.0.1:8000/v1", NULL},
	{"lmstudio", DAIMON_LLM_OPENAI, "http://127.0.0.1:1234/v1", NULL},
	{0},
};

const daimon_provider *daimon_provider_named(const char *name)
{
	for (const daimon_provider *p = daimon_providers; name && p->name; p++)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

const char *daimon_provider_names(void)
{
	static char names[256];
	if (!names[0]) {
		size_t n = 0;
		for (const daimon_provider *p = daimon_providers; p->name; p++)
			n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", n ? ", " : "", p->name);
	}
	return names;
}

/* Where the path of a URL begins (its end when it has none). */
static size_t path_start(const char *url, size_t len)
{
	const char *scheme = strstr(url, "://");
	size_t host = scheme && (size_t)(scheme - url) < len ? (size_t)(scheme - url) + 3 : 0;
	const char *slash = memchr(url + host, '/', len - host);
	return slash ? (size_t)(slash - url) : len;
}

char *daimon_llm_url(const daimon_llm_config *cfg, int endpoint)
{
	const char *base = cfg->base_url ? cfg->base_url : "";
	size_t n = strlen(base);
	while (n && base[n - 1] == '/')
		n--;
	size_t path = path_start(base, n);
	if (cfg->provider == DAIMON_LLM_ANTHROPIC) {
		if (n - path >= 3 && !memcmp(base + n - 3, "/v1", 3))
			n -= 3; /* the host was meant */
		return daimon_xasprintf("%.*s/v1/%s", (int)n, base,
					endpoint == DAIMON_LLM_CHAT ? "messages" : "models");
	}
	static const char *const paths[] = {"chat/completions", "models", "audio/transcriptions"};
	return daimon_xasprintf("%.*s%s/%s", (int)n, base, path == n ? "/v1" : "", paths[endpoint]);
}

int daimon_llm_auth_headers(const daimon_llm_config *cfg, char **h)
{
	int n = 0;
	if (cfg->provider == DAIMON_LLM_ANTHROPIC)
		h[n++] = daimon_xstrdup("anthropic-version: 2023-06-01");
	if (cfg->api_key && *cfg->api_key)
		h[n++] = cfg->provider == DAIMON_LLM_ANTHROPIC
				 ? daimon_xasprintf("x-api-key: %s", cfg->api_key)
				 : daimon_xasprintf("Authorization: Bearer %s", cfg->api_key);
	return n;
}

int daimon_llm_models(const daimon_llm_config *cfg, long timeout_ms, cJSON **ids)
{
	*ids = NULL;
	char *url = daimon_llm_url(cfg, DAIMON_LLM_MODELS), *h[3] = {0};
	daimon_llm_auth_headers(cfg, h);
	daimon_buf body = DAIMON_BUF_INIT;
	long status = 0;
	int rc = daimon_http_fetch(NULL, url, (const char *const *)h, NULL, 0, timeout_ms, &status, &body);
	for (int i = 0; h[i]; i++)
		free(h[i]);
	cJSON *doc = rc == 0 ? cJSON_Parse(daimon_buf_cstr(&body)) : NULL;
	if (rc < 0) {
		/* (the fetch's error names the URL) */
	} else if (status != 200) {
		const cJSON *err = cJSON_GetObjectItemCaseSensitive(doc, "error");
		const char *msg = cJSON_IsString(err) ? err->valuestring : daimon_json_str(err, "message");
		rc = daimon_error("%s answered HTTP %ld%s%s", url, status, msg ? ": " : "", msg ? msg : "");
	} else {
		/* {"data":[{"id"}]} (OpenAI's, Anthropic's) or {"models":[{"name"}]} (Ollama's own) */
		const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "data"), *m;
		const char *field = "id";
		if (!cJSON_IsArray(list))
			list = cJSON_GetObjectItemCaseSensitive(doc, "models"), field = "name";
		if (!cJSON_IsArray(list)) {
			rc = daimon_error("what %s answered is not a list of models", url);
		} else {
			*ids = cJSON_CreateArray();
			cJSON_ArrayForEach(m, list) if (daimon_json_str(m, field))
				cJSON_AddItemToArray(*ids, cJSON_CreateString(daimon_json_str(m, field)));
		}
	}
	cJSON_Delete(doc);
	daimon_buf_release(&body);
	free(url);
	return rc;
}

int daimon_llm_ping(const daimon_llm_config *cfg, char *said, size_t size, long *ms)
{
	daimon_llm_config c = *cfg;
	c.max_tokens = 16;
	cJSON *messages = cJSON_Parse("[{\"role\":\"user\",\"content\":\"Reply with the word OK.\"}]");
	daimon_llm_request req;
	int rc = daimon_llm_build(&req, &c, NULL, messages, NULL);
	cJSON_Delete(messages);
	if (rc < 0)
		return rc;
	daimon_buf body = DAIMON_BUF_INIT;
	long status = 0;
	int64_t t0 = daimon_mono_ms();
	rc = daimon_http_fetch("POST", req.url, (const char *const *)req.headers, req.body.ptr, req.body.len, 60000,
			       &status, &body);
	*ms = (long)(daimon_mono_ms() - t0);
	if (rc == 0) {
		daimon_llm_stream *s = daimon_llm_stream_new(c.provider);
		daimon_http_result r = {.status = status};
		rc = daimon_llm_stream_feed(s, body.ptr ? body.ptr : "", body.len);
		if (rc == 0 || status != 200)
			rc = daimon_llm_stream_end(s, &c, &r);
		if (rc == 0)
			snprintf(said, size, "%s", daimon_llm_stream_text(s));
		daimon_llm_stream_free(s);
	}
	daimon_buf_release(&body);
	daimon_llm_request_release(&req);
	return rc;
}

/* One form field of a multipart/form-data body. */
static void form_part(daimon_buf *b, const char *boundary, const char *name, const char *file, const char *mime,
		      const void *data, size_t len)
{
	daimon_buf_addf(b, "--%s\r\nContent-Disposition: form-data; name=\"%s\"", boundary, name);
	if (file)
		daimon_buf_addf(b, "; filename=\"%s\"\r\nContent-Type: %s", file, mime);
	daimon_buf_adds(b, "\r\n\r\n");
	daimon_buf_add(b, data, len);
	daimon_buf_adds(b, "\r\n");
}

int daimon_llm_transcribe(const daimon_llm_config *cfg, const char *model, const void *audio, size_t len,
			  const char *name, const char *mime, long timeout_ms, daimon_buf *text)
{
	if (cfg->provider == DAIMON_LLM_ANTHROPIC)
		return daimon_error("voice messages need speech to text, which Anthropic's API does not offer "
				    "(use an OpenAI-compatible provider)");
	static const char boundary[] = "daimon-9f3c1b7e5a";
	char safe[128];
	size_t n = 0;
	for (const char *p = name && *name ? name : "voice.ogg"; *p && n + 1 < sizeof(safe); p++)
		safe[n++] = *p == '"' || *p == '\\' || (unsigned char)*p < 0x20 ? '_' : *p;
	safe[n] = 0;
	daimon_buf body = DAIMON_BUF_INIT, got = DAIMON_BUF_INIT;
	form_part(&body, boundary, "model", NULL, NULL, model, strlen(model));
	form_part(&body, boundary, "response_format", NULL, NULL, "json", 4);
	form_part(&body, boundary, "file", safe, mime && *mime ? mime : "audio/ogg", audio, len);
	daimon_buf_addf(&body, "--%s--\r\n", boundary);
	char *url = daimon_llm_url(cfg, DAIMON_LLM_TRANSCRIBE), *h[4] = {0};
	int nh = daimon_llm_auth_headers(cfg, h);
	h[nh] = daimon_xasprintf("Content-Type: multipart/form-data; boundary=%s", boundary);
	long status = 0;
	int rc = daimon_http_fetch("POST", url, (const char *const *)h, body.ptr, body.len, timeout_ms, &status, &got);
	cJSON *doc = rc == 0 ? cJSON_Parse(daimon_buf_cstr(&got)) : NULL;
	const char *said = daimon_json_str(doc, "text");
	if (rc == 0 && (status != 200 || !said)) {
		const cJSON *err = cJSON_GetObjectItemCaseSensitive(doc, "error");
		const char *msg = cJSON_IsString(err) ? err->valuestring : daimon_json_str(err, "message");
		rc = daimon_error("%s answered HTTP %ld%s%s", url, status, msg ? ": " : " without a transcript",
				  msg ? msg : "");
	}
	if (rc == 0)
		daimon_buf_adds(text, said);
	cJSON_Delete(doc);
	for (int i = 0; h[i]; i++)
		free(h[i]);
	free(url);
	daimon_buf_release(&body);
	daimon_buf_release(&got);
	return rc;
}
