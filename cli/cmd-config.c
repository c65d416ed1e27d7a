/*
 * cmd-config.c — `daimon config list|get|set|unset|check|doc`: the settings
 * of config.json, read and written through the one settings table
 * (core/settings.h), so a value is checked against its range before it is
 * written, and a running daemon reloads after a change.
 *
 * Writes go through daimon_config_edit: under the file's lock, written
 * to a temporary file and renamed. JSON has no comments to keep; the
 * layout is cJSON's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/error.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/settings.h"

/* The value `path` has now (its default when left out; null when it has
 * none), and whether what config.json holds is bad. */
static cJSON *current(const daimon_settings *s, const daimon_setting *e, const char *path, int *bad)
{
	int64_t i;
	double d;
	int b;
	const char *str;
	const cJSON *j;
	switch (e->type) {
	case DAIMON_SETTING_INT:
		*bad = daimon_settings_int(s, path, &i) < 0;
		return cJSON_CreateNumber((double)i);
	case DAIMON_SETTING_NUMBER:
		*bad = daimon_settings_number(s, path, &d) < 0;
		return cJSON_CreateNumber(d);
	case DAIMON_SETTING_BOOL:
		*bad = daimon_settings_bool(s, path, &b) < 0;
		return e->def || daimon_settings_has(s, path) ? cJSON_CreateBool(b) : cJSON_CreateNull();
	case DAIMON_SETTING_STRING:
	case DAIMON_SETTING_CHOICE:
		*bad = daimon_settings_string(s, path, &str) < 0;
		return str ? cJSON_CreateString(str) : cJSON_CreateNull();
	case DAIMON_SETTING_LIST:
	case DAIMON_SETTING_MAP:
		j = daimon_settings_json(s, path);
		*bad = !j && daimon_settings_has(s, path);
		return j ? cJSON_Duplicate(j, 1) : cJSON_CreateNull();
	}
	return cJSON_CreateNull();
}

static void print_json(const cJSON *v)
{
	char *text = cJSON_PrintUnformatted(v);
	puts(text);
	free(text);
}

static int list(const daimon_settings *s, int json)
{
	for (const daimon_setting *e = daimon_settings_table; e->path; e++) {
		if (strchr(e->path, '*'))
			continue; /* (per server: `daimon mcp list`) */
		int bad;
		cJSON *v = current(s, e, e->path, &bad);
		if (json) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "setting", e->path);
			cJSON_AddItemToObject(o, "value", v);
			cJSON_AddItemToObject(o, "default", e->def ? cJSON_Parse(e->def) : cJSON_CreateNull());
			cJSON_AddBoolToObject(o, "valid", !bad);
			cJSON_AddStringToObject(o, "doc", e->doc);
			print_json(o);
			cJSON_Delete(o);
			continue;
		}
		char *text = cJSON_PrintUnformatted(v);
		printf("%-34s %s%s\n", e->path, text, bad ? "  (bad: the default is used)" : "");
		free(text);
		cJSON_Delete(v);
	}
	return 0;
}

static int get(const daimon_settings *s, const char *path, int json)
{
	const daimon_setting *e = daimon_setting_find(path);
	if (!e)
		return cli_error("no setting '%s' (`daimon config list` shows them)", path);
	int bad;
	cJSON *v = current(s, e, path, &bad);
	if (bad) {
		cJSON_Delete(v);
		return cli_fail();
	}
	if (!json && cJSON_IsString(v))
		puts(v->valuestring);
	else if (!json && cJSON_IsNull(v))
		puts("");
	else
		print_json(v);
	cJSON_Delete(v);
	return 0;
}

struct edit {
	const char *path;
	cJSON *value; /* NULL: unset */
};

/* Sets (or removes) the value at the dotted path, making objects on the way. */
static int edit_one(cJSON *cfg, void *arg)
{
	struct edit *ed = arg;
	cJSON *at = cfg;
	char key[256];
	for (const char *p = ed->path;;) {
		size_t n = strcspn(p, ".");
		snprintf(key, sizeof(key), "%.*s", (int)n, p);
		if (!p[n]) {
			cJSON_DeleteItemFromObjectCaseSensitive(at, key);
			if (ed->value)
				cJSON_AddItemToObject(at, key, cJSON_Duplicate(ed->value, 1));
			return 0;
		}
		cJSON *next = cJSON_GetObjectItemCaseSensitive(at, key);
		if (!next && !ed->value)
			return 0;
		if (!cJSON_IsObject(next)) {
			if (next)
				return daimon_error("%.*s in config.json is not an object", (int)(p + n - ed->path),
						    ed->path);
			next = cJSON_AddObjectToObject(at, key);
		}
		at = next;
		p += n + 1;
	}
}

static int set(const char *home, const char *path, const char *text)
{
	const daimon_setting *e = daimon_setting_find(path);
	if (!e)
		return cli_error("no setting '%s' (`daimon config list` shows them)", path);
	struct edit ed = {.path = path, .value = text ? daimon_setting_value(e, path, text) : NULL};
	if (text && !ed.value)
		return cli_fail();
	int rc = daimon_config_edit(home, edit_one, &ed);
	cJSON_Delete(ed.value);
	if (rc < 0)
		return cli_fail();
	if (cli_daemon_tell("reload") == 1)
		fprintf(stderr, "daimon: the running daemon reloaded its settings\n");
	return 0;
}

static void print_problem(void *json, const char *problem)
{
	if (!*(int *)json) {
		puts(problem);
		return;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "problem", problem);
	print_json(o);
	cJSON_Delete(o);
}

static int check(const daimon_settings *s, int json)
{
	size_t n = daimon_settings_problems(s, print_problem, &json);
	if (!n && !json)
		puts("config.json: no problems");
	return n ? 1 : 0;
}

static int exec_config(const struct daimon_cmd *cmd, int argc, char **argv)
{
	int json = 0, rc = cli_options_json(cmd, argc, argv, &json);
	if (rc >= 0)
		return rc;
	argc -= optind, argv += optind;
	const char *verb = argc ? argv[0] : "list";
	if (!strcmp(verb, "doc")) {
		daimon_buf md = DAIMON_BUF_INIT;
		daimon_settings_markdown(&md);
		fputs(daimon_buf_cstr(&md), stdout);
		daimon_buf_release(&md);
		return 0;
	}
	static const struct {
		const char *verb;
		int args;
	} verbs[] = {{"list", 1}, {"check", 1}, {"get", 2}, {"set", 3}, {"unset", 2}};
	int known = 0;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(verb, verbs[i].verb)) {
			known = 1;
			if (argc != verbs[i].args && !(argc == 0 && verbs[i].args == 1))
				return cli_usage_error(cmd, "'config %s' takes %d argument%s", verb, verbs[i].args - 1,
						       verbs[i].args == 2 ? "" : "s");
		}
	if (!known)
		return cli_usage_error(cmd, "unknown config command '%s'", verb);
	char *home = daimon_home_dir();
	if (!strcmp(verb, "set") || !strcmp(verb, "unset")) {
		rc = daimon_home_ensure(home) < 0 ? cli_fail() : set(home, argv[1], verb[0] == 's' ? argv[2] : NULL);
		free(home);
		return rc;
	}
	daimon_settings *s;
	if (daimon_settings_load(&s, home) < 0) {
		free(home);
		return cli_fail();
	}
	free(home);
	if (!strcmp(verb, "get"))
		rc = get(s, argv[1], json);
	else if (!strcmp(verb, "check"))
		rc = check(s, json);
	else
		rc = list(s, json);
	daimon_settings_free(s);
	return rc;
}

const struct daimon_cmd daimon_cmd_config = {
	"config",
	"config [list|check|get PATH|set PATH VALUE|unset PATH|doc] [--json]",
	"Read and change the settings in config.json.",
	"  list         every setting with the value in effect (the default when left out)\n"
	"  check        unknown keys (with the nearest known one) and bad values; exit 1 if any\n"
	"  get PATH     one setting's value (tools.parallel)\n"
	"  set PATH V   write one, checked against its type and range (lists and objects as JSON)\n"
	"  unset PATH   remove one: its default applies again\n"
	"  doc          the settings reference as a Markdown table\n"
	"  --json       one JSON object per line\n"
	"A running daemon reloads after set and unset. Secrets belong in the environment,\n"
	"not in config.json.\n",
	exec_config,
};
