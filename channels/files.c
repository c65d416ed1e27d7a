/*
 * files.c — see files.h.
 */
#include "channels/files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/fsutil.h"

const char *daimon_image_type(const void *data, size_t n)
{
	const unsigned char *p = data;
	if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
		return "image/jpeg";
	if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8))
		return "image/png";
	if (n >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6)))
		return "image/gif";
	if (n >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4))
		return "image/webp";
	return NULL;
}

const char *daimon_image_ext(const char *mime)
{
	static const char *const ext[][2] = {
		{"image/jpeg", ".jpg"}, {"image/png", ".png"}, {"image/gif", ".gif"}, {"image/webp", ".webp"}};
	for (size_t i = 0; mime && i < sizeof(ext) / sizeof(ext[0]); i++)
		if (!strcmp(mime, ext[i][0]))
			return ext[i][1];
	return "";
}

static void safe_name(char *out, size_t size, const char *name)
{
	size_t n = 0;
	for (const char *p = name ? name : ""; *p && n + 1 < size && n < 80; p++) {
		char c = *p;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			 c == '_' || (c == '.' && n);
		out[n++] = ok ? c : '_';
	}
	out[n] = 0;
	if (!n)
		snprintf(out, size, "file");
}

int daimon_file_keep(const char *home, const char *id, const char *name, const char *ext, const void *data, size_t len,
		     char *rel, size_t size)
{
	char day[16], safe[96], sid[64];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	safe_name(safe, sizeof(safe), name);
	safe_name(sid, sizeof(sid), id);
	snprintf(rel, size, "inbox/%s/%s-%s%s", day, sid, safe, strchr(safe, '.') ? "" : ext ? ext : "");
	char *dir = daimon_xasprintf("%s/inbox/%s", home, day), *path = daimon_xasprintf("%s/%s", home, rel);
	int rc = daimon_mkdir_p(dir, 0700);
	if (rc == 0)
		rc = daimon_write_file_atomic(path, data ? data : "", len, 0600);
	free(dir);
	free(path);
	return rc;
}
