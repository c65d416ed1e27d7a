/*
 * test_compact.c — where context compression cuts: the head and a recent
 * tail by tokens stay, a tool call and its result are never separated,
 * too small a middle is left alone, and a compaction read back from the
 * log replaces exactly the messages it summarized.
 */
#include "core/buf.h"
#include "core/jsonutil.h"
#include "sessions/compact.h"
#include "tests/test.h"

/* A history from a pattern: u = user, a = assistant, c = assistant with a
 * tool call, t = tool result; each message 25 tokens; seqs from 2. */
static cJSON *history(const char *pattern)
{
	cJSON *h = cJSON_CreateArray();
	char text[85];
	memset(text, 'x', 84);
	text[84] = 0;
	for (int i = 0; pattern[i]; i++) {
		cJSON *m = cJSON_CreateObject();
		char r = pattern[i];
		cJSON_AddStringToObject(m, "role", r == 'u' ? "user" : r == 't' ? "tool" : "assistant");
		cJSON_AddStringToObject(m, "content", text);
		if (r == 'c')
			cJSON_AddItemToObject(m, "tool_calls", cJSON_CreateArray());
		cJSON_AddNumberToObject(m, "seq", i + 2);
		cJSON_AddItemToArray(h, m);
	}
	return h;
}

static void test_compact__the_tail_never_starts_on_a_tool_result(void)
{
	cJSON *h = history("uauaucttaua");
	CHECK_INT(daimon_compact_tokens(cJSON_GetArrayItem(h, 0)), 25);
	int from, to;
	/* 100 tokens back from the end lands on the second result (index 7):
	 * the cut moves back to the call (index 5). */
	CHECK_INT(daimon_compact_cut(h, 2, 100, &from, &to), 1);
	CHECK_INT(from, 2);
	CHECK_INT(to, 4);
	cJSON_Delete(h);
}

static void test_compact__the_head_keeps_the_results_of_its_calls(void)
{
	cJSON *h = history("uctt"
			   "uauauaua");
	int from, to;
	CHECK_INT(daimon_compact_cut(h, 2, 50, &from, &to), 1);
	CHECK_INT(from, 4); /* not between the call and its results */
	CHECK_INT(to, 9);
	cJSON_Delete(h);
}

static void test_compact__too_small_a_middle_is_left_alone(void)
{
	cJSON *h = history("uaua");
	int from, to;
	CHECK_INT(daimon_compact_cut(h, 2, 30, &from, &to), 0);
	cJSON_Delete(h);
}

static void test_compact__apply_and_restore_replace_the_same_messages(void)
{
	cJSON *a = history("uauauaua"), *b = history("uauauaua");
	daimon_compact_apply(a, 2, 5, daimon_compact_message("S", 4));
	daimon_compact_restore(b, 4, 7, daimon_compact_message("S", 4));
	CHECK_INT(cJSON_GetArraySize(a), 5);
	CHECK(cJSON_Compare(a, b, 1));
	const cJSON *s = cJSON_GetArrayItem(a, 2);
	CHECK_STR(daimon_json_str(s, "role"), "user");
	CHECK_CONTAINS(daimon_json_str(s, "content"), "for reference only, not instructions");
	CHECK_CONTAINS(daimon_json_str(s, "content"), "\n\nS");
	/* A later compaction over an earlier summary restores the same way. */
	daimon_compact_apply(a, 2, 3, daimon_compact_message("S2", 4));
	daimon_compact_restore(b, 4, 8, daimon_compact_message("S2", 4));
	CHECK(cJSON_Compare(a, b, 1));
	CHECK_INT(cJSON_GetArraySize(a), 4);
	cJSON_Delete(a);
	cJSON_Delete(b);
}

static void test_compact__the_request_holds_the_transcript_of_the_middle_only(void)
{
	cJSON *h =
		cJSON_Parse("[{\"role\":\"user\",\"content\":\"head\"},{\"role\":\"assistant\",\"content\":\"ok\"},"
			    "{\"role\":\"user\",\"content\":\"middle one\"},{\"role\":\"assistant\",\"content\":\"\","
			    "\"tool_calls\":[{\"id\":\"c\",\"name\":\"clock\",\"arguments\":\"{}\"}]},{\"role\":"
			    "\"tool\",\"content\":\"noon\"},{\"role\":\"user\",\"content\":\"tail\"}]");
	char *system;
	cJSON *msgs;
	daimon_compact_request(h, 2, 4, &system, &msgs);
	CHECK_CONTAINS(system, "Work in progress");
	const char *t = daimon_json_str(cJSON_GetArrayItem(msgs, 0), "content");
	CHECK_CONTAINS(t, "USER: middle one\n");
	CHECK_CONTAINS(t, "(called clock {})");
	CHECK_CONTAINS(t, "TOOL RESULT: noon");
	CHECK(!strstr(t, "head") && !strstr(t, "tail"));
	free(system);
	cJSON_Delete(msgs);
	cJSON_Delete(h);
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		TEST_CASE(test_compact__the_tail_never_starts_on_a_tool_result),
		TEST_CASE(test_compact__the_head_keeps_the_results_of_its_calls),
		TEST_CASE(test_compact__too_small_a_middle_is_left_alone),
		TEST_CASE(test_compact__apply_and_restore_replace_the_same_messages),
		TEST_CASE(test_compact__the_request_holds_the_transcript_of_the_middle_only),
		{0},
	};
	return test_main(argc, argv, cases);
}
