/*
 * test_config.c — the model settings: environment over config.json,
 * errors that name the setting, and the search for a local Ollama when
 * nothing is configured (a stand-in answering Ollama's /api/tags on its
 * default port).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/config.h"
#include "core/error.h"
#include "tests/test.h"

static const char *const vars[] = {
	"DAIMON_PROVIDER", "DAIMON_BASE_URL", "DAIMON_API_KEY",    "DAIMON_MODEL", "DAIMON_WIRE",
	"OPENAI_API_KEY",  "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "GROQ_API_KEY", NULL};

static void clear_env(void)
{
	for (const char *const *v = vars; *v; v++)
		unsetenv(*v);
}

static void test_config__environment_over_file_and_named_errors(void)
{
	clear_env();
	const char *home = test_tmpdir();
	char path[256];
	snprintf(path, sizeof(path), "%s/config.json", home);
	test_write(path,
		   "{\"model\":{\"provider\":\"anthropic\",\"model\":\"from-file\",\"base_url\":\"http://file\"}}");
	daimon_model_settings ms;
	CHECK_INT(daimon_model_settings_load(&ms, home), 0);
	CHECK_INT(ms.llm.provider, DAIMON_LLM_ANTHROPIC);
	CHECK_STR(ms.model, "from-file");
	CHECK_STR(ms.base_url, "http://file");
	daimon_model_settings_release(&ms);
	setenv("DAIMON_MODEL", "from-env", 1);
	setenv("ANTHROPIC_API_KEY", "sk-ant", 1);
	CHECK_INT(daimon_model_settings_load(&ms, home), 0);
	CHECK_STR(ms.model, "from-env");
	CHECK_STR(ms.api_key, "sk-ant");
	daimon_model_settings_release(&ms);
	setenv("DAIMON_PROVIDER", "gemeni", 1);
	CHECK_INT(daimon_model_settings_load(&ms, home), DAIMON_EINVAL);
	CHECK_CONTAINS(daimon_error_last(), "unknown model provider 'gemeni' (one of: openai, anthropic, openrouter");
	/* a named provider knows its wire, its base URL and its key's variable */
	test_write(path, "{}");
	setenv("DAIMON_PROVIDER", "groq", 1);
	setenv("GROQ_API_KEY", "gsk-1\n", 1); /* (as a key file's contents come, with their newline) */
	CHECK_INT(daimon_model_settings_load(&ms, home), 0);
	CHECK_INT(ms.llm.provider, DAIMON_LLM_OPENAI);
	CHECK_STR(ms.base_url, "https://api.groq.com/openai/v1");
	CHECK_STR(ms.base_url_from, "the provider's default");
	CHECK_STR(ms.api_key, "gsk-1");
	CHECK_STR(ms.key_from, "GROQ_API_KEY");
	daimon_model_settings_release(&ms);
	unsetenv("GROQ_API_KEY");
	/* another provider: a base URL and a wire format */
	test_write(path, "{\"model\":{\"base_url\":\"https://example.test/api/paas/v4\",\"wire\":\"anthropic\"}}");
	unsetenv("DAIMON_PROVIDER");
	CHECK_INT(daimon_model_settings_load(&ms, home), 0);
	CHECK_INT(ms.llm.provider, DAIMON_LLM_ANTHROPIC);
	CHECK_STR(ms.base_url_from, "model.base_url");
	daimon_model_settings_release(&ms);
	/* fallbacks: named providers at their own URLs with their own keys */
	test_write(path, "{\"model\":{\"fallbacks\":[\"groq/llama-3.3\",\"ollama/qwen3:8b\"]}}");
	setenv("GROQ_API_KEY", "gsk-2", 1);
	CHECK_INT(daimon_model_settings_load(&ms, home), 0);
	CHECK(ms.llm.fallback != NULL);
	CHECK_STR(ms.llm.fallback->base_url, "https://api.groq.com/openai/v1");
	CHECK_STR(ms.llm.fallback->model, "llama-3.3");
	CHECK_STR(ms.llm.fallback->api_key, "gsk-2");
	CHECK_STR(ms.llm.fallback->fallback->provider_name, "ollama");
	CHECK(ms.llm.fallback->fallback->api_key == NULL);
	CHECK(ms.llm.fallback->fallback->fallback == NULL);
	daimon_model_settings_release(&ms);
	unsetenv("GROQ_API_KEY");
	test_write(path, "{\"model\":{\"summary_model\":\"ollama/small\"}}");
	CHECK_INT(daimon_model_settings_load(&ms, home), 0);
	CHECK(ms.llm.fallback == NULL);
	CHECK_STR(ms.llm.summarizer->model, "small");
	CHECK_STR(ms.llm.summarizer->base_url, "http://127.0.0.1:11434/v1");
	daimon_model_settings_release(&ms);
	test_write(path, "{\"model\":{\"fallbacks\":[\"gpt-5\"]}}");
	CHECK_INT(daimon_model_settings_load(&ms, home), DAIMON_EINVAL);
	CHECK_CONTAINS(daimon_error_last(), "model.fallbacks: 'gpt-5' is not \"provider/model\"");
	test_write(path, "{}");
	setenv("DAIMON_BASE_URL", "127.0.0.1:8080/v1", 1);
	CHECK_INT(daimon_model_settings_load(&ms, home), DAIMON_EINVAL);
	CHECK_STR(daimon_error_last(),
		  "the model's base URL '127.0.0.1:8080/v1' (DAIMON_BASE_URL) needs http:// or https://");
	unsetenv("DAIMON_BASE_URL");
	test_write(path, "{not json");
	unsetenv("DAIMON_PROVIDER");
	CHECK_INT(daimon_model_settings_load(&ms, home), DAIMON_EINVAL);
	CHECK_CONTAINS(daimon_error_last(), "config.json' is not valid JSON");
	clear_env();
}

struct ollama {
	int fd;
	_Atomic int stop;
};

static void *serve_tags(void *arg)
{
	struct ollama *o = arg;
	while (!atomic_load(&o->stop)) {
		struct pollfd p = {o->fd, POLLIN, 0};
		if (poll(&p, 1, 50) <= 0)
			continue;
		int c = accept(o->fd, NULL, NULL);
		char req[2048];
		if (c < 0 || recv(c, req, sizeof(req), 0) <= 0) {
			if (c >= 0)
				close(c);
			continue;
		}
		const char *body = "{\"models\":[{\"name\":\"qwen3:8b\",\"size\":100}]}";
		char r[512];
		snprintf(r, sizeof(r),
			 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n%s",
			 strlen(body), body);
		(void)!write(c, r, strlen(r));
		close(c);
	}
	return NULL;
}

static void test_config__nothing_configured_finds_a_local_ollama(void)
{
	clear_env();
	const char *home = test_tmpdir();
	daimon_model_settings ms;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {
		.sin_family = AF_INET, .sin_port = htons(11434), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0) {
		fprintf(stderr, "port 11434 is taken here; cannot stand in for Ollama\n");
		test_failed = 1;
		close(fd);
		return;
	}
	struct ollama o = {fd, 0};
	pthread_t t;
	pthread_create(&t, NULL, serve_tags, &o);
	int rc = daimon_model_settings_load(&ms, home);
	atomic_store(&o.stop, 1);
	pthread_join(t, NULL);
	close(fd);
	CHECK_INT(rc, 0);
	CHECK_INT(ms.llm.provider, DAIMON_LLM_OPENAI);
	CHECK_STR(ms.base_url, "http://127.0.0.1:11434/v1");
	CHECK_STR(ms.provider, "ollama");
	CHECK_CONTAINS(ms.note, "using 'qwen3:8b' from ollama");
	CHECK_STR(ms.model, "qwen3:8b");
	daimon_model_settings_release(&ms);
	/* Nobody there now: the error says what to set. */
	CHECK_INT(daimon_model_settings_load(&ms, home), DAIMON_EINVAL);
	CHECK_CONTAINS(daimon_error_last(), "no model configured (and no local Ollama or llama.cpp server answering): "
					    "set DAIMON_MODEL");
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		TEST_CASE(test_config__environment_over_file_and_named_errors),
		TEST_CASE(test_config__nothing_configured_finds_a_local_ollama),
		{0},
	};
	return test_main(argc, argv, cases);
}
