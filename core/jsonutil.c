/*
 * jsonutil.c — see jsonutil.h.
 */
#include "core/jsonutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"

const char *daimon_json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int daimon_json_int(const cJSON *obj, const char *key, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!cJSON_IsNumber(v))
		return -1;
	double d = v->valuedouble;
	if (!isfinite(d) || d != floor(d) || d < -9.0e15 || d > 9.0e15)
		return -1;
	*out = (int64_t)d;
	return 0;
}

void daimon_json_quote(daimon_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	daimon_buf_grow(b, strlen(s) + 2);
	daimon_buf_addc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			daimon_buf_add(b, "\\\"", 2);
			break;
		case '\\':
			daimon_buf_add(b, "\\\\", 2);
			break;
		case '\n':
			daimon_buf_add(b, "\\n", 2);
			break;
		case '\r':
			daimon_buf_add(b, "\\r", 2);
			break;
		case '\t':
			daimon_buf_add(b, "\\t", 2);
			break;
		default:
			if (*p < 0x20) {
				char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
				daimon_buf_add(b, esc, 6);
			} else {
				daimon_buf_addc(b, (char)*p);
			}
		}
	}
	daimon_buf_addc(b, '"');
}

void daimon_json_print(daimon_buf *b, const cJSON *item)
{
	char *s = cJSON_PrintUnformatted(item);
	if (s) {
		daimon_buf_adds(b, s);
		cJSON_free(s);
	} else {
		daimon_buf_adds(b, "null");
	}
}

int daimon_json_write_line(int fd, cJSON *msg)
{
	char *s = cJSON_PrintUnformatted(msg);
	cJSON_Delete(msg);
	size_t n = strlen(s);
	s[n] = '\n'; /* (over the NUL: written with its length) */
	int rc = fd >= 0 && daimon_write_all(fd, s, n + 1) == 0 ? 0 : -1;
	cJSON_free(s);
	return rc;
}

cJSON *daimon_jsonrpc_response(const cJSON *id, cJSON *result, int code, const char *message)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "jsonrpc", "2.0");
	cJSON_AddItemToObject(r, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
	if (result) {
		cJSON_AddItemToObject(r, "result", result);
	} else {
		cJSON *e = cJSON_AddObjectToObject(r, "error");
		cJSON_AddNumberToObject(e, "code", code);
		cJSON_AddStringToObject(e, "message", message);
	}
	return r;
}

cJSON *daimon_jsonrpc_notification(const char *method, cJSON *params)
{
	cJSON *n = cJSON_CreateObject();
	cJSON_AddStringToObject(n, "jsonrpc", "2.0");
	cJSON_AddStringToObject(n, "method", method);
	if (params)
		cJSON_AddItemToObject(n, "params", params);
	return n;
}

long daimon_json_take_line(daimon_buf *in, cJSON **msg)
{
	char *nl = in->len ? memchr(in->ptr, '\n', in->len) : NULL;
	if (!nl)
		return -1;
	size_t len = (size_t)(nl - in->ptr);
	*msg = cJSON_ParseWithLength(in->ptr, len);
	memmove(in->ptr, nl + 1, in->len - len - 1);
	in->len -= len + 1;
	return (long)len;
}

cJSON *daimon_json_member(cJSON *obj, const char *key, int array)
{
	cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (array ? cJSON_IsArray(m) : cJSON_IsObject(m))
		return m;
	cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
	return array ? cJSON_AddArrayToObject(obj, key) : cJSON_AddObjectToObject(obj, key);
}
