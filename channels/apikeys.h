/*
 * apikeys.h — the keys of the OpenAI-compatible door (/v1/ on the web
 * port): each a name and a random secret, made by `daimon api-key
 * create`, shown once, revoked by name.
 *
 * $DAIMON_HOME/api-keys.json (0600, replaced whole: temporary file,
 * fsync, rename): {"keys": [{"name", "key", "created": MS}]}. The web
 * channel reads it on each request, so a revoked key stops at once.
 */
#ifndef DAIMON_CHANNELS_APIKEYS_H
#define DAIMON_CHANNELS_APIKEYS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define DAIMON_API_KEY_LEN 67 /* "dk-" and 64 hex digits */

/* A new key named `name` (letters, digits, '-', '_', '.'; unique). */
int daimon_api_key_create(const char *home, const char *name, char key[DAIMON_API_KEY_LEN + 1]);
/* The keys, without their secrets: [{"name","created","hint"}] (caller deletes). */
int daimon_api_keys_list(const char *home, cJSON **out);
int daimon_api_key_revoke(const char *home, const char *name);
/* Whether `key` is one of them: 1 (its name in `name`), 0 not, < 0 the
 * file cannot be read. */
int daimon_api_key_check(const char *home, const char *key, char *name, size_t size);

#endif
