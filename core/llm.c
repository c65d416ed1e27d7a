/*
 * llm.c — see llm.h. The SSE decoder keeps a line buffer, so chunks may
 * split anywhere: inside a line, a UTF-8 character or a JSON string.
 * Events are dispatched on the blank line that ends them, as the SSE
 * specification says; "event:" names them (Anthropic), "data:" lines
 * carry JSON (or OpenAI's "[DONE]").
 */
#include "core/llm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/jsonutil.h"
#include "core/provider.h"
#include "core/settings.h"

/* ---- requests ---- */

/* j[key] if it is a string, else `otherwise`. */
static const char *str_or(const cJSON *j, const char *key, const char *otherwise)
{
	const char *v = daimon_json_str(j, key);
	return v ? v : otherwise;
}

/* The reasoning that came with a message (llm.h): {"text", "blocks"}. */
static const cJSON *reasoning_of(const cJSON *m)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "reasoning");
	return cJSON_IsObject(r) ? r : NULL;
}

/* A message with pictures: its text, then each as a data URL. */
static cJSON *openai_parts(const char *text, const cJSON *images)
{
	cJSON *parts = cJSON_CreateArray();
	if (text && *text) {
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "type", "text");
		cJSON_AddStringToObject(t, "text", text);
		cJSON_AddItemToArray(parts, t);
	}
	for (const cJSON *i = images->child; i; i = i->next) {
		if (!daimon_json_str(i, "data"))
			continue; /* (named, not inlined) */
		cJSON *p = cJSON_CreateObject();
		cJSON_AddStringToObject(p, "type", "image_url");
		char *url =
			daimon_xasprintf("data:%s;base64,%s", str_or(i, "mime", "image/jpeg"), str_or(i, "data", ""));
		cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "image_url"), "url", url);
		free(url);
		cJSON_AddItemToArray(parts, p);
	}
	return parts;
}

static cJSON *openai_messages(const char *system, const cJSON *messages)
{
	cJSON *out = cJSON_CreateArray();
	if (system && *system) {
		cJSON *m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "role", "system");
		cJSON_AddStringToObject(m, "content", system);
		cJSON_AddItemToArray(out, m);
	}
	for (const cJSON *m = messages ? messages->child : NULL; m; m = m->next) {
		const char *role = daimon_json_str(m, "role");
		cJSON *o = cJSON_CreateObject();
		if (role && !strcmp(role, "tool")) {
			cJSON_AddStringToObject(o, "role", "tool");
			cJSON_AddStringToObject(o, "tool_call_id", str_or(m, "call_id", ""));
			cJSON_AddStringToObject(o, "content", str_or(m, "content", ""));
		} else {
			cJSON_AddStringToObject(o, "role", role ? role : "user");
			const char *content = daimon_json_str(m, "content");
			const cJSON *images = cJSON_GetObjectItemCaseSensitive(m, "images");
			if (cJSON_GetArraySize(images))
				cJSON_AddItemToObject(o, "content", openai_parts(content, images));
			else
				cJSON_AddStringToObject(o, "content", content ? content : "");
			const cJSON *calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
			if (cJSON_GetArraySize(calls)) {
				const char *thought = daimon_json_str(reasoning_of(m), "text");
				if (thought && *thought) /* (DeepSeek wants it back with the calls it led to) */
					cJSON_AddStringToObject(o, "reasoning_content", thought);
				cJSON *tc = cJSON_AddArrayToObject(o, "tool_calls");
				for (const cJSON *c = calls->child; c; c = c->next) {
					cJSON *x = cJSON_CreateObject();
					cJSON_AddStringToObject(x, "id", str_or(c, "id", ""));
					cJSON_AddStringToObject(x, "type", "function");
					cJSON *fn = cJSON_AddObjectToObject(x, "function");
					cJSON_AddStringToObject(fn, "name", str_or(c, "name", ""));
					cJSON_AddStringToObject(fn, "arguments", str_or(c, "arguments", "{}"));
					cJSON_AddItemToArray(tc, x);
				}
			}
		}
		cJSON_AddItemToArray(out, o);
	}
	return out;
}

/* Anthropic's prompt caching: a breakpoint after the system prompt, the
 * tools and the conversation so far (three of the four it allows), so a
 * long chat pays for its prefix once; cache reads come back in usage. */
static void cache_point(cJSON *block)
{
	if (block)
		cJSON_AddItemToObject(block, "cache_control", cJSON_CreateRaw("{\"type\":\"ephemeral\"}"));
}

/* With thinking on, an answer that called tools goes back led by its
 * thinking blocks, signatures intact, as Anthropic requires. */
static void add_thinking(cJSON *blocks, const cJSON *m)
{
	const cJSON *kept = cJSON_GetObjectItemCaseSensitive(reasoning_of(m), "blocks");
	for (const cJSON *b = cJSON_IsArray(kept) ? kept->child : NULL; b; b = b->next)
		cJSON_AddItemToArray(blocks, cJSON_Duplicate(b, 1));
}

static cJSON *anthropic_messages(const cJSON *messages, int thinking)
{
	cJSON *out = cJSON_CreateArray();
	for (const cJSON *m = messages ? messages->child : NULL; m; m = m->next) {
		const char *role = daimon_json_str(m, "role");
		cJSON *o = cJSON_CreateObject();
		cJSON *blocks = cJSON_CreateArray();
		if (role && !strcmp(role, "tool")) {
			cJSON_AddStringToObject(o, "role", "user");
			cJSON *b = cJSON_CreateObject();
			cJSON_AddStringToObject(b, "type", "tool_result");
			cJSON_AddStringToObject(b, "tool_use_id", str_or(m, "call_id", ""));
			cJSON_AddStringToObject(b, "content", str_or(m, "content", ""));
			if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "is_error")))
				cJSON_AddBoolToObject(b, "is_error", 1);
			cJSON_AddItemToArray(blocks, b);
		} else {
			int assistant = role && !strcmp(role, "assistant");
			cJSON_AddStringToObject(o, "role", assistant ? "assistant" : "user");
			if (assistant && thinking)
				add_thinking(blocks, m);
			const cJSON *images = cJSON_GetObjectItemCaseSensitive(m, "images");
			for (const cJSON *i = images ? images->child : NULL; i; i = i->next) {
				if (!daimon_json_str(i, "data"))
					continue;
				cJSON *b = cJSON_CreateObject(), *src;
				cJSON_AddStringToObject(b, "type", "image");
				src = cJSON_AddObjectToObject(b, "source");
				cJSON_AddStringToObject(src, "type", "base64");
				cJSON_AddStringToObject(src, "media_type", str_or(i, "mime", "image/jpeg"));
				cJSON_AddStringToObject(src, "data", str_or(i, "data", ""));
				cJSON_AddItemToArray(blocks, b);
			}
			const char *content = daimon_json_str(m, "content");
			if (content && *content) {
				cJSON *b = cJSON_CreateObject();
				cJSON_AddStringToObject(b, "type", "text");
				cJSON_AddStringToObject(b, "text", content);
				cJSON_AddItemToArray(blocks, b);
			}
			const cJSON *calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
			for (const cJSON *c = calls ? calls->child : NULL; c; c = c->next) {
				cJSON *b = cJSON_CreateObject();
				cJSON_AddStringToObject(b, "type", "tool_use");
				cJSON_AddStringToObject(b, "id", str_or(c, "id", ""));
				cJSON_AddStringToObject(b, "name", str_or(c, "name", ""));
				cJSON *input = cJSON_Parse(str_or(c, "arguments", "{}"));
				cJSON_AddItemToObject(b, "input", input ? input : cJSON_CreateObject());
				cJSON_AddItemToArray(blocks, b);
			}
		}
		cJSON_AddItemToObject(o, "content", blocks);
		cJSON_AddItemToArray(out, o);
	}
	return out;
}

static cJSON *tools_json(daimon_llm_provider p, const cJSON *tools)
{
	cJSON *out = cJSON_CreateArray();
	for (const cJSON *t = tools ? tools->child : NULL; t; t = t->next) {
		const cJSON *params = cJSON_GetObjectItemCaseSensitive(t, "parameters");
		cJSON *schema = params ? cJSON_Duplicate(params, 1) : cJSON_Parse("{\"type\":\"object\"}");
		cJSON *o = cJSON_CreateObject();
		const char *name = daimon_json_str(t, "name"), *desc = daimon_json_str(t, "description");
		if (p == DAIMON_LLM_OPENAI) {
			cJSON_AddStringToObject(o, "type", "function");
			cJSON *fn = cJSON_AddObjectToObject(o, "function");
			cJSON_AddStringToObject(fn, "name", name ? name : "");
			cJSON_AddStringToObject(fn, "description", desc ? desc : "");
			cJSON_AddItemToObject(fn, "parameters", schema);
		} else {
			cJSON_AddStringToObject(o, "name", name ? name : "");
			cJSON_AddStringToObject(o, "description", desc ? desc : "");
			cJSON_AddItemToObject(o, "input_schema", schema);
		}
		cJSON_AddItemToArray(out, o);
	}
	return out;
}

static long ms_or_default(long ms, const char *setting)
{
	return ms > 0 ? ms : (long)(daimon_setting_default(setting) * 1000);
}

daimon_llm_limits daimon_llm_limits_of(const daimon_llm_config *cfg)
{
	daimon_llm_limits l = {
		.first_token_ms = ms_or_default(cfg->first_token_ms, "model.first_token_s"),
		.idle_ms = ms_or_default(cfg->idle_ms, "model.idle_s"),
		.max_stream_ms = ms_or_default(cfg->max_stream_ms, "model.max_stream_s"),
		.max_retry_after_ms = ms_or_default(cfg->max_retry_after_ms, "model.max_retry_after_s"),
		.max_answer_bytes = cfg->max_answer_bytes
					    ? cfg->max_answer_bytes
					    : (size_t)daimon_setting_default("model.max_answer_kb") * 1024,
		.retries = cfg->retries > 0   ? cfg->retries
			   : cfg->retries < 0 ? 0
					      : (int)daimon_setting_default("model.retries"),
	};
	return l;
}

int daimon_llm_build(daimon_llm_request *out, const daimon_llm_config *cfg, const char *system, const cJSON *messages,
		     const cJSON *tools)
{
	memset(out, 0, sizeof(*out));
	if (!cfg->base_url || !*cfg->base_url)
		return daimon_error_code(DAIMON_EINVAL, "no model URL configured (set DAIMON_BASE_URL)");
	if (!cfg->model || !*cfg->model)
		return daimon_error_code(DAIMON_EINVAL, "no model configured (set DAIMON_MODEL)");
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "model", cfg->model);
	cJSON_AddBoolToObject(b, "stream", 1);
	int h = 0;
	out->headers[h++] = daimon_xstrdup("Content-Type: application/json");
	if (cfg->provider == DAIMON_LLM_OPENAI) {
		out->url = daimon_llm_url(cfg, DAIMON_LLM_CHAT);
		cJSON_AddItemToObject(b, "messages", openai_messages(system, messages));
		cJSON *so = cJSON_AddObjectToObject(b, "stream_options");
		cJSON_AddBoolToObject(so, "include_usage", 1);
	} else {
		out->url = daimon_llm_url(cfg, DAIMON_LLM_CHAT);
		int max_tokens = cfg->max_tokens > 0 ? cfg->max_tokens : 4096;
		if (cfg->thinking_tokens > 0) { /* (the budget is part of max_tokens) */
			cJSON *t = cJSON_AddObjectToObject(b, "thinking");
			cJSON_AddStringToObject(t, "type", "enabled");
			cJSON_AddNumberToObject(t, "budget_tokens", cfg->thinking_tokens);
			if (max_tokens <= cfg->thinking_tokens)
				max_tokens += cfg->thinking_tokens;
		}
		cJSON_AddNumberToObject(b, "max_tokens", max_tokens);
		if (system && *system) {
			cJSON *sys = cJSON_AddArrayToObject(b, "system"), *t = cJSON_CreateObject();
			cJSON_AddStringToObject(t, "type", "text");
			cJSON_AddStringToObject(t, "text", system);
			cache_point(t);
			cJSON_AddItemToArray(sys, t);
		}
		cJSON *msgs = anthropic_messages(messages, cfg->thinking_tokens > 0);
		/* the conversation so far is the next request's prefix: cached too */
		cJSON *last = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1),
							       "content");
		if (cJSON_GetArraySize(last))
			cache_point(cJSON_GetArrayItem(last, cJSON_GetArraySize(last) - 1));
		cJSON_AddItemToObject(b, "messages", msgs);
	}
	h += daimon_llm_auth_headers(cfg, out->headers + h);
	if (cJSON_GetArraySize(tools)) {
		cJSON *t = tools_json(cfg->provider, tools);
		if (cfg->provider == DAIMON_LLM_ANTHROPIC)
			cache_point(cJSON_GetArrayItem(t, cJSON_GetArraySize(t) - 1));
		cJSON_AddItemToObject(b, "tools", t);
	}
	daimon_json_print(&out->body, b);
	cJSON_Delete(b);
	out->http.method = "POST";
	out->http.url = out->url;
	out->http.body = out->body.ptr;
	out->http.body_len = out->body.len;
	out->http.headers = (const char *const *)out->headers;
	out->http.stream = 1;
	daimon_llm_limits lim = daimon_llm_limits_of(cfg);
	out->http.idle_timeout_ms = lim.idle_ms;
	out->http.timeout_ms = lim.max_stream_ms; /* (an endless stream ends) */
	return 0;
}

void daimon_llm_request_release(daimon_llm_request *r)
{
	free(r->url);
	daimon_buf_release(&r->body);
	for (int i = 0; i < 4; i++)
		free(r->headers[i]);
	memset(r, 0, sizeof(*r));
}

/* ---- the stream ---- */

struct call {
	int index; /* the provider's index (OpenAI tool index, Anthropic block index) */
	char *id, *name;
	daimon_buf args;
};

/* An Anthropic thinking block, kept whole to be sent back (its signature
 * proves it unaltered), or a redacted one (only its data). */
struct think {
	int index;
	int redacted;
	daimon_buf text; /* the thinking, or a redacted block's data */
	char *signature;
};

struct daimon_llm_stream {
	daimon_llm_provider provider;
	daimon_buf line, event, data; /* the SSE line being read, the event being built */
	daimon_buf errdoc;            /* a body that is a JSON error document, not a stream */
	size_t fed;                   /* bytes fed so far */
	daimon_buf text;
	size_t taken;
	daimon_buf thinking; /* the reasoning shown to nobody unless asked */
	size_t thinking_taken;
	struct think *thinks;
	size_t nthinks, capthinks;
	struct call *calls;
	size_t ncalls, capcalls;
	cJSON *calls_json;
	char *stop;
	int done, failed;
	int64_t in, out, cached;
	size_t max_bytes, answer_bytes; /* the bound on text and tool arguments (0: none), and what they hold */
	char bound[160];                /* why a bound stopped it */
};

/* Answer text or tool arguments, made valid UTF-8 as they enter (a model
 * may send broken bytes, and an API refuses them in the next request). */
static void add_text(daimon_llm_stream *s, daimon_buf *to, const char *text)
{
	size_t n = strlen(text), before = to->len;
	daimon_buf_add_utf8(to, text, n);
	s->answer_bytes += to->len - before;
}

void daimon_llm_stream_limit(daimon_llm_stream *s, size_t max_bytes)
{
	s->max_bytes = max_bytes;
}

size_t daimon_llm_stream_size(const daimon_llm_stream *s)
{
	return s->answer_bytes;
}

int daimon_llm_stream_bounded(const daimon_llm_stream *s)
{
	return s->bound[0] != 0;
}

/* Past the bound: the stream fails, whatever the server meant to send. */
static int over_bound(daimon_llm_stream *s, size_t pending)
{
	if (!s->max_bytes || s->answer_bytes + pending <= s->max_bytes)
		return 0;
	s->failed = 1;
	snprintf(s->bound, sizeof(s->bound), "the model's answer passed %zu KB (model.max_answer_kb); stopped",
		 s->max_bytes / 1024);
	return daimon_error("%s", s->bound);
}

daimon_llm_stream *daimon_llm_stream_new(daimon_llm_provider provider)
{
	daimon_llm_stream *s = daimon_xcalloc(1, sizeof(*s));
	s->provider = provider;
	return s;
}

void daimon_llm_stream_free(daimon_llm_stream *s)
{
	if (!s)
		return;
	daimon_buf_release(&s->line);
	daimon_buf_release(&s->errdoc);
	daimon_buf_release(&s->event);
	daimon_buf_release(&s->data);
	daimon_buf_release(&s->text);
	daimon_buf_release(&s->thinking);
	for (size_t i = 0; i < s->nthinks; i++) {
		daimon_buf_release(&s->thinks[i].text);
		free(s->thinks[i].signature);
	}
	free(s->thinks);
	for (size_t i = 0; i < s->ncalls; i++) {
		free(s->calls[i].id);
		free(s->calls[i].name);
		daimon_buf_release(&s->calls[i].args);
	}
	free(s->calls);
	cJSON_Delete(s->calls_json);
	free(s->stop);
	free(s);
}

static struct call *call_at(daimon_llm_stream *s, int index)
{
	for (size_t i = 0; i < s->ncalls; i++)
		if (s->calls[i].index == index)
			return &s->calls[i];
	if (s->ncalls == s->capcalls) {
		s->capcalls = s->capcalls ? 2 * s->capcalls : 4;
		s->calls = daimon_xrealloc(s->calls, s->capcalls * sizeof(*s->calls));
	}
	struct call *c = &s->calls[s->ncalls++];
	memset(c, 0, sizeof(*c));
	c->index = index;
	return c;
}

static struct think *think_at(daimon_llm_stream *s, int index)
{
	for (size_t i = 0; i < s->nthinks; i++)
		if (s->thinks[i].index == index)
			return &s->thinks[i];
	if (s->nthinks == s->capthinks) {
		s->capthinks = s->capthinks ? 2 * s->capthinks : 2;
		s->thinks = daimon_xrealloc(s->thinks, s->capthinks * sizeof(*s->thinks));
	}
	struct think *t = &s->thinks[s->nthinks++];
	memset(t, 0, sizeof(*t));
	t->index = index;
	return t;
}

static void set_str(char **dst, const char *v)
{
	if (v && *v) {
		free(*dst);
		*dst = daimon_xstrdup(v);
	}
}

static int provider_error(daimon_llm_stream *s, const cJSON *err)
{
	const char *msg = daimon_json_str(err, "message");
	s->failed = 1;
	return daimon_error("the model returned an error: %s", msg ? msg : "(no message)");
}

static int openai_event(daimon_llm_stream *s, cJSON *j)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (err)
		return provider_error(s, err);
	const cJSON *usage = cJSON_GetObjectItemCaseSensitive(j, "usage");
	if (cJSON_IsObject(usage)) {
		daimon_json_int(usage, "prompt_tokens", &s->in);
		daimon_json_int(usage, "completion_tokens", &s->out);
		daimon_json_int(cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details"), "cached_tokens",
				&s->cached);
	}
	const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
	if (!choice)
		return 0;
	const cJSON *delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
	const char *text = daimon_json_str(delta, "content");
	if (text)
		add_text(s, &s->text, text);
	/* DeepSeek, Qwen and vLLM say "reasoning_content", OpenRouter "reasoning" */
	const char *thought = daimon_json_str(delta, "reasoning_content");
	if ((thought || (thought = daimon_json_str(delta, "reasoning"))))
		add_text(s, &s->thinking, thought);
	const cJSON *calls = cJSON_GetObjectItemCaseSensitive(delta, "tool_calls");
	for (const cJSON *c = calls ? calls->child : NULL; c; c = c->next) {
		int64_t index = 0;
		daimon_json_int(c, "index", &index);
		struct call *k = call_at(s, (int)index);
		set_str(&k->id, daimon_json_str(c, "id"));
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "function");
		set_str(&k->name, daimon_json_str(fn, "name"));
		const char *args = daimon_json_str(fn, "arguments");
		if (args)
			add_text(s, &k->args, args);
	}
	set_str(&s->stop, daimon_json_str(choice, "finish_reason"));
	return 0;
}

static int anthropic_event(daimon_llm_stream *s, cJSON *j)
{
	const char *type = daimon_json_str(j, "type");
	if (!type)
		return 0;
	int64_t index = 0;
	daimon_json_int(j, "index", &index);
	if (!strcmp(type, "error"))
		return provider_error(s, cJSON_GetObjectItemCaseSensitive(j, "error"));
	if (!strcmp(type, "message_start")) {
		const cJSON *usage =
			cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "message"), "usage");
		daimon_json_int(usage, "input_tokens", &s->in);
		daimon_json_int(usage, "cache_read_input_tokens", &s->cached);
	} else if (!strcmp(type, "content_block_start")) {
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "content_block");
		const char *bt = daimon_json_str(b, "type");
		if (bt && !strcmp(bt, "tool_use")) {
			struct call *k = call_at(s, (int)index);
			set_str(&k->id, daimon_json_str(b, "id"));
			set_str(&k->name, daimon_json_str(b, "name"));
		} else if (bt && !strcmp(bt, "thinking")) {
			think_at(s, (int)index);
		} else if (bt && !strcmp(bt, "redacted_thinking") && daimon_json_str(b, "data")) {
			struct think *t = think_at(s, (int)index);
			t->redacted = 1;
			add_text(s, &t->text, daimon_json_str(b, "data"));
		}
	} else if (!strcmp(type, "content_block_delta")) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "delta");
		const char *dt = daimon_json_str(d, "type");
		if (dt && !strcmp(dt, "text_delta") && daimon_json_str(d, "text"))
			add_text(s, &s->text, daimon_json_str(d, "text"));
		else if (dt && !strcmp(dt, "input_json_delta") && daimon_json_str(d, "partial_json"))
			add_text(s, &call_at(s, (int)index)->args, daimon_json_str(d, "partial_json"));
		else if (dt && !strcmp(dt, "thinking_delta") && daimon_json_str(d, "thinking")) {
			const char *t = daimon_json_str(d, "thinking");
			add_text(s, &think_at(s, (int)index)->text, t);
			daimon_buf_add_utf8(&s->thinking, t, strlen(t)); /* (counted once) */
		} else if (dt && !strcmp(dt, "signature_delta"))
			set_str(&think_at(s, (int)index)->signature, daimon_json_str(d, "signature"));
	} else if (!strcmp(type, "message_delta")) {
		set_str(&s->stop, daimon_json_str(cJSON_GetObjectItemCaseSensitive(j, "delta"), "stop_reason"));
		daimon_json_int(cJSON_GetObjectItemCaseSensitive(j, "usage"), "output_tokens", &s->out);
	} else if (!strcmp(type, "message_stop")) {
		s->done = 1;
	}
	return 0;
}

static int dispatch(daimon_llm_stream *s)
{
	if (!s->data.len)
		return 0;
	int rc = 0;
	if (s->provider == DAIMON_LLM_OPENAI && !strcmp(s->data.ptr, "[DONE]")) {
		s->done = 1;
	} else {
		cJSON *j = cJSON_Parse(s->data.ptr);
		if (!cJSON_IsObject(j)) {
			s->failed = 1;
			rc = daimon_error_code(DAIMON_ECORRUPT, "the model's stream sent an event that is not JSON");
		} else {
			rc = s->provider == DAIMON_LLM_OPENAI ? openai_event(s, j) : anthropic_event(s, j);
		}
		cJSON_Delete(j);
	}
	daimon_buf_clear(&s->data);
	daimon_buf_clear(&s->event);
	return rc;
}

static int take_line(daimon_llm_stream *s, const char *line, size_t len)
{
	if (len && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return dispatch(s);
	if (line[0] == ':')
		return 0; /* a comment (keep-alive) */
	const char *colon = memchr(line, ':', len);
	size_t name_len = colon ? (size_t)(colon - line) : len;
	const char *value = colon ? colon + 1 : line + len;
	size_t value_len = colon ? len - name_len - 1 : 0;
	if (value_len && *value == ' ')
		value++, value_len--;
	if (name_len == 4 && !memcmp(line, "data", 4)) {
		if (s->data.len)
			daimon_buf_addc(&s->data, '\n');
		daimon_buf_add(&s->data, value, value_len);
	} else if (name_len == 5 && !memcmp(line, "event", 5)) {
		daimon_buf_clear(&s->event);
		daimon_buf_add(&s->event, value, value_len);
	}
	return 0;
}

int daimon_llm_stream_feed(daimon_llm_stream *s, const char *data, size_t len)
{
	if (s->failed)
		return -1;
	/* A body that starts as JSON is an error document, kept for the message
	 * (its first 64 KB). */
	if (s->errdoc.len || (!s->fed && len && data[0] == '{')) {
		if (s->errdoc.len < 65536)
			daimon_buf_add(&s->errdoc, data, len < 65536 - s->errdoc.len ? len : 65536 - s->errdoc.len);
		return 0;
	}
	s->fed += len;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (data + i)) : len - i;
		if (!nl) { /* (an unending line is bounded like the answer) */
			if (over_bound(s, s->line.len + n))
				return -1;
			daimon_buf_add(&s->line, data + i, n);
			break;
		}
		int rc;
		if (s->line.len) {
			daimon_buf_add(&s->line, data + i, n);
			rc = take_line(s, s->line.ptr, s->line.len);
			daimon_buf_clear(&s->line);
		} else {
			rc = take_line(s, data + i, n);
		}
		if (rc < 0)
			return rc;
		if (over_bound(s, 0))
			return -1;
		i += n + 1;
	}
	return 0;
}

int daimon_llm_stream_end(daimon_llm_stream *s, const daimon_llm_config *cfg, const daimon_http_result *r)
{
	if (s->bound[0]) /* (the transfer was stopped for it) */
		return daimon_error("%s", s->bound);
	if (r->curl_code || r->status < 200 || r->status > 299) {
		char *url = daimon_llm_url(cfg, DAIMON_LLM_CHAT);
		cJSON *j = r->curl_code ? NULL : cJSON_Parse(daimon_buf_cstr(&s->errdoc));
		const char *msg = daimon_json_str(cJSON_GetObjectItemCaseSensitive(j, "error"), "message");
		int rc = r->curl_code ? daimon_error("cannot reach the model at %s: %s", url, r->error)
				      : daimon_error("the model at %s answered HTTP %ld%s%s", url, r->status,
						     msg ? ": " : "", msg ? msg : "");
		cJSON_Delete(j);
		free(url);
		return rc;
	}
	return daimon_llm_stream_finish(s);
}

int daimon_llm_stream_finish(daimon_llm_stream *s)
{
	if (s->failed)
		return -1;
	if (s->line.len) { /* a last line without its newline */
		take_line(s, s->line.ptr, s->line.len);
		daimon_buf_clear(&s->line);
	}
	dispatch(s);
	if (!s->done)
		return daimon_error_code(DAIMON_ECORRUPT, "the model's answer was cut off before its end");
	return 0;
}

size_t daimon_llm_stream_take_delta(daimon_llm_stream *s, daimon_buf *out)
{
	size_t n = s->text.len - s->taken;
	daimon_buf_add(out, s->text.ptr ? s->text.ptr + s->taken : "", n);
	s->taken = s->text.len;
	return n;
}

size_t daimon_llm_stream_take_thinking(daimon_llm_stream *s, daimon_buf *out)
{
	size_t n = s->thinking.len - s->thinking_taken;
	daimon_buf_add(out, s->thinking.ptr ? s->thinking.ptr + s->thinking_taken : "", n);
	s->thinking_taken = s->thinking.len;
	return n;
}

cJSON *daimon_llm_stream_reasoning(const daimon_llm_stream *s)
{
	if (!s->thinking.len && !s->nthinks)
		return NULL;
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "text", daimon_buf_cstr(&s->thinking));
	if (s->nthinks) {
		cJSON *blocks = cJSON_AddArrayToObject(r, "blocks");
		for (size_t i = 0; i < s->nthinks; i++) {
			const struct think *t = &s->thinks[i];
			cJSON *b = cJSON_CreateObject();
			cJSON_AddStringToObject(b, "type", t->redacted ? "redacted_thinking" : "thinking");
			cJSON_AddStringToObject(b, t->redacted ? "data" : "thinking", daimon_buf_cstr(&t->text));
			if (!t->redacted)
				cJSON_AddStringToObject(b, "signature", t->signature ? t->signature : "");
			cJSON_AddItemToArray(blocks, b);
		}
	}
	return r;
}

const char *daimon_llm_stream_text(const daimon_llm_stream *s)
{
	return daimon_buf_cstr(&s->text);
}

const cJSON *daimon_llm_stream_tool_calls(const daimon_llm_stream *s)
{
	daimon_llm_stream *m = (daimon_llm_stream *)s;
	cJSON_Delete(m->calls_json);
	m->calls_json = cJSON_CreateArray();
	for (size_t i = 0; i < s->ncalls; i++) {
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "id", s->calls[i].id ? s->calls[i].id : "");
		cJSON_AddStringToObject(c, "name", s->calls[i].name ? s->calls[i].name : "");
		cJSON_AddStringToObject(c, "arguments", s->calls[i].args.len ? s->calls[i].args.ptr : "{}");
		cJSON_AddItemToArray(m->calls_json, c);
	}
	return m->calls_json;
}

const char *daimon_llm_stream_stop_reason(const daimon_llm_stream *s)
{
	return s->stop ? s->stop : "";
}

void daimon_llm_stream_usage(const daimon_llm_stream *s, int64_t *in, int64_t *out, int64_t *cached)
{
	*in = s->in;
	*out = s->out;
	*cached = s->cached;
}
