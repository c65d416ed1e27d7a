/*
 * llm.h — talking to a model: the request a provider wants, and the
 * decoding of its streamed answer (server-sent events).
 *
 * Two wire formats cover the providers: OpenAI-compatible chat
 * completions (OpenAI, OpenRouter, Ollama, llama.cpp, vLLM, LM Studio)
 * and Anthropic Messages. daimon_llm_build makes the HTTP request for
 * core/http.c; the caller feeds each chunk of the response body to a
 * daimon_llm_stream, which assembles text, tool calls whose arguments
 * arrive in fragments, the stop reason and usage. A stream that ends
 * without the provider's end marker is an error, never a short answer.
 */
#ifndef DAIMON_CORE_LLM_H
#define DAIMON_CORE_LLM_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/http.h"

typedef enum { DAIMON_LLM_OPENAI, DAIMON_LLM_ANTHROPIC } daimon_llm_provider;

typedef struct daimon_llm_config {
	daimon_llm_provider provider;
	const char *base_url; /* e.g. "https://api.openai.com" (no trailing path) */
	const char *api_key;  /* may be NULL (local servers) */
	const char *model;
	const char *provider_name; /* its name, for the log (NULL: the wire format's) */
	int retries;               /* of a transient failure; 0: the default, < 0: none */
	/* the next model tried when a call fails for good before anything
	 * streamed (model.fallbacks), or NULL */
	const struct daimon_llm_config *fallback;
	/* the model summaries and compaction ask (model.summary_model), or
	 * NULL: this one */
	const struct daimon_llm_config *summarizer;
	int max_tokens; /* 0: 4096 */
	/* model.images false: the model takes no images (they are named to
	 * it instead); model.max_images: the newest this many go with each
	 * request (0: 4) */
	int no_images, max_images;
	/* Anthropic's extended thinking: its budget in tokens (model.
	 * thinking_tokens), 0 off. OpenAI-compatible servers that reason
	 * (DeepSeek, Qwen) do so unasked. */
	int thinking_tokens;
	/* the bounds; each 0 is its setting's default (daimon_llm_limits_of) */
	long first_token_ms;     /* no answer starts within this: retried */
	long idle_ms;            /* no new text or tool call for this long: aborted */
	long max_stream_ms;      /* the whole answer */
	size_t max_answer_bytes; /* text and tool arguments */
	long max_retry_after_ms; /* a longer Retry-After is not waited for */
} daimon_llm_config;

/* A config's bounds, its zeros read as the settings' defaults
 * (model.first_token_s, idle_s, max_stream_s, max_answer_kb,
 * max_retry_after_s, retries): one place decides what "unset" means. */
typedef struct {
	long first_token_ms, idle_ms, max_stream_ms, max_retry_after_ms;
	size_t max_answer_bytes;
	int retries;
} daimon_llm_limits;
daimon_llm_limits daimon_llm_limits_of(const daimon_llm_config *cfg);

/* A request ready for daimon_http_request; the strings it points to live
 * in the struct (free with daimon_llm_request_release). */
typedef struct {
	daimon_http_req http;
	char *url;
	daimon_buf body;
	char *headers[4];
} daimon_llm_request;

/* Messages are daimon's own shape: [{"role":"user"|"assistant","content":
 * "...", "tool_calls":[{"id","name","arguments"}], "reasoning":{"text",
 * "blocks"}, "images":[{"mime","data" (base64)}]} | {"role":"tool",
 * "call_id","content","is_error"}]. Images go as OpenAI's image_url
 * parts (data URLs) or Anthropic's base64 image blocks. An
 * answer's reasoning goes back where the API requires it: DeepSeek's
 * text with the tool calls it led to, Anthropic's thinking blocks (with
 * their signatures) when thinking is on. Tools: [{"name","description",
 * "parameters":{JSON Schema}}] (may be NULL). */
int daimon_llm_build(daimon_llm_request *out, const daimon_llm_config *cfg, const char *system, const cJSON *messages,
		     const cJSON *tools);
void daimon_llm_request_release(daimon_llm_request *r);

typedef struct daimon_llm_stream daimon_llm_stream;

daimon_llm_stream *daimon_llm_stream_new(daimon_llm_provider provider);
/* Bounds the answer (text and tool arguments) and any one line of the
 * stream to `max_bytes`: past it the stream fails with a line naming
 * model.max_answer_kb. */
void daimon_llm_stream_limit(daimon_llm_stream *s, size_t max_bytes);
/* Bytes of answer (text and tool arguments) so far, and whether a bound
 * stopped the stream (then the transfer should stop too). */
size_t daimon_llm_stream_size(const daimon_llm_stream *s);
int daimon_llm_stream_bounded(const daimon_llm_stream *s);
void daimon_llm_stream_free(daimon_llm_stream *s);
/* Feeds bytes of the response body as they arrive (any fragmentation).
 * <0 when the provider reported an error or sent something unreadable. */
int daimon_llm_stream_feed(daimon_llm_stream *s, const char *data, size_t len);
/* The response ended: 0 if the stream was complete, <0 (DAIMON_ECORRUPT)
 * if it was cut off. */
int daimon_llm_stream_finish(daimon_llm_stream *s);
/* The transfer `r` the stream was fed from is over: 0 if it brought a
 * whole answer; otherwise why not, as a message for the user — the model
 * unreachable, an HTTP error (with the error document's message: a body
 * that starts as JSON is kept as one, not read as a stream), or an answer
 * cut off before its end. */
int daimon_llm_stream_end(daimon_llm_stream *s, const daimon_llm_config *cfg, const daimon_http_result *r);
/* Appends the text that arrived since the last call (for live output). */
size_t daimon_llm_stream_take_delta(daimon_llm_stream *s, daimon_buf *out);
const char *daimon_llm_stream_text(const daimon_llm_stream *s);
/* The reasoning (reasoning_content, Anthropic's thinking) that arrived
 * since the last call; it is never part of the text. */
size_t daimon_llm_stream_take_thinking(daimon_llm_stream *s, daimon_buf *out);
/* The answer's reasoning as the messages carry it, {"text": "...",
 * "blocks": [Anthropic's thinking blocks as they came]}, or NULL if it
 * had none (the caller frees it). */
cJSON *daimon_llm_stream_reasoning(const daimon_llm_stream *s);
/* The tool calls, assembled: [{"id","name","arguments"}] (owned by s). */
const cJSON *daimon_llm_stream_tool_calls(const daimon_llm_stream *s);
const char *daimon_llm_stream_stop_reason(const daimon_llm_stream *s);
void daimon_llm_stream_usage(const daimon_llm_stream *s, int64_t *in, int64_t *out, int64_t *cached);

#endif
