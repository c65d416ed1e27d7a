/*
 * test_settings.c — the settings table: defaults, ranges and choices with
 * messages that name the setting, wildcards, syntax errors with line and
 * column, and unknown keys with the nearest known one.
 */
#include <string.h>

#include "core/error.h"
#include "core/settings.h"
#include "tests/test.h"

static daimon_settings *parse(const char *text)
{
	daimon_settings *s = NULL;
	daimon_settings_parse(&s, "config.json", text, strlen(text));
	return s;
}

/* Each problem as a line of `payload` (a daimon_buf). */
static void collect(void *payload, const char *problem)
{
	daimon_buf_addf(payload, "%s\n", problem);
}

static void test_settings__a_setting_left_out_has_its_default(void)
{
	daimon_settings *s = parse("{}");
	int64_t n = 0;
	const char *mode = NULL;
	int on = 0;
	CHECK(s);
	CHECK_INT(daimon_settings_int(s, "tools.parallel", &n), 0);
	CHECK_INT(n, 4);
	CHECK_INT(daimon_settings_string(s, "channels.telegram.mid_turn", &mode), 0);
	CHECK_STR(mode, "queue");
	CHECK_INT(daimon_settings_bool(s, "sessions.summarize", &on), 0);
	CHECK_INT(on, 1);
	CHECK_INT(daimon_settings_string(s, "channels.mail.imap_url", &mode), 0);
	CHECK(mode == NULL);
	daimon_settings_free(s);
}

static void test_settings__a_bad_value_fails_its_reader_only(void)
{
	daimon_settings *s = parse("{\"tools\": {\"parallel\": 100, \"timeout_s\": 30}, \"channels\": {\"cli\": "
				   "{\"mid_turn\": \"shout\"}}, \"sessions\": {\"summarize\": \"yes\"}}");
	int64_t n = 0;
	const char *mode = NULL;
	int on = 0;
	CHECK(s);
	CHECK_INT(daimon_settings_int(s, "tools.parallel", &n), DAIMON_EINVAL);
	CHECK_STR(daimon_error_last(), "tools.parallel in config.json must be a number from 1 to 64");
	CHECK_INT(n, 4); /* the default, beside the error */
	CHECK_INT(daimon_settings_int(s, "tools.timeout_s", &n), 0);
	CHECK_INT(n, 30);
	CHECK_INT(daimon_settings_string(s, "channels.cli.mid_turn", &mode), DAIMON_EINVAL);
	CHECK_STR(daimon_error_last(),
		  "channels.cli.mid_turn in config.json is 'shout'; it must be queue, steer or interrupt");
	CHECK_INT(daimon_settings_bool(s, "sessions.summarize", &on), DAIMON_EINVAL);
	CHECK_STR(daimon_error_last(), "sessions.summarize in config.json must be true or false");
	CHECK_INT(daimon_settings_int(s, "compression.head_messages", &n), 0);
	daimon_settings_free(s);
	s = parse("{\"tools\": {\"parallel\": 2.5}}");
	CHECK_INT(daimon_settings_int(s, "tools.parallel", &n), DAIMON_EINVAL); /* a whole number */
	daimon_settings_free(s);
}

static void test_settings__wildcards_reach_each_named_entry(void)
{
	daimon_settings *s = parse("{\"mcp\": {\"servers\": {\"fs\": {\"command\": \"npx\", \"timeout_s\": 5, \"env\": "
				   "{\"K\": \"v\"}}}}}");
	int64_t n = 0;
	const char *cmd = NULL;
	CHECK_INT(daimon_settings_string(s, "mcp.servers.fs.command", &cmd), 0);
	CHECK_STR(cmd, "npx");
	CHECK_INT(daimon_settings_int(s, "mcp.servers.fs.timeout_s", &n), 0);
	CHECK_INT(n, 5);
	CHECK_INT(daimon_settings_int(s, "mcp.servers.other.timeout_s", &n), 0);
	CHECK_INT(n, 60);
	CHECK(daimon_settings_json(s, "mcp.servers.fs.env") != NULL);
	daimon_buf problems = DAIMON_BUF_INIT;
	CHECK_INT(daimon_settings_problems(s, collect, &problems), 0); /* an env map's keys are the user's */
	daimon_buf_release(&problems);
	daimon_settings_free(s);
}

static void test_settings__a_syntax_error_names_line_and_column(void)
{
	daimon_settings *s = (daimon_settings *)1;
	const char text[] = "{\n  \"tools\": {\n    \"parallel\": 4,\n  }\n}\n";
	CHECK_INT(daimon_settings_parse(&s, "/h/config.json", text, strlen(text)), DAIMON_EINVAL);
	CHECK(s == NULL);
	CHECK_CONTAINS(daimon_error_last(), "'/h/config.json' is not valid JSON at line 4, column ");
	CHECK_INT(daimon_settings_parse(&s, "/h/config.json", "[1]", 3), DAIMON_EINVAL);
	CHECK_CONTAINS(daimon_error_last(), "must be one object");
}

static void test_settings__unknown_keys_get_the_nearest_known_one(void)
{
	daimon_settings *s = parse("{\"modle\": {}, \"tools\": {\"paralel\": 3, \"parallel\": 0}, \"zzzz\": 1, "
				   "\"channels\": {\"telegram\": {\"tokn\": \"x\"}}}");
	daimon_buf out = DAIMON_BUF_INIT;
	CHECK_INT(daimon_settings_problems(s, collect, &out), 5);
	const char *p = daimon_buf_cstr(&out);
	CHECK_CONTAINS(p, "config.json: unknown setting 'modle' (did you mean 'model'?)\n");
	CHECK_CONTAINS(p, "config.json: unknown setting 'tools.paralel' (did you mean 'tools.parallel'?)\n");
	CHECK_CONTAINS(p, "tools.parallel in config.json must be a number from 1 to 64\n");
	CHECK_CONTAINS(p, "config.json: unknown setting 'zzzz'\n");
	CHECK_CONTAINS(p, "unknown setting 'channels.telegram.tokn' (did you mean 'channels.telegram.token'?)");
	daimon_buf_release(&out);
	daimon_settings_free(s);
}

static void test_settings__a_value_from_the_command_line_is_checked(void)
{
	const daimon_setting *e = daimon_setting_find("tools.parallel");
	CHECK(e);
	cJSON *v = daimon_setting_value(e, "tools.parallel", "8");
	CHECK(cJSON_IsNumber(v) && v->valuedouble == 8);
	cJSON_Delete(v);
	CHECK(daimon_setting_value(e, "tools.parallel", "many") == NULL);
	CHECK_STR(daimon_error_last(), "tools.parallel must be a number from 1 to 64");
	e = daimon_setting_find("skills.authoring");
	CHECK(daimon_setting_value(e, "skills.authoring", "sometimes") == NULL);
	CHECK_STR(daimon_error_last(), "skills.authoring is 'sometimes'; it must be approve, auto or off");
	CHECK(daimon_setting_find("tools.nope") == NULL);
	CHECK(daimon_setting_find("mcp.servers.any.command") != NULL);
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		TEST_CASE(test_settings__a_setting_left_out_has_its_default),
		TEST_CASE(test_settings__a_bad_value_fails_its_reader_only),
		TEST_CASE(test_settings__wildcards_reach_each_named_entry),
		TEST_CASE(test_settings__a_syntax_error_names_line_and_column),
		TEST_CASE(test_settings__unknown_keys_get_the_nearest_known_one),
		TEST_CASE(test_settings__a_value_from_the_command_line_is_checked),
		{0},
	};
	return test_main(argc, argv, cases);
}
