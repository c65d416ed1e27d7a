/*
 * cmd-ask.c — `daimon ask`: one turn with the assistant. The answer
 * streams to stdout as it arrives; the question and the answer go into
 * the session's log (committed before this command reports success) and
 * the search index.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/jsonutil.h"

static void print_json(const struct cli_turn *t)
{
	daimon_buf b = DAIMON_BUF_INIT;
	daimon_buf_adds(&b, "{\"session\":");
	daimon_json_quote(&b, t->done.session);
	daimon_buf_adds(&b, ",\"answer\":");
	daimon_json_quote(&b, daimon_buf_cstr(&t->answer));
	if (t->show_thinking) {
		daimon_buf_adds(&b, ",\"thinking\":");
		daimon_json_quote(&b, daimon_buf_cstr(&t->thinking));
	}
	daimon_buf_addf(&b, ",\"tokens_in\":%lld,\"tokens_out\":%lld}\n", (long long)t->done.tokens_in,
			(long long)t->done.tokens_out);
	fwrite(b.ptr, 1, b.len, stdout);
	daimon_buf_release(&b);
}

static int exec_ask(const struct daimon_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'},
					     {"json", no_argument, 0, 'j'},
					     {"session", required_argument, 0, 's'},
					     {"show-thinking", no_argument, 0, 'T'},
					     {0}};
	int json = 0, thinking = 0, c;
	char key[256] = "cli:default";
	while ((c = getopt_long(argc, argv, "hjs:", opts, NULL)) != -1) {
		if (c == 'h')
			return cli_help(cmd);
		else if (c == 'j')
			json = 1;
		else if (c == 's')
			snprintf(key, sizeof(key), "%s", optarg);
		else if (c == 'T')
			thinking = 1;
		else
			return cli_usage_error(cmd, "unknown option");
	}
	daimon_buf question = DAIMON_BUF_INIT;
	for (int i = optind; i < argc; i++) {
		if (question.len)
			daimon_buf_addc(&question, ' ');
		daimon_buf_adds(&question, argv[i]);
	}
	if (!question.len && !isatty(STDIN_FILENO)) {
		char buf[4096];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
			daimon_buf_add(&question, buf, n);
	}
	while (question.len && (question.ptr[question.len - 1] == '\n' || question.ptr[question.len - 1] == ' '))
		question.ptr[--question.len] = '\0';
	if (!question.len) {
		daimon_buf_release(&question);
		return cli_usage_error(cmd, "what should I ask? (give the text, or pipe it in)");
	}
	daimon_store st;
	daimon_index *ix;
	if (cli_open(&st, &ix, 0) < 0) {
		daimon_buf_release(&question);
		return cli_fail();
	}
	if (cli_conversation_key(&st, key, sizeof(key)) < 0) {
		daimon_buf_release(&question);
		daimon_index_close(ix);
		daimon_store_release(&st);
		return cli_fail();
	}
	struct cli_conn conn;
	daimon_local *local;
	int rc = cli_daemon_connect(&conn, &local, st.home) < 0 ? cli_fail() : 0;
	struct cli_turn t;
	cli_turn_init(&t, &conn, json);
	t.show_thinking = thinking;
	if (rc == 0) {
		cli_turn_ask(&t, key, question.ptr, NULL);
		if (t.done.status < 0)
			rc = cli_error("%s", t.done.error);
		else if (json)
			print_json(&t);
	}
	cli_daemon_disconnect(&conn, local);
	/* (search finds it at once: the index takes the session now) */
	if (t.done.session[0])
		daimon_index_update_session(ix, t.done.session, NULL);
	cli_turn_release(&t);
	daimon_index_close(ix);
	daimon_store_release(&st);
	daimon_buf_release(&question);
	return rc;
}

const struct daimon_cmd daimon_cmd_ask = {
	"ask",
	"ask [--session KEY] [--show-thinking] [--json] TEXT...",
	"Ask the assistant one thing; the answer streams to stdout.",
	"TEXT may also come on stdin. The question and the answer are kept in the\n"
	"session's log (KEY, default cli:default) and indexed for search. With a\n"
	"daemon running (`daimon serve`), the daemon's session answers; without\n"
	"one, this command runs the daemon's code for as long as it runs.\n\n"
	"  -s, --session KEY   the conversation to continue (default cli:default): a key,\n"
	"                      or a session's id (or a unique prefix of it)\n"
	"      --show-thinking the model's reasoning (DeepSeek's, Qwen's, Anthropic's\n"
	"                      thinking: model.thinking_tokens) on stderr as it comes;\n"
	"                      it is logged either way, never part of the answer\n"
	"  -j, --json          print one JSON object at the end: session, answer,\n"
	"                      tokens_in, tokens_out (and thinking, with the above)\n\n"
	"The model comes from DAIMON_PROVIDER (openai, anthropic, openrouter, groq,\n"
	"gemini, deepseek, mistral, together, xai, ollama, llamacpp, vllm, lmstudio),\n"
	"DAIMON_BASE_URL (as the provider's SDK writes it, /v1 included), DAIMON_API_KEY\n"
	"(or the provider's own variable) and DAIMON_MODEL (OPENAI_API_KEY,\n"
	"OPENAI_BASE_URL and ANTHROPIC_API_KEY are honoured), or the \"model\" object\n"
	"in config.json; `daimon models` lists what the server offers.\n",
	exec_ask,
};
