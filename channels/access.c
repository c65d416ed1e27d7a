/*
 * access.c — allowlists and pairing (the rules and the file are in
 * access.h). Every change is a read-modify-write of access.json under
 * one flock, so the daemon's channels and `daimon pairing approve` in
 * another process never lose each other's writes.
 */
#include "channels/access.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/settings.h"
#include "core/timefmt.h"

/* No 0/O, 1/I/L: read aloud or retyped without mistakes. */
static const char alphabet[] = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

struct access_file {
	char *path;
	int lock_fd;
	cJSON *doc;
};

static int access_open(struct access_file *f, const char *home)
{
	memset(f, 0, sizeof(*f));
	f->path = daimon_home_path(home, "access.json");
	char *lock = daimon_home_path(home, "access.lock");
	f->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lock);
	if (f->lock_fd < 0 || flock(f->lock_fd, LOCK_EX) < 0) {
		daimon_error_errno("cannot lock the access file in '%s'", home);
		goto fail;
	}
	daimon_buf b = DAIMON_BUF_INIT;
	int rc = daimon_read_file(&b, f->path);
	if (rc == 0) {
		f->doc = cJSON_Parse(daimon_buf_cstr(&b));
		daimon_buf_release(&b);
		if (!cJSON_IsObject(f->doc)) {
			daimon_error("'%s' is not a JSON object; fix or remove it (paired senders are kept there)",
				     f->path);
			goto fail;
		}
	} else if (rc == DAIMON_ENOTFOUND) {
		f->doc = cJSON_CreateObject();
	} else {
		goto fail;
	}
	return 0;
fail:
	if (f->lock_fd >= 0)
		close(f->lock_fd);
	cJSON_Delete(f->doc);
	free(f->path);
	return -1;
}

/* Writes the document back (when `save`) and lets the lock go. */
static int access_close(struct access_file *f, int save)
{
	int rc = 0;
	if (save) {
		char *s = cJSON_Print(f->doc);
		rc = daimon_write_file_atomic(f->path, s, strlen(s), 0600);
		cJSON_free(s);
	}
	close(f->lock_fd);
	cJSON_Delete(f->doc);
	free(f->path);
	return rc;
}

static cJSON *child(cJSON *parent, const char *name, int array)
{
	cJSON *c = cJSON_GetObjectItemCaseSensitive(parent, name);
	if (array ? cJSON_IsArray(c) : cJSON_IsObject(c))
		return c;
	cJSON_DeleteItemFromObjectCaseSensitive(parent, name);
	return cJSON_AddItemToObject(parent, name, c = array ? cJSON_CreateArray() : cJSON_CreateObject()) ? c : NULL;
}

/* Drops expired codes; whether any went. */
static int expire(cJSON *pending, int64_t now)
{
	int changed = 0;
	for (cJSON *p = pending->child, *next; p; p = next) {
		next = p->next;
		if (cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "expires")) <= (double)now) {
			cJSON_Delete(cJSON_DetachItemViaPointer(pending, p));
			changed = 1;
		}
	}
	return changed;
}

/* The channel's settings in config.json: on its allowlist? does it pair? */
static int channel_policy(const char *home, const char *channel, const char *sender, int *allowed, int *pairs)
{
	daimon_settings *set;
	if (daimon_settings_load(&set, home) < 0)
		return -1;
	char path[96];
	snprintf(path, sizeof(path), "channels.%s.allow", channel);
	const cJSON *allow = daimon_setting_find(path) ? daimon_settings_json(set, path) : NULL, *a;
	*allowed = 0;
	cJSON_ArrayForEach(a, allow)
	{
		char num[32];
		const char *s = cJSON_IsString(a) ? a->valuestring : NULL;
		if (cJSON_IsNumber(a)) {
			snprintf(num, sizeof(num), "%.0f", a->valuedouble);
			s = num;
		}
		if (s && (!strcmp(s, sender) || !strcmp(s, "*")))
			*allowed = 1;
	}
	snprintf(path, sizeof(path), "channels.%s.pairing", channel);
	int rc = 0;
	*pairs = 1;
	if (daimon_setting_find(path))
		rc = daimon_settings_bool(set, path, pairs);
	daimon_settings_free(set);
	return rc;
}

int daimon_access_check(const char *home, const char *channel, const char *sender, const char *name,
			char code[DAIMON_PAIRING_CODE_LEN + 1], int *fresh)
{
	int allowed, pairs;
	*fresh = 0;
	code[0] = 0;
	if (channel_policy(home, channel, sender, &allowed, &pairs) < 0)
		return -1;
	if (allowed)
		return DAIMON_ACCESS_ALLOW;
	struct access_file f;
	if (access_open(&f, home) < 0)
		return -1;
	if (cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(f.doc, "paired"), channel),
		    sender)) {
		access_close(&f, 0);
		return DAIMON_ACCESS_ALLOW;
	}
	if (!pairs) {
		access_close(&f, 0);
		return DAIMON_ACCESS_DENY;
	}
	int64_t now = daimon_now_ms();
	cJSON *pending = child(f.doc, "pending", 1);
	int changed = expire(pending, now), n = 0;
	cJSON *p;
	cJSON_ArrayForEach(p, pending)
	{
		if (strcmp(daimon_json_str(p, "channel") ? daimon_json_str(p, "channel") : "", channel))
			continue;
		n++;
		if (!strcmp(daimon_json_str(p, "sender") ? daimon_json_str(p, "sender") : "", sender)) {
			snprintf(code, DAIMON_PAIRING_CODE_LEN + 1, "%s", daimon_json_str(p, "code"));
			return access_close(&f, changed) < 0 ? -1 : DAIMON_ACCESS_PAIRING;
		}
	}
	if (n >= DAIMON_PAIRING_MAX_PENDING)
		return access_close(&f, changed) < 0 ? -1 : DAIMON_ACCESS_DENY;
	unsigned char rnd[DAIMON_PAIRING_CODE_LEN];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		access_close(&f, 0);
		return daimon_error_errno("cannot make a pairing code");
	}
	for (int i = 0; i < DAIMON_PAIRING_CODE_LEN; i++)
		code[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
	code[DAIMON_PAIRING_CODE_LEN] = 0;
	p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "code", code);
	cJSON_AddStringToObject(p, "channel", channel);
	cJSON_AddStringToObject(p, "sender", sender);
	cJSON_AddStringToObject(p, "name", name ? name : "");
	cJSON_AddNumberToObject(p, "created", (double)now);
	cJSON_AddNumberToObject(p, "expires", (double)(now + DAIMON_PAIRING_TTL_MS));
	cJSON_AddItemToArray(pending, p);
	*fresh = 1;
	return access_close(&f, 1) < 0 ? -1 : DAIMON_ACCESS_PAIRING;
}

int daimon_access_pending(const char *home, cJSON **out)
{
	struct access_file f;
	if (access_open(&f, home) < 0)
		return -1;
	cJSON *pending = child(f.doc, "pending", 1);
	int changed = expire(pending, daimon_now_ms());
	*out = cJSON_Duplicate(pending, 1);
	if (access_close(&f, changed) < 0) {
		cJSON_Delete(*out);
		return -1;
	}
	return 0;
}

int daimon_access_approve(const char *home, const char *code, char *who, size_t size)
{
	if (!code || !*code)
		return daimon_error("which code? `daimon pairing list` shows the pending ones");
	struct access_file f;
	if (access_open(&f, home) < 0)
		return -1;
	int64_t now = daimon_now_ms();
	double locked = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(f.doc, "locked_until"));
	if (locked == locked && locked > (double)now) {
		access_close(&f, 0);
		return daimon_error("pairing is locked after %d wrong codes; try again in %d minutes",
				    DAIMON_PAIRING_MAX_BAD, (int)((locked - (double)now) / 60000) + 1);
	}
	cJSON *pending = child(f.doc, "pending", 1);
	expire(pending, now);
	cJSON *p, *hit = NULL;
	cJSON_ArrayForEach(p, pending)
	{
		const char *c = daimon_json_str(p, "code");
		if (c && !strcasecmp(c, code))
			hit = p;
	}
	if (!hit) {
		double bad = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(f.doc, "bad_attempts"));
		int n = (bad == bad ? (int)bad : 0) + 1;
		cJSON_DeleteItemFromObjectCaseSensitive(f.doc, "bad_attempts");
		cJSON_DeleteItemFromObjectCaseSensitive(f.doc, "locked_until");
		if (n >= DAIMON_PAIRING_MAX_BAD)
			cJSON_AddNumberToObject(f.doc, "locked_until", (double)(now + DAIMON_PAIRING_TTL_MS));
		else
			cJSON_AddNumberToObject(f.doc, "bad_attempts", n);
		int rc = access_close(&f, 1);
		if (rc < 0)
			return rc;
		if (n >= DAIMON_PAIRING_MAX_BAD)
			return daimon_error_code(
				DAIMON_ENOTFOUND,
				"no pending code '%s'; that was the %dth wrong code: pairing is locked for an hour",
				code, n);
		return daimon_error_code(DAIMON_ENOTFOUND, "no pending code '%s' (it may have expired); %d tries left",
					 code, DAIMON_PAIRING_MAX_BAD - n);
	}
	const char *channel = daimon_json_str(hit, "channel"), *sender = daimon_json_str(hit, "sender");
	cJSON *ch = child(child(f.doc, "paired", 0), channel ? channel : "?", 0);
	cJSON *entry = cJSON_CreateObject();
	cJSON_AddStringToObject(entry, "name", daimon_json_str(hit, "name") ? daimon_json_str(hit, "name") : "");
	cJSON_AddNumberToObject(entry, "since", (double)now);
	cJSON_DeleteItemFromObjectCaseSensitive(ch, sender ? sender : "?");
	cJSON_AddItemToObject(ch, sender ? sender : "?", entry);
	snprintf(who, size, "%s:%s", channel ? channel : "?", sender ? sender : "?");
	cJSON_Delete(cJSON_DetachItemViaPointer(pending, hit));
	cJSON_DeleteItemFromObjectCaseSensitive(f.doc, "bad_attempts");
	return access_close(&f, 1);
}
