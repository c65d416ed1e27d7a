/*
 * test_llm.c — the model client: SSE decoding for both wire formats at
 * every possible split of the stream, a cut-off stream as an error, and
 * streamed answers and fragmented tool calls from the real mock
 * (@copilotkit/aimock, tests/peers) through the http actor, with the
 * request checked in aimock's journal.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/actor.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/http.h"
#include "core/jsonutil.h"
#include "core/llm.h"
#include "core/provider.h"
#include "tests/aimock.h"
#include "tests/test.h"

static const char openai_stream[] =
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null}}]}\n\n"
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Let me \"}}]}\n\n"
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"check. ü\"}}]}\n\n"
	": keep-alive\n\n"
	"data: "
	"{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\","
	"\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}\n\n"
	"data: "
	"{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"cit\"}}]"
	"}}]}\n\n"
	"data: "
	"{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"y\\\":"
	"\\\"Oslo\\\"}\"}}]}}]}\n\n"
	"data: "
	"{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":12,"
	"\"completion_tokens\":7,\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n"
	"data: [DONE]\n\n";

static const char anthropic_stream[] =
	"event: message_start\r\ndata: "
	"{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":9}}}\r\n\r\n"
	"event: content_block_start\r\ndata: "
	"{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\r\n\r\n"
	"event: content_block_delta\r\ndata: "
	"{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Let me check. "
	"ü\"}}\r\n\r\n"
	"event: content_block_start\r\ndata: "
	"{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\","
	"\"name\":\"get_weather\",\"input\":{}}}\r\n\r\n"
	"event: content_block_delta\r\ndata: "
	"{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{"
	"\\\"cit\"}}\r\n\r\n"
	"event: content_block_delta\r\ndata: "
	"{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":"
	"\"y\\\":\\\"Oslo\\\"}\"}}\r\n\r\n"
	"event: message_delta\r\ndata: "
	"{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":7}}\r\n\r\n"
	"event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n";

/* Feeds `text` split at `cut`, and checks what was assembled. */
static int decode_split(daimon_llm_provider p, const char *text, size_t cut, const char *want_id)
{
	daimon_llm_stream *s = daimon_llm_stream_new(p);
	size_t n = strlen(text);
	int ok = daimon_llm_stream_feed(s, text, cut) == 0 && daimon_llm_stream_feed(s, text + cut, n - cut) == 0 &&
		 daimon_llm_stream_finish(s) == 0 && !strcmp(daimon_llm_stream_text(s), "Let me check. ü");
	const cJSON *calls = daimon_llm_stream_tool_calls(s);
	const cJSON *c = cJSON_GetArrayItem(calls, 0);
	ok = ok && cJSON_GetArraySize(calls) == 1 && !strcmp(daimon_json_str(c, "id"), want_id) &&
	     !strcmp(daimon_json_str(c, "name"), "get_weather") &&
	     !strcmp(daimon_json_str(c, "arguments"), "{\"city\":\"Oslo\"}");
	int64_t in, out, cached;
	daimon_llm_stream_usage(s, &in, &out, &cached);
	ok = ok && out == 7 && in == (p == DAIMON_LLM_OPENAI ? 12 : 9);
	if (!ok)
		fprintf(stderr, "split at %zu: text '%s'\n", cut, daimon_llm_stream_text(s));
	daimon_llm_stream_free(s);
	return ok;
}

static void test_llm__streams_decode_at_every_split(void)
{
	for (size_t cut = 0; cut <= strlen(openai_stream); cut++)
		CHECK(decode_split(DAIMON_LLM_OPENAI, openai_stream, cut, "call_1"));
	for (size_t cut = 0; cut <= strlen(anthropic_stream); cut++)
		CHECK(decode_split(DAIMON_LLM_ANTHROPIC, anthropic_stream, cut, "toolu_1"));
}

static void test_llm__a_cut_stream_is_an_error_not_an_answer(void)
{
	for (int p = 0; p < 2; p++) {
		const char *text = p ? anthropic_stream : openai_stream;
		daimon_llm_stream *s = daimon_llm_stream_new(p ? DAIMON_LLM_ANTHROPIC : DAIMON_LLM_OPENAI);
		CHECK_INT(daimon_llm_stream_feed(s, text, strlen(text) / 2), 0);
		CHECK_INT(daimon_llm_stream_finish(s), DAIMON_ECORRUPT);
		CHECK_CONTAINS(daimon_error_last(), "cut off");
		daimon_llm_stream_free(s);
	}
	daimon_llm_stream *s = daimon_llm_stream_new(DAIMON_LLM_OPENAI);
	const char *err = "data: {\"error\":{\"message\":\"rate limited\"}}\n\n";
	CHECK(daimon_llm_stream_feed(s, err, strlen(err)) < 0);
	CHECK_CONTAINS(daimon_error_last(), "the model returned an error: rate limited");
	daimon_llm_stream_free(s);
}

/* ---- against aimock ---- */

struct asker {
	daimon_aid http;
	daimon_llm_config cfg;
	const char *question;
	daimon_llm_stream *stream;
	daimon_llm_request req;
	_Atomic int done;
	int finish_rc;
	int chunks;
	long status;
};

static int asker_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct asker *a = state;
	if (m->type == 1) {
		cJSON *msgs = cJSON_CreateArray();
		cJSON *u = cJSON_CreateObject();
		cJSON_AddStringToObject(u, "role", "user");
		cJSON_AddStringToObject(u, "content", a->question);
		cJSON_AddItemToArray(msgs, u);
		cJSON *tools = cJSON_Parse("[{\"name\":\"get_weather\",\"description\":\"Weather now\",\"parameters\":"
					   "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}]");
		a->stream = daimon_llm_stream_new(a->cfg.provider);
		if (daimon_llm_build(&a->req, &a->cfg, "You are terse.", msgs, tools) < 0 ||
		    !daimon_http_request(ctx, a->http, &a->req.http))
			return DAIMON_EXIT_CRASHED;
		cJSON_Delete(msgs);
		cJSON_Delete(tools);
	} else if (m->type == DAIMON_MSG_HTTP_CHUNK) {
		const daimon_http_chunk *c = m->data;
		daimon_llm_stream_feed(a->stream, c->data, c->len);
		a->chunks++;
	} else if (m->type == DAIMON_MSG_HTTP_DONE) {
		const daimon_http_result *r = m->data;
		a->status = r->status;
		a->finish_rc = r->curl_code ? -1 : daimon_llm_stream_finish(a->stream);
		daimon_llm_request_release(&a->req);
		atomic_store(&a->done, 1);
	}
	return DAIMON_CONTINUE;
}

static const daimon_behaviour asker_b = {.name = "asker", .handle = asker_handle};

static void ask(daimon_rt *rt, daimon_aid http, struct asker *a, daimon_llm_provider p, int port, const char *q)
{
	memset(a, 0, sizeof(*a));
	static char base[64];
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	a->http = http;
	a->cfg = (daimon_llm_config){.provider = p,
				     .base_url = base,
				     .api_key = "sk-test-not-a-secret",
				     .model = "test-model",
				     .max_tokens = 256};
	a->question = q;
	daimon_spawn_opts o = {.behaviour = &asker_b, .state = a};
	daimon_send(rt, daimon_spawn(rt, &o), 1, NULL, 0);
}

static void test_llm__the_end_of_a_transfer_says_what_went_wrong(void)
{
	daimon_llm_config cfg = {.provider = DAIMON_LLM_OPENAI, .base_url = "http://127.0.0.1:1", .model = "m"};
	/* an error document, in two pieces, is kept for its message */
	daimon_llm_stream *s = daimon_llm_stream_new(DAIMON_LLM_OPENAI);
	static const char a[] = "{\"error\":{\"mess", b[] = "age\":\"bad model name\"}}";
	CHECK_INT(daimon_llm_stream_feed(s, a, strlen(a)), 0);
	CHECK_INT(daimon_llm_stream_feed(s, b, strlen(b)), 0);
	daimon_http_result r = {.status = 400};
	CHECK(daimon_llm_stream_end(s, &cfg, &r) < 0);
	CHECK_STR(daimon_error_last(),
		  "the model at http://127.0.0.1:1/v1/chat/completions answered HTTP 400: bad model name");
	daimon_llm_stream_free(s);
	/* a stream whose chunk starts with '{' mid-way is still a stream */
	s = daimon_llm_stream_new(DAIMON_LLM_OPENAI);
	const char *split = strstr(openai_stream, "{");
	CHECK_INT(daimon_llm_stream_feed(s, openai_stream, (size_t)(split - openai_stream)), 0);
	CHECK_INT(daimon_llm_stream_feed(s, split, strlen(split)), 0);
	r.status = 200;
	CHECK_INT(daimon_llm_stream_end(s, &cfg, &r), 0);
	CHECK(daimon_llm_stream_text(s)[0]);
	daimon_llm_stream_free(s);
	/* no connection */
	s = daimon_llm_stream_new(DAIMON_LLM_OPENAI);
	daimon_http_result gone = {.curl_code = 7};
	snprintf(gone.error, sizeof(gone.error), "Couldn't connect to server");
	CHECK(daimon_llm_stream_end(s, &cfg, &gone) < 0);
	CHECK_STR(daimon_error_last(),
		  "cannot reach the model at http://127.0.0.1:1/v1/chat/completions: Couldn't connect to server");
	daimon_llm_stream_free(s);
}

static void test_llm__answers_and_fragmented_tool_calls_from_aimock(void)
{
	struct aimock mk;
	CHECK_INT(aimock_start(&mk,
			       "{\"fixtures\":["
			       "{\"match\":{\"userMessage\":\"weather\"},\"response\":{\"toolCalls\":[{\"id\":\"call_"
			       "w\",\"name\":"
			       "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Lisbon\\\",\\\"unit\\\":"
			       "\\\"celsius\\\"}\"}]}},"
			       "{\"match\":{\"userMessage\":\"hello\"},\"response\":{\"content\":\"Hello there, how "
			       "can I help "
			       "you today?\"}}]}",
			       5, 0),
		  0);
	daimon_rt *rt;
	daimon_rt_new(&rt, NULL);
	daimon_aid http = daimon_http_start(rt, 0);
	for (int p = 0; p < 2; p++) {
		daimon_llm_provider prov = p ? DAIMON_LLM_ANTHROPIC : DAIMON_LLM_OPENAI;
		struct asker a;
		ask(rt, http, &a, prov, mk.port, "hello");
		EVENTUALLY(atomic_load(&a.done));
		CHECK_INT(a.status, 200);
		CHECK_INT(a.finish_rc, 0);
		CHECK_STR(daimon_llm_stream_text(a.stream), "Hello there, how can I help you today?");
		CHECK(a.chunks >= 1);
		daimon_llm_stream_free(a.stream);

		ask(rt, http, &a, prov, mk.port, "what is the weather in Lisbon?");
		EVENTUALLY(atomic_load(&a.done));
		CHECK_INT(a.finish_rc, 0);
		const cJSON *c = cJSON_GetArrayItem(daimon_llm_stream_tool_calls(a.stream), 0);
		CHECK_STR(daimon_json_str(c, "name"), "get_weather");
		CHECK_STR(daimon_json_str(c, "arguments"), "{\"city\":\"Lisbon\",\"unit\":\"celsius\"}");
		CHECK_STR(daimon_llm_stream_stop_reason(a.stream), p ? "tool_use" : "tool_calls");
		daimon_llm_stream_free(a.stream);
	}
	/* What was sent, as aimock saw it. */
	daimon_buf j = DAIMON_BUF_INIT;
	CHECK_INT(aimock_get(&mk, "/__aimock/journal?limit=10", &j), 200);
	CHECK_CONTAINS(j.ptr, "\"stream\":true");
	CHECK_CONTAINS(j.ptr, "You are terse.");
	CHECK_CONTAINS(j.ptr, "get_weather");
	CHECK_CONTAINS(j.ptr, "/v1/messages");
	CHECK_CONTAINS(j.ptr, "/v1/chat/completions");
	daimon_buf_release(&j);
	daimon_rt_free(rt);
	aimock_stop(&mk);
}

/* Where a request goes and who it says it is, for each way a base URL
 * is written (the SDKs' convention: OpenAI-compatible ones carry their
 * version path) and for every named provider. */
static void test_llm__base_urls_follow_each_sdk(void)
{
	static const struct {
		int wire;
		const char *base, *chat, *models;
	} cases[] = {
		{DAIMON_LLM_OPENAI, "http://127.0.0.1:11434", "http://127.0.0.1:11434/v1/chat/completions",
		 "http://127.0.0.1:11434/v1/models"},
		{DAIMON_LLM_OPENAI, "http://127.0.0.1:8080/v1/", "http://127.0.0.1:8080/v1/chat/completions",
		 "http://127.0.0.1:8080/v1/models"},
		{DAIMON_LLM_OPENAI, "https://api.z.ai/api/paas/v4", "https://api.z.ai/api/paas/v4/chat/completions",
		 "https://api.z.ai/api/paas/v4/models"},
		{DAIMON_LLM_ANTHROPIC, "https://api.anthropic.com", "https://api.anthropic.com/v1/messages",
		 "https://api.anthropic.com/v1/models"},
		{DAIMON_LLM_ANTHROPIC, "http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1/messages",
		 "http://127.0.0.1:9/v1/models"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		daimon_llm_config cfg = {.provider = cases[i].wire, .base_url = cases[i].base};
		char *chat = daimon_llm_url(&cfg, DAIMON_LLM_CHAT), *models = daimon_llm_url(&cfg, DAIMON_LLM_MODELS);
		CHECK_STR(chat, cases[i].chat);
		CHECK_STR(models, cases[i].models);
		free(chat);
		free(models);
	}
	static const struct {
		const char *name, *chat;
	} named[] = {
		{"openai", "https://api.openai.com/v1/chat/completions"},
		{"anthropic", "https://api.anthropic.com/v1/messages"},
		{"openrouter", "https://openrouter.ai/api/v1/chat/completions"},
		{"groq", "https://api.groq.com/openai/v1/chat/completions"},
		{"gemini", "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"},
		{"deepseek", "https://api.deepseek.com/v1/chat/completions"},
		{"mistral", "https://api.mistral.ai/v1/chat/completions"},
		{"together", "https://api.together.xyz/v1/chat/completions"},
		{"xai", "https://api.x.ai/v1/chat/completions"},
		{"ollama", "http://127.0.0.1:11434/v1/chat/completions"},
		{"llamacpp", "http://127.0.0.1:8080/v1/chat/completions"},
		{"vllm", "http://127.0.0.1:8000/v1/chat/completions"},
		{"lmstudio", "http://127.0.0.1:1234/v1/chat/completions"},
	};
	size_t n = 0;
	for (const daimon_provider *p = daimon_providers; p->name; p++)
		n++;
	CHECK_INT(n, sizeof(named) / sizeof(named[0]));
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		const daimon_provider *p = daimon_provider_named(named[i].name);
		CHECK(p != NULL);
		daimon_llm_config cfg = {.provider = p->wire, .base_url = p->base_url, .model = "m", .api_key = "k"};
		daimon_llm_request r;
		CHECK_INT(daimon_llm_build(&r, &cfg, "sys", NULL, NULL), 0);
		CHECK_STR(r.url, named[i].chat);
		/* the key in the header its API reads */
		const char *want = p->wire == DAIMON_LLM_ANTHROPIC ? "x-api-key: k" : "Authorization: Bearer k";
		int found = 0;
		for (int h = 0; r.headers[h]; h++)
			found += !strcmp(r.headers[h], want);
		CHECK_INT(found, 1);
		daimon_llm_request_release(&r);
	}
	CHECK(daimon_provider_named("gemeni") == NULL);
}

static int count(const char *s, const char *what)
{
	int n = 0;
	for (; (s = strstr(s, what)); s++)
		n++;
	return n;
}

/* Anthropic's requests mark the system prompt, the tools and the
 * conversation so far for its prompt cache; OpenAI's need nothing. */
static void test_llm__anthropic_requests_carry_cache_breakpoints(void)
{
	cJSON *msgs = cJSON_Parse("[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":"
				  "\"hello\"},{\"role\":\"user\",\"content\":\"again\"}]");
	cJSON *tools = cJSON_Parse("[{\"name\":\"a\",\"description\":\"A\",\"parameters\":{}},{\"name\":\"b\","
				   "\"description\":\"B\",\"parameters\":{}}]");
	daimon_llm_config cfg = {.provider = DAIMON_LLM_ANTHROPIC, .base_url = "http://x", .model = "m"};
	daimon_llm_request r;
	CHECK_INT(daimon_llm_build(&r, &cfg, "be brief", msgs, tools), 0);
	const char *body = daimon_buf_cstr(&r.body);
	CHECK_CONTAINS(body, "\"system\":[{\"type\":\"text\",\"text\":\"be brief\",\"cache_control\":{\"type\":"
			     "\"ephemeral\"}}]");
	CHECK_CONTAINS(body, "{\"type\":\"text\",\"text\":\"again\",\"cache_control\":{\"type\":\"ephemeral\"}}");
	CHECK_CONTAINS(body, "\"name\":\"b\",\"description\":\"B\",\"input_schema\":{},\"cache_control\"");
	CHECK_INT(count(body, "cache_control"), 3); /* (Anthropic allows four) */
	daimon_llm_request_release(&r);
	cfg.provider = DAIMON_LLM_OPENAI;
	CHECK_INT(daimon_llm_build(&r, &cfg, "be brief", msgs, tools), 0);
	CHECK_INT(count(daimon_buf_cstr(&r.body), "cache_control"), 0);
	daimon_llm_request_release(&r);
	cJSON_Delete(msgs);
	cJSON_Delete(tools);
}

/* A message's images go as each API takes them: OpenAI's data-URL
 * parts after the text, Anthropic's base64 blocks before it; one that
 * is only named (no data) is not sent. */
static void test_llm__images_go_as_each_api_takes_them(void)
{
	daimon_buf b = DAIMON_BUF_INIT;
	daimon_buf_add_base64(&b, "a", 1);
	daimon_buf_add_base64(&b, "hi", 2);
	daimon_buf_add_base64(&b, "abc\xff", 4);
	CHECK_STR(daimon_buf_cstr(&b), "YQ==aGk=YWJj/w==");
	daimon_buf_clear(&b);
	CHECK_INT(daimon_buf_add_unbase64(&b, "YWJj\n/w==", 9), 0);
	CHECK_INT((int)b.len, 4);
	CHECK(!memcmp(b.ptr, "abc\xff", 4));
	CHECK_INT(daimon_buf_add_unbase64(&b, "YQ==YQ", 6), -1); /* (data after the padding) */
	CHECK_INT(daimon_buf_add_unbase64(&b, "Y*Q=", 4), -1);
	CHECK_INT((int)b.len, 4);
	daimon_buf_release(&b);
	cJSON *msgs = cJSON_Parse(
		"[{\"role\":\"user\",\"content\":\"what is this?\",\"images\":[{\"mime\":"
		"\"image/png\",\"data\":\"iVBORw0K\"},{\"mime\":\"image/jpeg\",\"path\":\"inbox/x.jpg\"}]}]");
	daimon_llm_config cfg = {.provider = DAIMON_LLM_OPENAI, .base_url = "http://x", .model = "m"};
	daimon_llm_request r;
	CHECK_INT(daimon_llm_build(&r, &cfg, NULL, msgs, NULL), 0);
	CHECK_CONTAINS(daimon_buf_cstr(&r.body),
		       "\"content\":[{\"type\":\"text\",\"text\":\"what is this?\"},{\"type\":\"image_url\","
		       "\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0K\"}}]");
	CHECK_INT(count(daimon_buf_cstr(&r.body), "image_url\":{"), 1);
	daimon_llm_request_release(&r);
	cfg.provider = DAIMON_LLM_ANTHROPIC;
	CHECK_INT(daimon_llm_build(&r, &cfg, NULL, msgs, NULL), 0);
	CHECK_CONTAINS(daimon_buf_cstr(&r.body),
		       "\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
		       "\"image/png\",\"data\":\"iVBORw0K\"}},{\"type\":\"text\",\"text\":\"what is this?\"");
	CHECK_INT(count(daimon_buf_cstr(&r.body), "\"type\":\"image\""), 1);
	daimon_llm_request_release(&r);
	cJSON_Delete(msgs);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	static const struct test_case cases[] = {
		TEST_CASE(test_llm__streams_decode_at_every_split),
		TEST_CASE(test_llm__a_cut_stream_is_an_error_not_an_answer),
		TEST_CASE(test_llm__the_end_of_a_transfer_says_what_went_wrong),
		TEST_CASE(test_llm__answers_and_fragmented_tool_calls_from_aimock),
		TEST_CASE(test_llm__base_urls_follow_each_sdk),
		TEST_CASE(test_llm__anthropic_requests_carry_cache_breakpoints),
		TEST_CASE(test_llm__images_go_as_each_api_takes_them),
		{0},
	};
	return test_main(argc, argv, cases);
}
