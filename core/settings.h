/*
 * settings.h — every setting of config.json in one table, and the one
 * reader of the file.
 *
 * The table (settings.c, in the manner of tmux's options-table.c and
 * Redis's config.c) gives each setting its path ("tools.parallel"), type,
 * range or choices, default and one line of documentation. Modules read
 * their settings through it and nobody parses config.json on their own,
 * so a setting has one default, one range and one message.
 *
 * Loading fails only when the file cannot be read or is not JSON (the
 * message names file, line and column). A bad value fails only the reader
 * of that setting, so a wrong Telegram setting costs Telegram and not
 * `daimon ask`; `daimon config check` (and the daemon's log) lists every
 * problem at once: bad values with their range, and unknown keys with
 * the nearest known one ("did you mean 'model'?").
 *
 * Secrets (provider keys, channel tokens) belong in the environment or
 * $DAIMON_HOME/credentials, never in config.json.
 */
#ifndef DAIMON_CORE_SETTINGS_H
#define DAIMON_CORE_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/buf.h"

typedef enum {
	DAIMON_SETTING_INT,    /* a whole number within [min, max] */
	DAIMON_SETTING_NUMBER, /* any number within [min, max] */
	DAIMON_SETTING_BOOL,
	DAIMON_SETTING_STRING,
	DAIMON_SETTING_CHOICE, /* one of `choices` ("queue|steer|interrupt") */
	DAIMON_SETTING_LIST,   /* a JSON array, read as it is */
	DAIMON_SETTING_MAP,    /* a JSON object of the caller's keys, read as it is */
} daimon_setting_type;

typedef struct {
	const char *path; /* "tools.parallel"; a '*' segment stands for any key */
	daimon_setting_type type;
	double min, max;
	const char *choices;
	const char *def; /* the default as JSON text ("4", "true", "\"queue\""); NULL: none */
	const char *doc; /* one line */
} daimon_setting;

/* The table, ending with an entry whose path is NULL. */
extern const daimon_setting daimon_settings_table[];

typedef struct daimon_settings daimon_settings;

/* $DAIMON_HOME/config.json, read and checked (no file is no error: every
 * setting has its default). Fails (last error) when it cannot be read or
 * is not a JSON object, naming the file, line and column. */
int daimon_settings_load(daimon_settings **out, const char *home);
/* config.json's text as a JSON object, or an error naming `name`, line
 * and column (for the file's one writer, daimon_config_edit). */
int daimon_settings_parse_object(cJSON **out, const char *name, const char *text, size_t len);
/* The same as daimon_settings_load, from text (`name` is what messages
 * call it). */
int daimon_settings_parse(daimon_settings **out, const char *name, const char *text, size_t len);
void daimon_settings_free(daimon_settings *s);

/* A setting's value, or its default when config.json leaves it out. A
 * value of the wrong type or out of its range is an error naming the
 * setting and what it must be (*out is then the default). Asking for a
 * path the table does not have is a programming error (asserted). */
int daimon_settings_int(const daimon_settings *s, const char *path, int64_t *out);
int daimon_settings_number(const daimon_settings *s, const char *path, double *out);
int daimon_settings_bool(const daimon_settings *s, const char *path, int *out);
/* STRING and CHOICE; *out is NULL when unset and without a default. The
 * string lives as long as `s`. */
int daimon_settings_string(const daimon_settings *s, const char *path, const char **out);
/* Whether config.json sets `path` (to anything but null). */
int daimon_settings_has(const daimon_settings *s, const char *path);
/* LIST and MAP, as they are in the file; left out, the entry's default
 * (NULL when it has none); NULL too for a bad value. */
const cJSON *daimon_settings_json(const daimon_settings *s, const char *path);

/* A number setting's default, from the table (asserted to be one). */
double daimon_setting_default(const char *path);

/* The table's entry for `path` (wildcards matched), or NULL. */
const daimon_setting *daimon_setting_find(const char *path);

/* Every problem of the file, one `each` call each (a line of text, no
 * newline): unknown keys (with the nearest known one) and bad values
 * (with what they must be). The count. */
size_t daimon_settings_problems(const daimon_settings *s, void (*each)(void *payload, const char *problem),
				void *payload);

/* A value given on the command line (`daimon config set PATH VALUE`),
 * checked against the table: a number, true/false, a choice, a string,
 * or JSON for lists and maps. NULL with the last error set. */
cJSON *daimon_setting_value(const daimon_setting *e, const char *path, const char *text);

/* The settings reference as a Markdown table, for the README. */
void daimon_settings_markdown(daimon_buf *out);

#endif
