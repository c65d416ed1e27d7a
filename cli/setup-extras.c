/*
 * setup-extras.c — the optional steps of `daimon setup` after the model:
 * the Telegram bot's token (checked with getMe before it is kept), the
 * owner's conversation keys (config.json "owners"), and the systemd user
 * unit (written for this binary and this home, then enabled), and the
 * mail channel (the IMAP login and the SMTP server tried first).
 */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "channels/channels.h"
#include "cli/cli.h"
#include "cli/setup.h"
#include "core/config.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/home.h"
#include "core/http.h"
#include "core/jsonutil.h"
#include "core/settings.h"

/* ---- Telegram ---- */

int setup_telegram(const char *home, const char *token)
{
	daimon_settings *file = NULL;
	char *api = NULL; /* (the channel's; a config.json that cannot be read: the default) */
	if (daimon_settings_load(&file, home) < 0 || daimon_telegram_api_url(file, &api) < 0)
		daimon_telegram_api_url(NULL, &api);
	daimon_settings_free(file);
	char *url = daimon_xasprintf("%s/bot%s/getMe", api, token);
	daimon_buf body = DAIMON_BUF_INIT;
	long status = 0;
	int rc = daimon_http_fetch(NULL, url, NULL, NULL, 0, 15000, &status, &body);
	free(url);
	cJSON *j = rc == 0 ? cJSON_Parse(daimon_buf_cstr(&body)) : NULL;
	const cJSON *me = cJSON_GetObjectItemCaseSensitive(j, "result");
	if (rc == 0 && (status != 200 || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ok")) || !me))
		rc = daimon_error_code(DAIMON_EINVAL, "Telegram refused the bot token (getMe at %s: HTTP %ld%s%s)", api,
				       status, daimon_json_str(j, "description") ? ": " : "",
				       daimon_json_str(j, "description") ? daimon_json_str(j, "description") : "");
	else if (rc < 0)
		rc = daimon_error("cannot check the bot token at %s: %s", api, daimon_error_last());
	if (rc == 0)
		rc = daimon_credentials_set(home, "TELEGRAM_BOT_TOKEN", token);
	if (rc == 0) {
		const char *user = daimon_json_str(me, "username");
		printf("Telegram: the bot is @%s; its token is in $DAIMON_HOME/credentials\n", user ? user : "?");
	}
	cJSON_Delete(j);
	daimon_buf_release(&body);
	free(api);
	return rc;
}

/* ---- the owner ---- */

static int add_owners(cJSON *cfg, void *arg)
{
	const cJSON *keys = arg;
	cJSON *owners = daimon_json_member(cfg, "owners", 1);
	const cJSON *k, *o;
	cJSON_ArrayForEach(k, keys)
	{
		int have = 0;
		cJSON_ArrayForEach(o, owners) have |= cJSON_IsString(o) && !strcmp(o->valuestring, k->valuestring);
		if (!have)
			cJSON_AddItemToArray(owners, cJSON_CreateString(k->valuestring));
	}
	return 0;
}

/* A sender on a channel where others write: "telegram:42", "mail:a@b". */
static int owner_key_ok(const char *k)
{
	const char *id = !strncmp(k, "telegram:", 9) ? k + 9 : !strncmp(k, "mail:", 5) ? k + 5 : NULL;
	return id && *id && !strchr(id, ':') && (k[0] != 't' || id[strspn(id, "0123456789")] == 0);
}

int owners_add(const char *home, const cJSON *keys)
{
	const cJSON *k;
	cJSON_ArrayForEach(k, keys)
	{
		if (!owner_key_ok(k->valuestring))
			return daimon_error_code(
				DAIMON_EINVAL, "the owner '%s' is not a sender like telegram:42 or mail:me@example.org",
				k->valuestring);
	}
	return daimon_config_edit(home, add_owners, (void *)keys);
}

int setup_owners(const char *home, const cJSON *keys)
{
	const cJSON *k;
	if (owners_add(home, keys) < 0)
		return -1;
	printf("owner: ");
	cJSON_ArrayForEach(k, keys) printf("%s%s", k->valuestring, k->next ? ", " : "");
	printf(" (they get USER.md, as the terminal does)\n");
	return 0;
}

/* ---- the systemd user unit ---- */

static char *unit_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *user = getenv("HOME");
	return daimon_xasprintf("%s%s/systemd/user/daimon.service",
				xdg && *xdg ? xdg
				: user      ? user
					    : "",
				xdg && *xdg ? "" : "/.config");
}

/* Runs `systemctl --user ARGS...`: its exit status, or -1 if it is not there. */
static int systemctl(char *const argv[])
{
	extern char **environ;
	pid_t pid;
	if (posix_spawnp(&pid, "systemctl", NULL, NULL, argv, environ) != 0)
		return -1;
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int setup_systemd(const char *home)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return daimon_error_errno("cannot tell where this daimon is");
	exe[n] = 0;
	char *path = unit_path(), *dir = daimon_xstrndup(path, (size_t)(strrchr(path, '/') - path));
	char *unit = daimon_xasprintf("# written by `daimon setup --systemd`\n"
				      "[Unit]\nDescription=daimon, the personal assistant daemon\n"
				      "After=network-online.target\n\n"
				      "[Service]\nType=simple\nEnvironment=DAIMON_HOME=%s\nExecStart=%s serve\n"
				      "ExecReload=/bin/kill -HUP $MAINPID\nTimeoutStopSec=30\nRestart=on-failure\n"
				      "RestartSec=2\nUMask=0077\n\n[Install]\nWantedBy=default.target\n",
				      home, exe);
	int rc = daimon_mkdir_p(dir, 0755);
	if (rc == 0)
		rc = daimon_write_file_atomic(path, unit, strlen(unit), 0644);
	if (rc == 0) {
		printf("systemd: wrote %s\n", path);
		char *reload[] = {"systemctl", "--user", "daemon-reload", NULL};
		char *enable[] = {"systemctl", "--user", "enable", "--now", "daimon", NULL};
		int st = systemctl(reload);
		if (st == 0)
			st = systemctl(enable);
		if (st == 0)
			printf("systemd: daimon is enabled and running (`journalctl --user -u daimon` for its log)\n");
		else
			printf("systemd: %s; run `systemctl --user daemon-reload && systemctl --user enable --now "
			       "daimon` where a user session runs\n",
			       st < 0 ? "systemctl is not here" : "systemctl failed");
	}
	free(unit);
	free(dir);
	free(path);
	return rc;
}

/* ---- mail ---- */

static size_t drop(char *p, size_t size, size_t n, void *arg)
{
	(void)p, (void)arg;
	return size * n;
}

/* Logs in to `url` (IMAP: and says NOOP) or, for SMTP, connects: the
 * curl code. */
static CURLcode mail_try(const char *url, const struct setup_mail *m, int imap)
{
	CURL *e = curl_easy_init();
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_USERNAME, m->user);
	curl_easy_setopt(e, CURLOPT_PASSWORD, m->password);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, drop);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 20000L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	if (imap)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "NOOP");
	else
		curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
	CURLcode rc = curl_easy_perform(e);
	curl_easy_cleanup(e);
	return rc;
}

static int edit_mail(cJSON *cfg, void *arg)
{
	const struct setup_mail *m = arg;
	cJSON *mail = daimon_json_member(daimon_json_member(cfg, "channels", 0), "mail", 0);
	const char *names[] = {"imap_url", "smtp_url", "username", "address"};
	const char *values[] = {m->imap, m->smtp, m->user, m->address};
	for (int i = 0; i < 4; i++) {
		cJSON_DeleteItemFromObjectCaseSensitive(mail, names[i]);
		cJSON_AddStringToObject(mail, names[i], values[i]);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(mail, "password"); /* (it goes to credentials) */
	return 0;
}

int setup_mail(const char *home, const struct setup_mail *m)
{
	if (!m->imap || !m->smtp || !m->user || !m->address || !m->password)
		return daimon_error_code(DAIMON_EINVAL, "mail needs --mail-imap, --mail-smtp, --mail-user, "
							"--mail-address and --mail-password-file together");
	CURLcode rc = mail_try(m->imap, m, 1);
	if (rc == CURLE_LOGIN_DENIED)
		return daimon_error_code(DAIMON_EINVAL, "the mailbox at %s refused the login of %s", m->imap, m->user);
	if (rc != CURLE_OK)
		return daimon_error_code(DAIMON_EINVAL, "cannot read the mailbox at %s: %s", m->imap,
					 curl_easy_strerror(rc));
	if ((rc = mail_try(m->smtp, m, 0)) != CURLE_OK)
		return daimon_error_code(DAIMON_EINVAL, "cannot reach the mail server %s: %s", m->smtp,
					 curl_easy_strerror(rc));
	if (daimon_credentials_set(home, "DAIMON_MAIL_PASSWORD", m->password) < 0 ||
	    daimon_config_edit(home, edit_mail, (void *)m) < 0)
		return -1;
	printf("mail: %s's mailbox at %s answers; replies go out through %s as %s (password in credentials)\n", m->user,
	       m->imap, m->smtp, m->address);
	return 0;
}
