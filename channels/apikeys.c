/*
 * apikeys.c — see apikeys.h.
 */
#include "channels/apikeys.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"

static char *keys_path(const char *home)
{
	return daimon_home_path(home, "api-keys.json");
}

/* The file's "keys" array (none yet: empty). */
static int load(const char *home, cJSON **doc)
{
	char *path = keys_path(home);
	daimon_buf b = DAIMON_BUF_INIT;
	int rc = daimon_read_file(&b, path);
	*doc = rc == 0 ? cJSON_ParseWithLength(b.ptr ? b.ptr : "", b.len) : cJSON_CreateObject();
	daimon_buf_release(&b);
	if (rc < 0 && rc != DAIMON_ENOTFOUND) {
		free(path);
		cJSON_Delete(*doc);
		return rc;
	}
	if (!cJSON_IsObject(*doc)) {
		cJSON_Delete(*doc);
		rc = daimon_error_code(DAIMON_EINVAL, "'%s' is not valid JSON: fix it or remove it", path);
		free(path);
		return rc;
	}
	free(path);
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(*doc, "keys"))) {
		cJSON_DeleteItemFromObjectCaseSensitive(*doc, "keys");
		cJSON_AddArrayToObject(*doc, "keys");
	}
	return 0;
}

static int save(const char *home, const cJSON *doc)
{
	char *path = keys_path(home), *s = cJSON_Print(doc);
	daimon_buf b = DAIMON_BUF_INIT;
	daimon_buf_addf(&b, "%s\n", s);
	int rc = daimon_write_file_atomic(path, b.ptr, b.len, 0600);
	daimon_buf_release(&b);
	cJSON_free(s);
	free(path);
	return rc;
}

static cJSON *find(cJSON *keys, const char *name, int *at)
{
	int i = 0;
	for (cJSON *k = keys->child; k; k = k->next, i++)
		if (daimon_json_str(k, "name") && !strcmp(daimon_json_str(k, "name"), name)) {
			if (at)
				*at = i;
			return k;
		}
	return NULL;
}

int daimon_api_key_create(const char *home, const char *name, char key[DAIMON_API_KEY_LEN + 1])
{
	if (!*name || strlen(name) > 64 ||
	    name[strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")])
		return daimon_error_code(DAIMON_EINVAL,
					 "a key's name is letters, digits, '-', '_' and '.' (at most 64): '%s'", name);
	cJSON *doc;
	if (load(home, &doc) < 0)
		return -1;
	cJSON *keys = cJSON_GetObjectItemCaseSensitive(doc, "keys");
	if (find(keys, name, NULL)) {
		cJSON_Delete(doc);
		return daimon_error_code(DAIMON_EEXISTS, "there is a key named '%s' already (revoke it first)", name);
	}
	unsigned char r[32];
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		cJSON_Delete(doc);
		return daimon_error_errno("cannot make a key");
	}
	memcpy(key, "dk-", 3);
	for (int i = 0; i < 32; i++)
		snprintf(key + 3 + 2 * i, 3, "%02x", r[i]);
	cJSON *k = cJSON_CreateObject();
	cJSON_AddStringToObject(k, "name", name);
	cJSON_AddStringToObject(k, "key", key);
	cJSON_AddNumberToObject(k, "created", (double)daimon_now_ms());
	cJSON_AddItemToArray(keys, k);
	int rc = save(home, doc);
	cJSON_Delete(doc);
	return rc;
}

int daimon_api_keys_list(const char *home, cJSON **out)
{
	cJSON *doc;
	if (load(home, &doc) < 0)
		return -1;
	*out = cJSON_CreateArray();
	const cJSON *k;
	cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(doc, "keys"))
	{
		const char *name = daimon_json_str(k, "name"), *key = daimon_json_str(k, "key");
		if (!name || !key)
			continue;
		cJSON *o = cJSON_CreateObject();
		char hint[16];
		snprintf(hint, sizeof(hint), "%.7s…", key);
		cJSON_AddStringToObject(o, "name", name);
		cJSON_AddNumberToObject(o, "created",
					cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(k, "created")));
		cJSON_AddStringToObject(o, "hint", hint);
		cJSON_AddItemToArray(*out, o);
	}
	cJSON_Delete(doc);
	return 0;
}

int daimon_api_key_revoke(const char *home, const char *name)
{
	cJSON *doc;
	if (load(home, &doc) < 0)
		return -1;
	cJSON *keys = cJSON_GetObjectItemCaseSensitive(doc, "keys");
	int at;
	if (!find(keys, name, &at)) {
		cJSON_Delete(doc);
		return daimon_error_code(DAIMON_ENOTFOUND, "no key named '%s' (see `daimon api-key list`)", name);
	}
	cJSON_DeleteItemFromArray(keys, at);
	int rc = save(home, doc);
	cJSON_Delete(doc);
	return rc;
}

int daimon_api_key_check(const char *home, const char *key, char *name, size_t size)
{
	cJSON *doc;
	if (load(home, &doc) < 0)
		return -1;
	int found = 0;
	size_t n = strlen(key);
	const cJSON *k;
	cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(doc, "keys"))
	{
		const char *have = daimon_json_str(k, "key");
		if (!have || strlen(have) != n)
			continue;
		unsigned char diff = 0; /* (the whole key compared, however soon it differs) */
		for (size_t i = 0; i < n; i++)
			diff |= (unsigned char)(have[i] ^ key[i]);
		if (!diff && !found) {
			found = 1;
			snprintf(name, size, "%s", daimon_json_str(k, "name"));
		}
	}
	cJSON_Delete(doc);
	return found;
}
