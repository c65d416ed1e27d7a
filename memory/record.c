/*
 * record.c — parse and validate one session-log record (see record.h and
 * the format description in log.c). Unknown record types are accepted so
 * that later versions can add types an older reader still passes over; the
 * fields every record has (seq, ts, type) and the fields a known type needs
 * are checked strictly.
 */
#include "memory/record.h"

#include <string.h>

#include "core/error.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"

static int bad(daimon_record *rec, const char *what)
{
	daimon_record_clear(rec);
	return daimon_error_code(DAIMON_ECORRUPT, "%s", what);
}

static int check_message(const cJSON *j)
{
	const char *role = daimon_json_str(j, "role");
	if (!role)
		return daimon_error_code(DAIMON_ECORRUPT, "message without a role");
	if (strcmp(role, "user") && strcmp(role, "assistant") && strcmp(role, "system"))
		return daimon_error_code(DAIMON_ECORRUPT, "message with unknown role '%s'", role);
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(j, "content");
	if (content && !cJSON_IsString(content) && !cJSON_IsArray(content) && !cJSON_IsNull(content))
		return daimon_error_code(DAIMON_ECORRUPT, "message content is neither text nor a list of blocks");
	const cJSON *calls = cJSON_GetObjectItemCaseSensitive(j, "tool_calls");
	if (calls && !cJSON_IsArray(calls))
		return daimon_error_code(DAIMON_ECORRUPT, "tool_calls is not a list");
	return 0;
}

int daimon_record_parse(daimon_record *rec, const char *line, size_t len)
{
	memset(rec, 0, sizeof(*rec));
	if (len == 0)
		return bad(rec, "empty line");
	if (len > DAIMON_RECORD_MAX_LINE)
		return bad(rec, "line too long");
	const char *end = NULL;
	rec->json = cJSON_ParseWithLengthOpts(line, len, &end, 0);
	if (!rec->json)
		return bad(rec, "not valid JSON");
	while (end && (size_t)(end - line) < len && (*end == ' ' || *end == '\t' || *end == '\r'))
		end++;
	if (!end || (size_t)(end - line) != len)
		return bad(rec, "text after the JSON object");
	if (!cJSON_IsObject(rec->json))
		return bad(rec, "not a JSON object");
	int64_t seq;
	if (daimon_json_int(rec->json, "seq", &seq) < 0 || seq < 1)
		return bad(rec, "missing or invalid seq");
	rec->seq = (uint64_t)seq;
	const char *ts = daimon_json_str(rec->json, "ts");
	if (!ts || daimon_ts_parse(ts, &rec->ts) < 0)
		return bad(rec, "missing or invalid ts");
	rec->type = daimon_json_str(rec->json, "type");
	if (!rec->type || !*rec->type)
		return bad(rec, "missing type");
	int rc = 0;
	if (!strcmp(rec->type, DAIMON_REC_SESSION)) {
		if (!daimon_json_str(rec->json, "id"))
			rc = daimon_error_code(DAIMON_ECORRUPT, "session record without an id");
	} else if (!strcmp(rec->type, DAIMON_REC_MESSAGE)) {
		rc = check_message(rec->json);
	} else if (!strcmp(rec->type, DAIMON_REC_TOOL_RESULT)) {
		if (!daimon_json_str(rec->json, "call_id"))
			rc = daimon_error_code(DAIMON_ECORRUPT, "tool_result without a call_id");
	} else if (!strcmp(rec->type, DAIMON_REC_COMPACTION)) {
		if (!daimon_json_str(rec->json, "summary"))
			rc = daimon_error_code(DAIMON_ECORRUPT, "compaction without a summary");
	}
	if (rc < 0) {
		cJSON_Delete(rec->json);
		memset(rec, 0, sizeof(*rec));
	}
	return rc;
}

void daimon_record_clear(daimon_record *rec)
{
	cJSON_Delete(rec->json);
	memset(rec, 0, sizeof(*rec));
}
