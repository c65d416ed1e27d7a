/*
 * jsonutil.h — typed getters over cJSON, so record code reads as what it
 * means ("the string field role, if any") instead of type checks.
 */
#ifndef DAIMON_CORE_JSONUTIL_H
#define DAIMON_CORE_JSONUTIL_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "core/buf.h"

/* The string value of obj[key], or NULL if missing or not a string. */
const char *daimon_json_str(const cJSON *obj, const char *key);
/* obj[key] as an integer: 0 ok, -1 missing or not an integral number. */
int daimon_json_int(const cJSON *obj, const char *key, int64_t *out);
/* Appends `s` as a JSON string literal (quoted, escaped) to `b`. */
void daimon_json_quote(daimon_buf *b, const char *s);
/* obj[key] as an object (or, with `array`, an array): the one there, or a
 * new empty one in place of whatever else was there (for editors of
 * config.json). */
cJSON *daimon_json_member(cJSON *obj, const char *key, int array);
/* Appends the unformatted JSON of `item` to `b`. */
void daimon_json_print(daimon_buf *b, const cJSON *item);

/* JSON-RPC 2.0 messages (caller frees). A response to `id` (copied; NULL:
 * null) carries `result` (taken) or, when that is NULL, an error with
 * `code` and `message`; a notification carries `params` (taken; may be
 * NULL). */
cJSON *daimon_jsonrpc_response(const cJSON *id, cJSON *result, int code, const char *message);
cJSON *daimon_jsonrpc_notification(const char *method, cJSON *params);

/* JSON lines (JSON-RPC over pipes): writes `msg` as one line to `fd` and
 * frees it; 0 or -1. */
int daimon_json_write_line(int fd, cJSON *msg);
/* Takes the first whole line out of `in`: -1 if there is none yet, else
 * the line's length, with *msg its JSON (NULL if it is not JSON). */
long daimon_json_take_line(daimon_buf *in, cJSON **msg);

#endif
