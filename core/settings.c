/*
 * settings.c — the settings table and the reader of config.json (see
 * settings.h for the design).
 *
 * The table is the one place a setting's default, range and meaning are
 * written; the README's settings reference is printed from it (`daimon
 * config doc`), and a test checks that the two agree. A value is checked
 * when it is read, against its entry, so a bad one fails its reader only;
 * daimon_settings_problems walks the whole file for `daimon config check`
 * and the daemon's log.
 */
#include "core/settings.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/home.h"
#include "core/jsonutil.h"

#define INT(p, lo, hi, d, doc)                              \
	{                                                   \
		p, DAIMON_SETTING_INT, lo, hi, NULL, d, doc \
	}
#define NUM(p, lo, hi, d, doc)                                 \
	{                                                      \
		p, DAIMON_SETTING_NUMBER, lo, hi, NULL, d, doc \
	}
#define BOOL(p, d, doc)                                    \
	{                                                  \
		p, DAIMON_SETTING_BOOL, 0, 0, NULL, d, doc \
	}
#define STR(p, d, doc)                                       \
	{                                                    \
		p, DAIMON_SETTING_STRING, 0, 0, NULL, d, doc \
	}
#define CHOICE(p, c, d, doc)                              \
	{                                                 \
		p, DAIMON_SETTING_CHOICE, 0, 0, c, d, doc \
	}
#define LIST(p, d, doc)                                    \
	{                                                  \
		p, DAIMON_SETTING_LIST, 0, 0, NULL, d, doc \
	}
#define MAP(p, doc)                                          \
	{                                                    \
		p, DAIMON_SETTING_MAP, 0, 0, NULL, NULL, doc \
	}
#define MID_TURN(ch)                                                             \
	CHOICE("channels." ch ".mid_turn", "queue|steer|interrupt", "\"queue\"", \
	       "what a message that arrives during a turn does: waits its turn, joins the turn, or stops it")
#define ACCESS(ch)                                                                                              \
	LIST("channels." ch ".allow", NULL, "sender ids let in without pairing (\"*\": everyone)"),             \
		BOOL("channels." ch ".pairing", "true", "unknown senders get a pairing code (false: ignored)"), \
		BOOL("channels." ch ".enabled", "true", "false turns the channel off")

const daimon_setting daimon_settings_table[] = {
	CHOICE("model.provider",
	       "|openai|anthropic|openrouter|groq|gemini|deepseek|mistral|together|xai|ollama|llamacpp|vllm|lmstudio",
	       "\"\"",
	       "the model provider (DAIMON_PROVIDER), which knows its wire format, base URL and key variable; "
	       "empty: openai, or anthropic with only ANTHROPIC_API_KEY"),
	CHOICE("model.wire", "|openai|anthropic", "\"\"",
	       "the wire format of another provider's base URL (DAIMON_WIRE): openai (chat completions) or "
	       "anthropic (messages); empty: the provider's"),
	STR("model.base_url", "\"\"",
	    "the API's base URL as its SDK writes it, version path included (DAIMON_BASE_URL, OPENAI_BASE_URL); "
	    "empty: the provider's"),
	STR("model.model", "\"\"", "the model's name (DAIMON_MODEL); empty: the server's first"),
	STR("model.api_key_env", "\"\"", "the environment variable holding the API key (DAIMON_API_KEY otherwise)"),
	INT("model.context_window", 0, 100000000, "128000", "the model's context window in tokens (0: no compression)"),
	INT("model.first_token_s", 1, 3600, "60", "an answer that has not begun by then is abandoned and retried"),
	INT("model.idle_s", 1, 3600, "60",
	    "an answer that brings no new text or tool call for this long (keep-alives do not count) is stopped"),
	INT("model.max_stream_s", 1, 86400, "600", "the longest one answer may stream"),
	INT("model.max_answer_kb", 16, 1048576, "2048",
	    "the largest answer (text and tool arguments) taken from the model"),
	INT("model.thinking_tokens", 0, 1000000, "0",
	    "Anthropic's extended thinking: its budget in tokens (0: off); servers that reason unasked (DeepSeek, "
	    "Qwen) do so anyway, and the reasoning is logged, shown only with --show-thinking"),
	BOOL("model.images", "true",
	     "the model takes images (photos from Telegram, pictures pasted on the web page); false: they are "
	     "kept in the inbox and the model is told it cannot see them"),
	INT("model.max_images", 0, 100, "4", "how many of a conversation's newest images go with each request"),
	STR("model.transcribe_model", "\"whisper-1\"",
	    "the speech-to-text model voice messages go to (the provider's /audio/transcriptions)"),
	INT("model.retries", 0, 10, "4", "how often a rate limit, a server error or a lost connection is retried"),
	STR("model.summary_model", "\"\"",
	    "the model summaries and context compression ask, \"provider/model\" (a cheaper one); empty: the model"),
	LIST("usage.prices", NULL,
	     "what models cost per million tokens, \"MODEL=INPUT/OUTPUT[/CACHED]\" "
	     "(\"gpt-4o=2.5/10/1.25\"); a model with none has no cost, never a guessed one"),
	NUM("model.daily_budget", 0, 1e9, "0",
	    "what the models may cost in one local day, in usage.prices' unit; past it new turns are refused, "
	    "said (0: no limit; models without a price count nothing)"),
	LIST("model.fallbacks", NULL,
	     "further models tried in order when a call fails for good before anything streamed: \"provider/model\""),
	INT("model.max_retry_after_s", 0, 86400, "60",
	    "the longest Retry-After waited for; a server asking more fails the call, said"),
	NUM("compression.threshold", 0.05, 0.95, "0.5", "compress the history past this share of the context window"),
	INT("compression.head_messages", 1, 1000, "2", "the first messages compression keeps as they are"),
	INT("compression.tail_tokens", 0, 100000000, "0", "recent tokens compression keeps (0: half the threshold)"),
	INT("memory.memory_chars", 1, 1000000, "2200", "the size limit of MEMORY.md, daimon's notes"),
	INT("memory.user_chars", 1, 1000000, "1375", "the size limit of USER.md (and each person's file)"),
	INT("memory.soul_chars", 1, 1000000, "3000", "the size limit of SOUL.md, the persona"),
	LIST("owners", NULL,
	     "Telegram and mail senders who are the owner (\"telegram:42\"; `daimon owner add`): "
	     "they get USER.md, MEMORY.md and every tool"),
	INT("search.default_limit", 1, 10000, "20", "hits `daimon search` shows without --limit"),
	NUM("sessions.idle_minutes", 0, 100000, "10",
	    "an idle session is summarized and hibernates after this (0: never)"),
	BOOL("sessions.summarize", "true", "the model writes a title and summary of a session gone idle"),
	INT("tools.parallel", 1, 64, "4", "tool calls of one answer running at once"),
	LIST("tools.others", "[\"current_time\",\"skill_read\"]",
	     "the tools conversations other than the owner's may use (by default none that reads your history or "
	     "memory, writes or runs; [] none; [\"*\"] all)"),
	INT("tools.timeout_s", 1, 86400, "120", "a tool call's deadline unless the tool sets its own"),
	CHOICE("skills.authoring", "approve|auto|off", "\"approve\"",
	       "skills the model writes: you build them, they go live at once, or no skill_author tool"),
	NUM("daemon.stop_timeout_s", 0, 3600, "10", "running turns get this long at a stop before they are cancelled"),
	MID_TURN("cli"),
	MID_TURN("web"),
	ACCESS("web"),
	INT("channels.web.port", 1, 65535, "8377", "the web chat's port on 127.0.0.1"),
	INT("channels.web.max_connections", 4, 4096, "64", "connections the web chat takes at once (more wait)"),
	INT("channels.web.idle_s", 5, 3600, "30", "a web connection silent this long is closed"),
	INT("channels.web.max_body_mb", 1, 1024, "16",
	    "the largest request the web chat reads (a message with its pictures), checked after the token"),
	MID_TURN("telegram"),
	ACCESS("telegram"),
	STR("channels.telegram.token", NULL, "the bot's token (TELEGRAM_BOT_TOKEN is better: no secret in this file)"),
	STR("channels.telegram.api_url", "\"https://api.telegram.org\"",
	    "the Bot API server (DAIMON_TELEGRAM_API_URL)"),
	INT("channels.telegram.poll_timeout_s", 0, 50, "25", "how long one getUpdates long poll waits"),
	INT("channels.telegram.poll_interval_ms", 0, 600000, "1000", "the pause between polls after a failed one"),
	INT("channels.telegram.max_file_mb", 1, 2000, "20",
	    "the largest photo, voice message or document taken (the Bot API hands bots files up to 20 MB)"),
	CHOICE("channels.telegram.groups", "mention|all|off", "\"mention\"",
	       "in a group: answer when mentioned or replied to, every message, or not at all"),
	INT("channels.telegram.stream_ms", 0, 60000, "1000",
	    "how often an answer's message is edited as it streams (0: the answer comes whole)"),
	MID_TURN("mail"),
	ACCESS("mail"),
	STR("channels.mail.imap_url", NULL, "the mailbox to read (imap://host:143/INBOX)"),
	STR("channels.mail.smtp_url", NULL, "the server to send through (smtp://host:587)"),
	STR("channels.mail.username", NULL, "the login for both"),
	STR("channels.mail.password", NULL, "the password (DAIMON_MAIL_PASSWORD is better)"),
	STR("channels.mail.address", NULL, "the address replies come from"),
	STR("channels.mail.authserv_id", NULL,
	    "the receiving server whose Authentication-Results vouch for a sender (empty: the topmost header's; "
	    "\"none\": trust From: alone, unsafe); a mail it does not vouch for is left unanswered"),
	NUM("channels.mail.poll_s", 0.001, 86400, "60", "seconds between looks at the mailbox"),
	STR("time.zone", "\"\"",
	    "the owner's time zone for schedules, an IANA name such as Europe/Berlin (empty: the system's); read at "
	    "start"),
	INT("schedule.grace_h", 0, 8760, "12",
	    "a one-shot job missed while the daemon was down still runs this many hours late; later, it is marked "
	    "missed "
	    "and the owner told"),
	INT("schedule.min_interval_s", 1, 86400, "60", "the shortest interval a recurring job may have"),
	INT("schedule.max_jobs", 1, 1000000, "10000", "how many jobs may wait at once"),
	INT("schedule.retry_s", 1, 86400, "30", "the first wait before a failed delivery is tried again (it doubles)"),
	INT("schedule.max_attempts", 1, 1000, "12", "deliveries tried before a job's message is given up (and said)"),
	STR("schedule.deliver_to", "\"\"",
	    "where jobs made in a conversation no channel pushes to (the terminal, the web page) are also delivered, "
	    "such as telegram:12345 (empty: only written into their conversation)"),
	MAP("mcp.servers", "MCP servers by name (`daimon mcp add` writes them)"),
	STR("mcp.servers.*.command", NULL, "the server's program"),
	LIST("mcp.servers.*.args", NULL, "its arguments"),
	MAP("mcp.servers.*.env", "its environment, added to daimon's"),
	LIST("mcp.servers.*.roots", NULL, "folders the server may see, offered to it as its roots"),
	INT("mcp.servers.*.timeout_s", 1, 86400, "60", "a call's deadline; past it the server is restarted"),
	BOOL("mcp.servers.*.side_effecting", NULL, "its tools change the world (journaled before they run)"),
	BOOL("mcp.servers.*.idempotent", NULL, "its tools may be repeated with the same key after a crash"),
	{NULL, 0, 0, 0, NULL, NULL, NULL},
};

struct daimon_settings {
	char *name; /* the file, for messages */
	cJSON *root;
	cJSON *defaults; /* each string and list entry's default, parsed, by the entry's path */
};

/* ---- paths ---- */

/* Whether `path` matches `pattern`, segment by segment ('*' any key);
 * with `prefix`, whether `path` is a leading part of it. */
static int path_match(const char *pattern, const char *path, int prefix)
{
	for (;;) {
		size_t pl = strcspn(pattern, "."), sl = strcspn(path, ".");
		if (!(pl == 1 && *pattern == '*') && (pl != sl || strncmp(pattern, path, pl)))
			return 0;
		pattern += pl, path += sl;
		if (!*path)
			return !*pattern || (prefix && *pattern == '.');
		if (!*pattern)
			return 0;
		pattern++, path++;
	}
}

const daimon_setting *daimon_setting_find(const char *path)
{
	for (const daimon_setting *e = daimon_settings_table; e->path; e++)
		if (path_match(e->path, path, 0))
			return e;
	return NULL;
}

double daimon_setting_default(const char *path)
{
	const daimon_setting *e = daimon_setting_find(path);
	assert(e && e->def && (e->type == DAIMON_SETTING_INT || e->type == DAIMON_SETTING_NUMBER));
	return strtod(e->def, NULL);
}

/* The value at a dotted path, or NULL. */
static const cJSON *lookup(const cJSON *root, const char *path)
{
	const cJSON *at = root;
	char key[256];
	while (at && *path) {
		size_t n = strcspn(path, ".");
		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		at = cJSON_IsObject(at) ? cJSON_GetObjectItemCaseSensitive(at, key) : NULL;
		path += n + (path[n] == '.');
	}
	return at;
}

/* ---- loading ---- */

/* Line and column (from 1) of `at` in `text`. */
static void position(const char *text, const char *at, int *line, int *col)
{
	*line = 1, *col = 1;
	for (const char *p = text; p < at && *p; p++) {
		if (*p == '\n')
			++*line, *col = 1;
		else
			++*col;
	}
}

int daimon_settings_parse_object(cJSON **out, const char *name, const char *text, size_t len)
{
	*out = NULL;
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!cJSON_IsObject(root)) {
		int line, col;
		position(text, root ? text : (end ? end : cJSON_GetErrorPtr()), &line, &col);
		cJSON_Delete(root);
		if (!root)
			return daimon_error_code(DAIMON_EINVAL,
						 "'%s' is not valid JSON at line %d, column %d; fix it or remove it "
						 "and run `daimon init`",
						 name, line, col);
		return daimon_error_code(DAIMON_EINVAL,
					 "'%s' is not valid JSON for settings: it must be one object ({...}); fix it "
					 "or remove it and run `daimon init`",
					 name);
	}
	*out = root;
	return 0;
}

int daimon_settings_parse(daimon_settings **out, const char *name, const char *text, size_t len)
{
	*out = NULL;
	cJSON *root;
	int rc = daimon_settings_parse_object(&root, name, text, len);
	if (rc < 0)
		return rc;
	daimon_settings *s = daimon_xcalloc(1, sizeof(*s));
	s->name = daimon_xstrdup(name);
	s->root = root;
	s->defaults = cJSON_CreateObject();
	for (const daimon_setting *e = daimon_settings_table; e->path; e++) {
		if (e->type != DAIMON_SETTING_STRING && e->type != DAIMON_SETTING_CHOICE &&
		    e->type != DAIMON_SETTING_LIST)
			continue; /* (numbers and booleans are read from the text, allocating nothing) */
		cJSON *d = e->def ? cJSON_Parse(e->def) : NULL;
		assert((d || !e->def) && "a default is JSON");
		if (d)
			cJSON_AddItemToObject(s->defaults, e->path, d);
	}
	*out = s;
	return 0;
}

int daimon_settings_load(daimon_settings **out, const char *home)
{
	char *path = daimon_home_path(home, "config.json");
	daimon_buf text = DAIMON_BUF_INIT;
	int rc = daimon_read_file(&text, path);
	if (rc == DAIMON_ENOTFOUND)
		rc = daimon_settings_parse(out, path, "{}", 2);
	else if (rc == 0)
		rc = daimon_settings_parse(out, path, daimon_buf_cstr(&text), text.len);
	daimon_buf_release(&text);
	free(path);
	return rc;
}

void daimon_settings_free(daimon_settings *s)
{
	if (!s)
		return;
	cJSON_Delete(s->root);
	cJSON_Delete(s->defaults);
	free(s->name);
	free(s);
}

/* ---- reading a setting ---- */

/* "a, b or c" from "a|b|c" (an empty choice shown as ""). */
static void choices_text(daimon_buf *b, const char *choices)
{
	size_t count = 1, i = 0;
	for (const char *p = choices; *p; p++)
		count += *p == '|';
	for (const char *p = choices;; i++) {
		size_t n = strcspn(p, "|");
		if (i)
			daimon_buf_adds(b, i + 1 == count ? " or " : ", ");
		if (n)
			daimon_buf_add(b, p, n);
		else
			daimon_buf_adds(b, "\"\"");
		if (!p[n])
			break;
		p += n + 1;
	}
}

static int is_choice(const char *choices, const char *v)
{
	size_t len = strlen(v);
	for (const char *p = choices;;) {
		size_t n = strcspn(p, "|");
		if (n == len && !strncmp(p, v, n))
			return 1;
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

static void number_text(char *out, size_t size, double v)
{
	snprintf(out, size, "%.15g", v);
}

/* NULL if `v` is right for `e`, else what it must be ("must be a number
 * from 1 to 64"), written to `why`. */
static const char *check(const daimon_setting *e, const cJSON *v, daimon_buf *why)
{
	char lo[32], hi[32];
	switch (e->type) {
	case DAIMON_SETTING_INT:
	case DAIMON_SETTING_NUMBER:
		if (cJSON_IsNumber(v) && v->valuedouble >= e->min && v->valuedouble <= e->max &&
		    (e->type == DAIMON_SETTING_NUMBER || v->valuedouble == (double)(int64_t)v->valuedouble))
			return NULL;
		number_text(lo, sizeof(lo), e->min);
		number_text(hi, sizeof(hi), e->max);
		daimon_buf_addf(why, "must be a number from %s to %s", lo, hi);
		break;
	case DAIMON_SETTING_BOOL:
		if (cJSON_IsBool(v))
			return NULL;
		daimon_buf_adds(why, "must be true or false");
		break;
	case DAIMON_SETTING_STRING:
		if (cJSON_IsString(v))
			return NULL;
		daimon_buf_adds(why, "must be a string");
		break;
	case DAIMON_SETTING_CHOICE:
		if (cJSON_IsString(v) && is_choice(e->choices, v->valuestring))
			return NULL;
		if (cJSON_IsString(v))
			daimon_buf_addf(why, "is '%s'; it must be ", v->valuestring);
		else
			daimon_buf_adds(why, "must be ");
		choices_text(why, e->choices);
		break;
	case DAIMON_SETTING_LIST:
		if (cJSON_IsArray(v))
			return NULL;
		daimon_buf_adds(why, "must be a list ([...])");
		break;
	case DAIMON_SETTING_MAP:
		if (cJSON_IsObject(v))
			return NULL;
		daimon_buf_adds(why, "must be an object ({...})");
		break;
	}
	return daimon_buf_cstr(why);
}

/* The value of `path`, checked, or NULL with `*e` its entry, whose
 * default then applies; a bad value is an error. */
static int value(const daimon_settings *s, const char *path, daimon_setting_type want, const cJSON **out,
		 const daimon_setting **entry)
{
	const daimon_setting *e = daimon_setting_find(path);
	assert(e && "a setting read is in the table");
	*entry = e;
	assert(e->type == want || (want == DAIMON_SETTING_STRING && e->type == DAIMON_SETTING_CHOICE) ||
	       (want == DAIMON_SETTING_NUMBER && e->type == DAIMON_SETTING_INT) ||
	       (want == DAIMON_SETTING_LIST && e->type == DAIMON_SETTING_MAP));
	int rc = 0;
	const cJSON *v = lookup(s->root, path);
	if (v && !cJSON_IsNull(v)) {
		daimon_buf why = DAIMON_BUF_INIT;
		if (!check(e, v, &why)) {
			daimon_buf_release(&why);
			*out = v;
			return 0;
		}
		rc = daimon_error_code(DAIMON_EINVAL, "%s in config.json %s", path, daimon_buf_cstr(&why));
		daimon_buf_release(&why);
	}
	*out = NULL;
	return rc;
}

int daimon_settings_number(const daimon_settings *s, const char *path, double *out)
{
	const cJSON *v;
	const daimon_setting *e;
	int rc = value(s, path, DAIMON_SETTING_NUMBER, &v, &e);
	*out = v ? v->valuedouble : e->def ? strtod(e->def, NULL) : 0;
	return rc;
}

int daimon_settings_int(const daimon_settings *s, const char *path, int64_t *out)
{
	double d;
	int rc = daimon_settings_number(s, path, &d);
	*out = (int64_t)d;
	return rc;
}

int daimon_settings_bool(const daimon_settings *s, const char *path, int *out)
{
	const cJSON *v;
	const daimon_setting *e;
	int rc = value(s, path, DAIMON_SETTING_BOOL, &v, &e);
	*out = v ? cJSON_IsTrue(v) : e->def && !strcmp(e->def, "true");
	return rc;
}

int daimon_settings_string(const daimon_settings *s, const char *path, const char **out)
{
	const cJSON *v;
	const daimon_setting *e;
	int rc = value(s, path, DAIMON_SETTING_STRING, &v, &e);
	if (!v)
		v = cJSON_GetObjectItemCaseSensitive(s->defaults, e->path);
	*out = cJSON_IsString(v) ? v->valuestring : NULL;
	return rc;
}

int daimon_settings_has(const daimon_settings *s, const char *path)
{
	const cJSON *v = lookup(s->root, path);
	return v && !cJSON_IsNull(v);
}

const cJSON *daimon_settings_json(const daimon_settings *s, const char *path)
{
	const cJSON *v;
	const daimon_setting *e;
	if (value(s, path, DAIMON_SETTING_LIST, &v, &e) < 0)
		return NULL;
	return v ? v : cJSON_GetObjectItemCaseSensitive(s->defaults, e->path); /* (unset: the table's default) */
}

/* ---- the whole file ---- */

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64];
	if (la >= 63 || lb >= 63)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			if (up + 1 < best)
				best = up + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* The known key nearest to `key` under `parent` ("" at the top), close
 * enough to be a typo of it, into `out`; 0 if none is. */
static int nearest(const char *parent, const char *key, char *out, size_t size)
{
	size_t plen = strlen(parent), best = (size_t)-1;
	for (const daimon_setting *e = daimon_settings_table; e->path; e++) {
		const char *p = e->path;
		if (plen) {
			if (!path_match(e->path, parent, 1))
				continue;
			size_t segs = 1; /* skip as many segments as parent has */
			for (const char *q = parent; *q; q++)
				segs += *q == '.';
			while (segs--)
				p += strcspn(p, ".") + 1;
		}
		char cand[64];
		snprintf(cand, sizeof(cand), "%.*s", (int)strcspn(p, "."), p);
		size_t d = edit_distance(key, cand);
		if (d < best && d <= (strlen(cand) > 5 ? 3 : 2)) {
			best = d;
			snprintf(out, size, "%s%s%s", parent, plen ? "." : "", cand);
		}
	}
	return best != (size_t)-1;
}

static int has_entries_under(const char *pattern)
{
	size_t n = strlen(pattern);
	for (const daimon_setting *e = daimon_settings_table; e->path; e++)
		if (!strncmp(e->path, pattern, n) && e->path[n] == '.')
			return 1;
	return 0;
}

struct problems {
	const daimon_settings *s;
	void (*each)(void *payload, const char *problem);
	void *payload;
	size_t n;
};

static void problem(struct problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct problems *p, const char *fmt, ...)
{
	daimon_buf b = DAIMON_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	daimon_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	p->each(p->payload, daimon_buf_cstr(&b));
	daimon_buf_release(&b);
	p->n++;
}

static void walk(struct problems *p, const cJSON *obj, const char *parent)
{
	for (const cJSON *c = obj->child; c; c = c->next) {
		char *path = daimon_xasprintf("%s%s%s", parent, *parent ? "." : "", c->string);
		const daimon_setting *e = daimon_setting_find(path);
		if (e) {
			const cJSON *v;
			const daimon_setting *found;
			if (!cJSON_IsNull(c) && value(p->s, path, e->type, &v, &found) < 0)
				problem(p, "%s", daimon_error_last());
			if (e->type == DAIMON_SETTING_MAP && cJSON_IsObject(c) && has_entries_under(e->path))
				walk(p, c, path); /* (mcp.servers.NAME.command) */
		} else {
			int known_parent = 0;
			for (const daimon_setting *t = daimon_settings_table; t->path && !known_parent; t++)
				known_parent = path_match(t->path, path, 1);
			char near[256];
			if (known_parent && cJSON_IsObject(c))
				walk(p, c, path);
			else if (!known_parent && nearest(parent, c->string, near, sizeof(near)))
				problem(p, "%s: unknown setting '%s' (did you mean '%s'?)", p->s->name, path, near);
			else if (!known_parent)
				problem(p, "%s: unknown setting '%s'", p->s->name, path);
		}
		free(path);
	}
}

size_t daimon_settings_problems(const daimon_settings *s, void (*each)(void *payload, const char *problem),
				void *payload)
{
	struct problems p = {.s = s, .each = each, .payload = payload};
	walk(&p, s->root, "");
	return p.n;
}

cJSON *daimon_setting_value(const daimon_setting *e, const char *path, const char *text)
{
	cJSON *v = NULL;
	switch (e->type) {
	case DAIMON_SETTING_INT:
	case DAIMON_SETTING_NUMBER: {
		char *end;
		double d = strtod(text, &end);
		if (*text && !*end)
			v = cJSON_CreateNumber(d);
		break;
	}
	case DAIMON_SETTING_BOOL:
		if (!strcmp(text, "true") || !strcmp(text, "false"))
			v = cJSON_CreateBool(text[0] == 't');
		break;
	case DAIMON_SETTING_STRING:
	case DAIMON_SETTING_CHOICE:
		v = cJSON_CreateString(text);
		break;
	case DAIMON_SETTING_LIST:
	case DAIMON_SETTING_MAP:
		v = cJSON_Parse(text);
		break;
	}
	daimon_buf why = DAIMON_BUF_INIT;
	if (!v || check(e, v, &why)) {
		if (!why.len)
			check(e, cJSON_IsNull(v) ? v : NULL, &why);
		daimon_error_code(DAIMON_EINVAL, "%s %s", path, daimon_buf_cstr(&why));
		cJSON_Delete(v);
		v = NULL;
	}
	daimon_buf_release(&why);
	return v;
}

static const char *type_name(const daimon_setting *e)
{
	static const char *const names[] = {"integer", "number", "boolean", "string", "choice", "list", "object"};
	return names[e->type];
}

void daimon_settings_markdown(daimon_buf *out)
{
	daimon_buf_adds(out, "| setting | type | default | what it does |\n| --- | --- | --- | --- |\n");
	for (const daimon_setting *e = daimon_settings_table; e->path; e++) {
		daimon_buf_addf(out, "| `%s` | ", e->path);
		if (e->type == DAIMON_SETTING_CHOICE) {
			choices_text(out, e->choices);
		} else if (e->type == DAIMON_SETTING_INT || e->type == DAIMON_SETTING_NUMBER) {
			char lo[32], hi[32];
			number_text(lo, sizeof(lo), e->min);
			number_text(hi, sizeof(hi), e->max);
			daimon_buf_addf(out, "%s, %s to %s", type_name(e), lo, hi);
		} else {
			daimon_buf_adds(out, type_name(e));
		}
		daimon_buf_addf(out, " | %s%s%s | %s |\n", e->def ? "`" : "", e->def ? e->def : "", e->def ? "`" : "",
				e->doc);
	}
}
