/*
 * session-settings.c — what config.json sets for a session: the mid-turn
 * mode of its channel, tool concurrency and deadlines, hibernation,
 * compression and summaries, each checked against its range.
 */
#include "sessions/session-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/error.h"
#include "core/jsonutil.h"

int daimon_mid_turn_parse(const char *name)
{
	static const char *const names[] = {"queue", "steer", "interrupt"};
	for (int i = 0; i < 3; i++)
		if (name && !strcmp(name, names[i]))
			return i;
	return -1;
}

/* The defaults, once: a setting config.json leaves out and a caller's 0
 * in daimon_session_opts both mean these. */
enum {
	DEFAULT_PARALLEL = 4,
	DEFAULT_TIMEOUT_S = 120,
	DEFAULT_IDLE_MINUTES = 10,
	DEFAULT_CONTEXT_WINDOW = 128000,
	DEFAULT_HEAD_MESSAGES = 2,
};
#define DEFAULT_THRESHOLD 0.5

/* A whole number in config.json within [min, max], or an error naming it. */
static int setting(const cJSON *obj, const char *path, const char *field, int64_t min, int64_t max, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < (double)min || v->valuedouble > (double)max)
		return daimon_error_code(DAIMON_EINVAL, "%s.%s in config.json must be a number from %lld to %lld",
					 path, field, (long long)min, (long long)max);
	*out = (int64_t)v->valuedouble;
	return 0;
}

int daimon_session_opts_load(daimon_session_opts *o, const char *home, const char *key)
{
	memset(o, 0, sizeof(*o));
	cJSON *file;
	int rc = daimon_config_load(&file, home);
	if (rc < 0)
		return rc;
	char channel[64];
	snprintf(channel, sizeof(channel), "%.*s", (int)strcspn(key, ":"), key);
	const cJSON *ch = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(file, "channels"), channel);
	const char *mode = daimon_json_str(ch, "mid_turn");
	int m = mode ? daimon_mid_turn_parse(mode) : 0;
	if (m < 0)
		rc = daimon_error_code(DAIMON_EINVAL,
				       "channels.%s.mid_turn in config.json is '%s'; it must be queue, steer or interrupt",
				       channel, mode);
	o->mid_turn = (daimon_mid_turn)(m < 0 ? 0 : m);
	int64_t parallel = DEFAULT_PARALLEL, timeout_s = DEFAULT_TIMEOUT_S, idle_min = DEFAULT_IDLE_MINUTES;
	int64_t window = DEFAULT_CONTEXT_WINDOW, head = DEFAULT_HEAD_MESSAGES, tail = 0;
	const struct {
		const char *obj, *field;
		int64_t min, max, *out;
	} ints[] = {
		{"tools", "parallel", 1, 64, &parallel},
		{"tools", "timeout_s", 1, 86400, &timeout_s},
		{"sessions", "idle_minutes", 0, 100000, &idle_min},
		{"model", "context_window", 0, 100000000, &window},
		{"compression", "head_messages", 1, 1000, &head},
		{"compression", "tail_tokens", 0, 100000000, &tail},
	};
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]) && rc == 0; i++)
		rc = setting(cJSON_GetObjectItemCaseSensitive(file, ints[i].obj), ints[i].obj, ints[i].field, ints[i].min,
			     ints[i].max, ints[i].out);
	const cJSON *sessions = cJSON_GetObjectItemCaseSensitive(file, "sessions");
	const cJSON *comp = cJSON_GetObjectItemCaseSensitive(file, "compression");
	const cJSON *th = cJSON_GetObjectItemCaseSensitive(comp, "threshold");
	if (rc == 0 && th && (!cJSON_IsNumber(th) || th->valuedouble < 0.05 || th->valuedouble > 0.95))
		rc = daimon_error_code(DAIMON_EINVAL, "compression.threshold in config.json must be a number from 0.05 to 0.95");
	o->context_window = (long)window;
	o->compress_threshold = cJSON_IsNumber(th) ? th->valuedouble : DEFAULT_THRESHOLD;
	o->head_messages = (int)head;
	o->tail_tokens = (size_t)tail;
	const cJSON *sum = cJSON_GetObjectItemCaseSensitive(sessions, "summarize");
	o->summarize = !sum || cJSON_IsTrue(sum);
	o->tool_parallel = (int)parallel;
	o->tool_timeout_ms = (long)timeout_s * 1000;
	o->idle_ms = idle_min ? (long)idle_min * 60000 : -1;
	/* (a fraction of a minute is taken too: 0.05 is 3 s) */
	const cJSON *im = cJSON_GetObjectItemCaseSensitive(sessions, "idle_minutes");
	if (cJSON_IsNumber(im) && im->valuedouble > 0 && im->valuedouble < 1)
		o->idle_ms = (long)(im->valuedouble * 60000);
	cJSON_Delete(file);
	return rc;
}

void session_settings_init(struct session_settings *set, daimon_store *store, daimon_aid http,
			   const daimon_llm_config *cfg, const daimon_session_opts *o)
{
	set->store = store;
	set->http = http;
	set->cfg = cfg;
	set->idle_ms = o->idle_ms ? o->idle_ms : DEFAULT_IDLE_MINUTES * 60000L;
	set->mid_turn = o->mid_turn;
	set->tools_live = o->tools_live;
	set->tool_parallel = o->tool_parallel > 0 ? o->tool_parallel : DEFAULT_PARALLEL;
	set->tool_timeout_ms = o->tool_timeout_ms > 0 ? o->tool_timeout_ms : DEFAULT_TIMEOUT_S * 1000L;
	set->depth = o->depth;
	double threshold = o->compress_threshold > 0 ? o->compress_threshold : DEFAULT_THRESHOLD;
	set->compress_at = o->context_window > 0 ? (size_t)((double)o->context_window * threshold) : 0;
	set->tail_tokens = o->tail_tokens > 0 ? o->tail_tokens : set->compress_at / 2;
	set->head_messages = o->head_messages > 0 ? o->head_messages : DEFAULT_HEAD_MESSAGES;
	set->summarize = o->summarize;
}
