/*
 * cmd-setup.c — `daimon setup`: the first run. Pick a provider, give
 * its key, see the models its server offers, make one real call, and
 * only then write the settings: the provider, base URL and model to
 * config.json, the key to $DAIMON_HOME/credentials (0600) — never to
 * config.json, never printed.
 *
 * On a terminal each step is a prompt with the current value as its
 * default (the key is read without echo); in a pipe the flags say it
 * all, and what they leave out keeps its current value.
 */
#include <editline/readline.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/setup.h"
#include "core/config.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/llm.h"
#include "core/provider.h"

struct answers {
	const char *provider, *base_url, *model, *key_file;
	const char *telegram_file; /* the bot token's file */
	cJSON *owners;             /* --owner KEY... */
	struct setup_mail mail;    /* --mail-* */
	const char *mail_password_file;
	int no_test, tty, systemd;
};

/* One line from the terminal: `prompt [def]: `; Enter keeps `def`. Echo
 * off for a secret. NULL at the end of input. */
static char *ask(const char *prompt, const char *def, int secret)
{
	char *shown = daimon_xasprintf("%s%s%s%s: ", prompt, def && *def ? " [" : "", def && *def ? def : "",
				       def && *def ? "]" : "");
	if (!secret) { /* line editing (libedit) */
		char *got = readline(shown);
		free(shown);
		if (!got)
			return NULL;
		char *s = got + strspn(got, " \t");
		s[strcspn(s, "\r\n")] = 0;
		char *out = daimon_xstrdup(*s ? s : def ? def : "");
		free(got);
		return out;
	}
	fputs(shown, stderr);
	free(shown);
	struct termios old, quiet;
	int hidden = secret && tcgetattr(STDIN_FILENO, &old) == 0;
	if (hidden) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	char line[4096];
	char *got = fgets(line, sizeof(line), stdin);
	if (hidden) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (!got)
		return NULL;
	line[strcspn(line, "\r\n")] = 0;
	char *s = line + strspn(line, " \t");
	return daimon_xstrdup(*s ? s : def ? def : "");
}

/* A key file's contents, without the newline an editor leaves. */
static char *read_key(const char *path)
{
	daimon_buf b = DAIMON_BUF_INIT;
	if (daimon_read_file(&b, path) < 0) {
		daimon_buf_release(&b);
		daimon_error_errno("cannot read the key file '%s'", path);
		return NULL;
	}
	char *key = daimon_xstrndup(daimon_buf_cstr(&b), strcspn(daimon_buf_cstr(&b), "\r\n"));
	daimon_buf_release(&b);
	if (!*key) {
		free(key);
		daimon_error("the key file '%s' is empty", path);
		return NULL;
	}
	return key;
}

struct model_edit {
	const daimon_provider *p;
	const char *base_url, *model;
	int wire;
};

static void set_or_drop(cJSON *o, const char *name, const char *value)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, name);
	if (value && *value)
		cJSON_AddStringToObject(o, name, value);
}

static int edit_model(cJSON *cfg, void *arg)
{
	const struct model_edit *e = arg;
	cJSON *m = daimon_json_member(cfg, "model", 0);
	set_or_drop(m, "provider", e->p->name);
	set_or_drop(m, "base_url", strcmp(e->base_url, e->p->base_url) ? e->base_url : NULL);
	set_or_drop(m, "wire",
		    e->wire != (int)e->p->wire ? (e->wire == DAIMON_LLM_ANTHROPIC ? "anthropic" : "openai") : NULL);
	set_or_drop(m, "model", e->model);
	return 0;
}

static int setup(struct answers *a, const char *home)
{
	daimon_model_settings now;
	int have = daimon_model_endpoint_load(&now, home) == 0;
	char *provider = NULL, *base = NULL, *model = NULL, *key = NULL;
	int rc = -1;
	/* the provider */
	const char *def = a->provider ? a->provider : have ? now.provider : "openai";
	if (a->tty && !a->provider) {
		fprintf(stderr, "Providers: %s\n", daimon_provider_names());
		provider = ask("Provider", def, 0);
	} else {
		provider = daimon_xstrdup(def);
	}
	const daimon_provider *p = provider ? daimon_provider_named(provider) : NULL;
	if (!p) {
		daimon_error("unknown provider '%s' (one of: %s)", provider ? provider : "", daimon_provider_names());
		goto out;
	}
	/* where it answers */
	def = a->base_url ? a->base_url
	      : have && !strcmp(now.provider, p->name) && strcmp(now.base_url_from, "the provider's default")
		      ? now.base_url
		      : p->base_url;
	base = a->tty && !a->base_url ? ask("Base URL", def, 0) : daimon_xstrdup(def);
	if (!base || (strncmp(base, "http://", 7) && strncmp(base, "https://", 8))) {
		daimon_error("the base URL '%s' needs http:// or https://", base ? base : "");
		goto out;
	}
	/* the key: a file, the terminal, or what the environment has */
	const char *key_name = p->key_env ? p->key_env : "DAIMON_API_KEY";
	if (a->key_file) {
		if (!(key = read_key(a->key_file)))
			goto out;
	} else if (a->tty && p->key_env) {
		const char *have_key = getenv(key_name);
		key = ask(have_key ? "API key (Enter keeps the one set)" : "API key", NULL, 1);
		if (key && !*key) {
			free(key);
			key = have_key ? daimon_xstrdup(have_key) : NULL;
		}
	} else if (getenv(key_name)) {
		key = daimon_xstrdup(getenv(key_name));
	}
	if (p->key_env && !key) {
		daimon_error("%s needs a key: --key-file FILE, or %s set", p->name, key_name);
		goto out;
	}
	daimon_llm_config cfg = {.provider = p->wire, .base_url = base, .api_key = key};
	/* the models there */
	cJSON *ids = NULL;
	int listed = daimon_llm_models(&cfg, 15000, &ids) == 0;
	int n = cJSON_GetArraySize(ids);
	if (!listed && !a->model) {
		cJSON_Delete(ids);
		goto out; /* (the last error names the URL) */
	}
	if (listed) {
		fprintf(stderr, "%d model%s at %s", n, n == 1 ? "" : "s", base);
		for (int i = 0; i < n && i < 8; i++)
			fprintf(stderr, "%s%s", i ? ", " : ": ", cJSON_GetArrayItem(ids, i)->valuestring);
		fprintf(stderr, "%s\n", n > 8 ? ", ..." : "");
	}
	const char *first = n ? cJSON_GetArrayItem(ids, 0)->valuestring : NULL;
	def = a->model ? a->model : have && now.model && !strcmp(now.provider, p->name) ? now.model : first;
	model = a->tty && !a->model ? ask("Model", def, 0) : def ? daimon_xstrdup(def) : NULL;
	cJSON_Delete(ids);
	if (!model || !*model) {
		daimon_error("no model: the server lists none; name one with --model");
		goto out;
	}
	cfg.model = model;
	/* one real call before anything is written */
	if (!a->no_test) {
		char said[256] = "";
		long ms = 0;
		if (daimon_llm_ping(&cfg, said, sizeof(said), &ms) < 0)
			goto out;
		fprintf(stderr, "test call: answered in %ld ms (\"%.60s\")\n", ms, said);
	}
	if (key && (!p->key_env || !getenv(key_name) || strcmp(getenv(key_name), key) || a->key_file) &&
	    daimon_credentials_set(home, key_name, key) < 0)
		goto out;
	struct model_edit e = {.p = p, .base_url = base, .model = model, .wire = (int)p->wire};
	if (daimon_config_edit(home, edit_model, &e) < 0)
		goto out;
	printf("daimon uses %s (%s at %s)%s%s\n", model, p->name, base, key ? "; its key is in " : "",
	       key ? "$DAIMON_HOME/credentials" : "");
	if (cli_daemon_tell("reload") == 1)
		printf("the running daemon reloaded its settings\n");
	printf("next: `daimon chat`, or `daimon serve` for the web page, Telegram and mail\n");
	rc = 0;
out:
	if (have)
		daimon_model_settings_release(&now);
	free(provider);
	free(base);
	free(model);
	free(key);
	return rc;
}

/* What follows the model: each step asked on a terminal (Enter skips),
 * or done when its flag says. */
static int extras(struct answers *a, const char *home)
{
	char *token = NULL;
	if (a->telegram_file) {
		if (!(token = read_key(a->telegram_file)))
			return -1;
	} else if (a->tty) {
		token = ask("Telegram bot token from @BotFather (Enter skips)", NULL, 1);
	}
	int rc = token && *token ? setup_telegram(home, token) : 0;
	free(token);
	if (rc == 0 && a->tty && !cJSON_GetArraySize(a->owners)) {
		char *me = ask("You elsewhere, as conversation keys (telegram:YOUR_ID, mail:you@host; Enter skips)",
			       NULL, 0);
		for (char *k = me ? strtok(me, " ,") : NULL; k; k = strtok(NULL, " ,"))
			cJSON_AddItemToArray(a->owners, cJSON_CreateString(k));
		free(me);
	}
	if (rc == 0 && cJSON_GetArraySize(a->owners))
		rc = setup_owners(home, a->owners);
	if (rc == 0 && (a->mail.imap || a->mail.smtp || a->mail.user || a->mail.address || a->mail_password_file)) {
		char *pass = a->mail_password_file ? read_key(a->mail_password_file) : NULL;
		a->mail.password = pass;
		rc = a->mail_password_file && !pass ? -1 : setup_mail(home, &a->mail);
		free(pass);
	}
	if (rc == 0 && !a->systemd && a->tty) {
		char *yes = ask("Start daimon with your session (systemd user unit)? y/N", NULL, 0);
		a->systemd = yes && (*yes == 'y' || *yes == 'Y');
		free(yes);
	}
	if (rc == 0 && a->systemd)
		rc = setup_systemd(home);
	return rc;
}

static int exec_setup(const struct daimon_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'},
					     {"provider", required_argument, 0, 'p'},
					     {"base-url", required_argument, 0, 'u'},
					     {"model", required_argument, 0, 'm'},
					     {"key-file", required_argument, 0, 'k'},
					     {"no-test", no_argument, 0, 'n'},
					     {"telegram-token-file", required_argument, 0, 't'},
					     {"owner", required_argument, 0, 'o'},
					     {"systemd", no_argument, 0, 'S'},
					     {"mail-imap", required_argument, 0, 'I'},
					     {"mail-smtp", required_argument, 0, 'M'},
					     {"mail-user", required_argument, 0, 'U'},
					     {"mail-address", required_argument, 0, 'A'},
					     {"mail-password-file", required_argument, 0, 'P'},
					     {0}};
	struct answers a = {.owners = cJSON_CreateArray()};
	int c;
	int model_flags = 0;
	while ((c = getopt_long(argc, argv, "hp:u:m:k:n", opts, NULL)) != -1) {
		model_flags |= strchr("pumk", c) != NULL;
		if (c == 'h') {
			cJSON_Delete(a.owners);
			return cli_help(cmd);
		} else if (c == 'p')
			a.provider = optarg;
		else if (c == 'u')
			a.base_url = optarg;
		else if (c == 'm')
			a.model = optarg;
		else if (c == 'k')
			a.key_file = optarg;
		else if (c == 'n')
			a.no_test = 1;
		else if (c == 't')
			a.telegram_file = optarg;
		else if (c == 'o')
			cJSON_AddItemToArray(a.owners, cJSON_CreateString(optarg));
		else if (c == 'S')
			a.systemd = 1;
		else if (c == 'I')
			a.mail.imap = optarg;
		else if (c == 'M')
			a.mail.smtp = optarg;
		else if (c == 'U')
			a.mail.user = optarg;
		else if (c == 'A')
			a.mail.address = optarg;
		else if (c == 'P')
			a.mail_password_file = optarg;
		else {
			cJSON_Delete(a.owners);
			return cli_usage_error(cmd, "unknown option");
		}
	}
	if (optind < argc) {
		cJSON_Delete(a.owners);
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	}
	a.tty = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
	/* in a pipe, flags for the later steps alone leave the model as it is */
	int later = a.telegram_file || cJSON_GetArraySize(a.owners) || a.systemd || a.mail.imap || a.mail.smtp ||
		    a.mail.user || a.mail.address || a.mail_password_file;
	int model = a.tty || model_flags || !later;
	char *home = daimon_home_dir();
	int rc = daimon_home_ensure(home);
	if (rc == 0 && model)
		rc = setup(&a, home);
	if (rc == 0)
		rc = extras(&a, home);
	if (rc == 0 && !model && cli_daemon_tell("reload") == 1)
		printf("the running daemon reloaded its settings\n");
	free(home);
	cJSON_Delete(a.owners);
	return rc < 0 ? cli_fail() : 0;
}

const struct daimon_cmd daimon_cmd_setup = {
	"setup",
	"setup [--provider NAME] [--base-url URL] [--model NAME] [--key-file FILE] [--no-test]\n"
	"             [--telegram-token-file FILE] [--owner KEY]... [--systemd]\n"
	"             [--mail-imap URL --mail-smtp URL --mail-user NAME --mail-address ADDR\n"
	"              --mail-password-file FILE]",
	"Set up the model: provider, key, model, checked with one real call.",
	"On a terminal each step asks, with the current value as its default (the\n"
	"key is read without echo); in a pipe the flags say it, and what they leave\n"
	"out stays as it is. The server's models are listed and one short call is\n"
	"made; only then are the settings written: the provider, base URL and model\n"
	"to config.json, the key to $DAIMON_HOME/credentials (mode 0600), which\n"
	"every command and `daimon serve` read. A running daemon reloads.\n\n"
	"  -p, --provider NAME   openai, anthropic, openrouter, groq, gemini, deepseek,\n"
	"                        mistral, together, xai, ollama, llamacpp, vllm, lmstudio\n"
	"  -u, --base-url URL    where it answers, as its SDK writes it (default: the\n"
	"                        provider's)\n"
	"  -m, --model NAME      the model (default: the server's first)\n"
	"  -k, --key-file FILE   read the API key from FILE\n"
	"  -n, --no-test         write without the test call\n\n"
	"Then, each optional (asked on a terminal; in a pipe, these flags alone\n"
	"leave the model as it is):\n"
	"      --telegram-token-file FILE  the Telegram bot's token, checked with\n"
	"                        getMe, kept in credentials (TELEGRAM_BOT_TOKEN)\n"
	"      --owner KEY       you on another channel (telegram:YOUR_ID,\n"
	"                        mail:you@host): added to \"owners\", so those\n"
	"                        conversations get USER.md as the terminal does\n"
	"      --systemd         write the systemd user unit for this daimon and\n"
	"                        home, and enable it (systemctl --user)\n"
	"      --mail-imap URL   the mail channel (all five flags together): the\n"
	"                        mailbox (imap://host:143/INBOX), --mail-smtp the\n"
	"                        server replies go through (smtp://host:587), the\n"
	"                        login, the address replies come from, and the\n"
	"                        password's file; the login is tried first, the\n"
	"                        password kept in credentials (DAIMON_MAIL_PASSWORD)\n",
	exec_setup,
};
