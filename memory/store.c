/*
 * store.c — see store.h.
 */
#include "memory/store.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/home.h"
#include "core/timefmt.h"

int daimon_store_open(daimon_store *st, const char *home)
{
	if (daimon_home_ensure(home) < 0)
		return -1;
	st->home = daimon_xstrdup(home);
	st->sessions_dir = daimon_home_path(home, "sessions");
	return 0;
}

void daimon_store_release(daimon_store *st)
{
	free(st->home);
	free(st->sessions_dir);
	st->home = st->sessions_dir = NULL;
}

char *daimon_store_log_path(const daimon_store *st, const char *id)
{
	return daimon_xasprintf("%s/%s.jsonl", st->sessions_dir, id);
}

int daimon_session_id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > DAIMON_ID_MAX || id[0] == '.')
		return 0;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '_' || *p == '-'))
			return 0;
	return 1;
}

static uint32_t random_bits(void)
{
	uint32_t v = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
			v = 0;
		close(fd);
	}
	if (!v)
		v = (uint32_t)daimon_mono_ns() ^ (uint32_t)getpid() << 16;
	return v;
}

void daimon_session_id_new(char out[DAIMON_ID_MAX + 1], int64_t now_ms)
{
	char ts[DAIMON_TS_LEN];
	daimon_ts_format(ts, now_ms);
	/* "2026-11-24T02:28:53.123Z" -> "20261124-022853" */
	snprintf(out, DAIMON_ID_MAX + 1, "%.4s%.2s%.2s-%.2s%.2s%.2s-%06x", ts, ts + 5, ts + 8, ts + 11, ts + 14,
		 ts + 17, random_bits() & 0xffffff);
}

void daimon_session_id_derived(char out[DAIMON_ID_MAX + 1], const char *prefix, const char *original)
{
	uint64_t h = 1469598103934665603ull;
	for (const unsigned char *p = (const unsigned char *)original; *p; p++) {
		h ^= *p;
		h *= 1099511628211ull;
	}
	snprintf(out, DAIMON_ID_MAX + 1, "%s-%016llx", prefix, (unsigned long long)h);
}

int daimon_store_create(daimon_store *st, const daimon_session_meta *meta, int log_flags, daimon_log **out,
			char id_out[DAIMON_ID_MAX + 1])
{
	int64_t created = meta->created ? meta->created : daimon_now_ms();
	char id[DAIMON_ID_MAX + 1];
	if (meta->id) {
		if (!daimon_session_id_valid(meta->id))
			return daimon_error_code(DAIMON_EINVAL, "invalid session id '%s'", meta->id);
		snprintf(id, sizeof(id), "%s", meta->id);
	} else {
		daimon_session_id_new(id, created);
	}
	char *key = meta->key ? daimon_xstrdup(meta->key) : daimon_xasprintf("cli:%s", id);
	char *channel = meta->channel ? daimon_xstrdup(meta->channel) : daimon_xstrndup(key, strcspn(key, ":"));
	char ts[DAIMON_TS_LEN];
	daimon_ts_format(ts, created);

	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "id", id);
	cJSON_AddStringToObject(f, "key", key);
	cJSON_AddStringToObject(f, "channel", channel);
	cJSON_AddStringToObject(f, "created", ts);
	if (meta->title && *meta->title)
		cJSON_AddStringToObject(f, "title", meta->title);
	if (meta->source)
		cJSON_AddItemToObject(f, "source", cJSON_Duplicate(meta->source, 1));
	char *path = daimon_store_log_path(st, id);
	int rc = daimon_log_create(out, path, f, ts, log_flags);
	free(path);
	cJSON_Delete(f);
	free(key);
	free(channel);
	if (rc == 0 && id_out)
		memcpy(id_out, id, strlen(id) + 1);
	return rc;
}
