/*
 * setup.h — the optional steps of `daimon setup` (setup-extras.c), each
 * done whole or not at all, said on stdout; <0 with the last error.
 */
#ifndef DAIMON_CLI_SETUP_H
#define DAIMON_CLI_SETUP_H

#include <cjson/cJSON.h>

/* The bot token, kept (credentials: TELEGRAM_BOT_TOKEN) once getMe takes it. */
int setup_telegram(const char *home, const char *token);
/* Senders ("telegram:42", "mail:me@example.org") added to config.json
 * "owners"; setup_owners says so on stdout. */
int owners_add(const char *home, const cJSON *keys);
int setup_owners(const char *home, const cJSON *keys);
/* The systemd user unit for this binary and home, written and enabled. */
int setup_systemd(const char *home);

/* The mail channel: checked (IMAP login, SMTP reachable), then the URLs,
 * login and address to config.json, the password to credentials
 * (DAIMON_MAIL_PASSWORD). */
struct setup_mail {
	const char *imap, *smtp, *user, *address, *password;
};
int setup_mail(const char *home, const struct setup_mail *m);

#endif
