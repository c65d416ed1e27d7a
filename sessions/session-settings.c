/*
 * session-settings.c — what config.json sets for a session: the mid-turn
 * mode of its channel, tool concurrency and deadlines, hibernation,
 * compression and summaries, each checked against its range.
 */
#include "sessions/session-int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/jsonutil.h"
#include "core/settings.h"
#include "memory/curated.h"

int daimon_mid_turn_parse(const char *name)
{
	static const char *const names[] = {"queue", "steer", "interrupt"};
	for (int i = 0; i < 3; i++)
		if (name && !strcmp(name, names[i]))
			return i;
	return -1;
}

/* The tools others than the owner may use, ",name,...," — interned:
 * a few distinct lists ever (one per configuration), shared by every
 * session that has it and kept for the process's life. */
static const char *intern(const char *s)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static struct interned {
		struct interned *next;
		char s[];
	} * all;
	pthread_mutex_lock(&mu);
	struct interned *i = all;
	while (i && strcmp(i->s, s))
		i = i->next;
	if (!i) {
		i = daimon_xmalloc(sizeof(*i) + strlen(s) + 1);
		strcpy(i->s, s);
		i->next = all;
		all = i;
	}
	pthread_mutex_unlock(&mu);
	return i->s;
}

/* tools.others as ",name,...,"; a bad value (said where the settings are
 * read) grants what the default does. */
static const char *grants_of(const daimon_settings *s)
{
	const cJSON *list = daimon_settings_json(s, "tools.others");
	cJSON *def = list ? NULL : cJSON_Parse(daimon_setting_find("tools.others")->def);
	daimon_buf b = DAIMON_BUF_INIT;
	daimon_buf_addc(&b, ',');
	const cJSON *t, *names = list ? list : def;
	cJSON_ArrayForEach(t, names) if (cJSON_IsString(t)) daimon_buf_addf(&b, "%s,", t->valuestring);
	const char *g = intern(daimon_buf_cstr(&b));
	daimon_buf_release(&b);
	cJSON_Delete(def);
	return g;
}

int daimon_session_opts_load(daimon_session_opts *o, const char *home, const char *key)
{
	memset(o, 0, sizeof(*o));
	daimon_settings *s;
	int rc = daimon_settings_load(&s, home);
	if (rc < 0)
		return rc;
	char path[96];
	snprintf(path, sizeof(path), "channels.%.*s.mid_turn", (int)strcspn(key, ":"), key);
	const char *mode = NULL;
	if (daimon_setting_find(path))
		rc = daimon_settings_string(s, path, &mode);
	int m = mode ? daimon_mid_turn_parse(mode) : 0;
	o->mid_turn = (daimon_mid_turn)(m > 0 ? m : 0);
	int64_t parallel = 0, timeout_s = 0, window = 0, head = 0, tail = 0;
	double idle_min = 0, threshold = 0;
	const struct {
		const char *path;
		int64_t *out;
	} ints[] = {
		{"tools.parallel", &parallel},      {"tools.timeout_s", &timeout_s},
		{"model.context_window", &window},  {"compression.head_messages", &head},
		{"compression.tail_tokens", &tail},
	};
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]) && rc == 0; i++)
		rc = daimon_settings_int(s, ints[i].path, ints[i].out);
	if (rc == 0)
		rc = daimon_settings_number(s, "sessions.idle_minutes", &idle_min);
	if (rc == 0)
		rc = daimon_settings_number(s, "compression.threshold", &threshold);
	if (rc == 0)
		rc = daimon_settings_bool(s, "sessions.summarize", &o->summarize);
	o->context_window = (long)window;
	o->compress_threshold = threshold;
	o->head_messages = (int)head;
	o->tail_tokens = (size_t)tail;
	o->tool_parallel = (int)parallel;
	o->tool_timeout_ms = (long)timeout_s * 1000;
	/* (a fraction of a minute is taken too: 0.05 is 3 s) */
	o->idle_ms = idle_min > 0 ? (long)(idle_min * 60000) : -1;
	if (rc == 0 && !daimon_is_owner(s, key))
		o->grants = grants_of(s);
	daimon_settings_free(s);
	return rc;
}

/* A caller's 0 in daimon_session_opts means the default config.json's
 * does: the settings table's. */
void session_settings_init(struct session_settings *set, daimon_store *store, daimon_aid http,
			   const daimon_llm_config *cfg, const daimon_session_opts *o)
{
	set->store = store;
	set->http = http;
	set->cfg = cfg;
	set->idle_ms = o->idle_ms ? o->idle_ms : (long)(daimon_setting_default("sessions.idle_minutes") * 60000);
	set->mid_turn = o->mid_turn;
	set->tools_live = o->tools_live;
	set->budget = o->budget;
	set->grants = o->grants;
	set->tool_parallel = o->tool_parallel > 0 ? o->tool_parallel : (int)daimon_setting_default("tools.parallel");
	set->tool_timeout_ms =
		o->tool_timeout_ms > 0 ? o->tool_timeout_ms : (long)daimon_setting_default("tools.timeout_s") * 1000;
	set->depth = o->depth;
	double threshold =
		o->compress_threshold > 0 ? o->compress_threshold : daimon_setting_default("compression.threshold");
	set->compress_at = o->context_window > 0 ? (size_t)((double)o->context_window * threshold) : 0;
	set->tail_tokens = o->tail_tokens > 0 ? o->tail_tokens : set->compress_at / 2;
	set->head_messages =
		o->head_messages > 0 ? o->head_messages : (int)daimon_setting_default("compression.head_messages");
	set->summarize = o->summarize;
	set->owner = o->owner;
}
