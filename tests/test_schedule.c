/*
 * test_schedule.c — due times (core/cron.c) and the jobs' record
 * (memory/schedule.c): cron fields and their errors, daylight-saving
 * changes, strict ISO times and durations; a job made, reread from its
 * record, run, delivered; missed slots run once; a torn line.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cron.h"
#include "core/error.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"
#include "memory/schedule.h"
#include "tests/test.h"

static int64_t local_ms(int y, int mo, int d, int h, int mi)
{
	struct tm tm = {
		.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_isdst = -1};
	return (int64_t)mktime(&tm) * 1000;
}

static void zone(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static void test_cron__fields_lists_ranges_steps_and_names(void)
{
	zone("UTC");
	daimon_when w;
	char why[256];
	CHECK_INT(daimon_cron_parse("30 9 * * mon-fri", &w, why, sizeof(why)), 0);
	/* Friday 2026-12-04 10:00 → Monday 2026-12-07 09:30 */
	CHECK_INT(daimon_when_next(&w, local_ms(2026, 12, 4, 10, 0)), local_ms(2026, 12, 7, 9, 30));
	CHECK_INT(daimon_cron_parse("*/15 * * * *", &w, why, sizeof(why)), 0);
	CHECK_INT(daimon_when_next(&w, local_ms(2026, 12, 4, 10, 7)), local_ms(2026, 12, 4, 10, 15));
	CHECK_INT(daimon_cron_parse("0 0 1 jan,jul *", &w, why, sizeof(why)), 0);
	CHECK_INT(daimon_when_next(&w, local_ms(2026, 12, 4, 10, 0)), local_ms(2027, 1, 1, 0, 0));
	CHECK_INT(daimon_cron_parse("0 12 * * 7", &w, why, sizeof(why)), 0); /* 7 is Sunday too */
	CHECK_INT(daimon_when_next(&w, local_ms(2026, 12, 4, 10, 0)), local_ms(2026, 12, 6, 12, 0));
	/* both day fields restricted: either matches (the 13th, or a Friday) */
	CHECK_INT(daimon_cron_parse("0 8 13 * 5", &w, why, sizeof(why)), 0);
	CHECK_INT(daimon_when_next(&w, local_ms(2026, 12, 5, 0, 0)), local_ms(2026, 12, 11, 8, 0));
	CHECK_INT(daimon_when_next(&w, local_ms(2026, 12, 11, 9, 0)), local_ms(2026, 12, 13, 8, 0));
	CHECK_INT(daimon_cron_parse("@daily", &w, why, sizeof(why)), 0);
	CHECK_INT(daimon_when_next(&w, local_ms(2026, 12, 4, 10, 0)), local_ms(2026, 12, 5, 0, 0));
	CHECK_INT(daimon_cron_parse("0 0 31 2 *", &w, why, sizeof(why)), 0);
	CHECK_INT(daimon_when_next(&w, local_ms(2026, 12, 4, 10, 0)), -1);
}

static void test_cron__a_bad_field_is_named(void)
{
	daimon_when w;
	char why[256];
	CHECK_INT(daimon_cron_parse("0 25 * * *", &w, why, sizeof(why)), -1);
	CHECK_CONTAINS(why, "hour field \"25\" is out of range: 0-23");
	CHECK_INT(daimon_cron_parse("0 9 * * funday", &w, why, sizeof(why)), -1);
	CHECK_CONTAINS(why, "day of week field");
	CHECK_INT(daimon_cron_parse("0 9 * *", &w, why, sizeof(why)), -1);
	CHECK_CONTAINS(why, "5 fields");
	CHECK_INT(daimon_cron_parse("*/0 * * * *", &w, why, sizeof(why)), -1);
	CHECK_CONTAINS(why, "step");
}

static void test_cron__daylight_saving_changes(void)
{
	zone("Europe/Berlin");
	daimon_when w;
	char why[256];
	/* 2026-03-29: 02:00 becomes 03:00. "30 2 * * *" has no 02:30 that day. */
	CHECK_INT(daimon_cron_parse("30 2 * * *", &w, why, sizeof(why)), 0);
	int64_t next = daimon_when_next(&w, local_ms(2026, 3, 29, 1, 0));
	CHECK_INT(next, local_ms(2026, 3, 30, 2, 30));
	/* 09:00 the day after a change is 09:00 local, not 08:00 */
	CHECK_INT(daimon_cron_parse("0 9 * * *", &w, why, sizeof(why)), 0);
	CHECK_INT(daimon_when_next(&w, local_ms(2026, 10, 24, 12, 0)), local_ms(2026, 10, 25, 9, 0));
	int64_t t;
	CHECK_INT(daimon_time_parse_iso("2026-03-29T02:30", &t, why, sizeof(why)), -1);
	CHECK_CONTAINS(why, "does not exist");
	CHECK_INT(daimon_time_parse_iso("2026-10-25T02:30", &t, why, sizeof(why)), -1);
	CHECK_CONTAINS(why, "happens twice");
	CHECK_INT(daimon_time_parse_iso("2026-10-25T02:30+01:00", &t, why, sizeof(why)), 0);
	CHECK_INT(t, 1792891800000LL); /* 01:30Z */
	CHECK_INT(daimon_time_parse_iso("2026-12-05T09:00", &t, why, sizeof(why)), 0);
	CHECK_INT(t, 1796457600000LL); /* 08:00Z: Berlin is +01:00 in December */
	zone("UTC");
}

static void test_cron__durations_need_a_unit(void)
{
	int64_t ms;
	char why[256];
	CHECK_INT(daimon_duration_parse("90s", &ms, why, sizeof(why)), 0);
	CHECK_INT(ms, 90000);
	CHECK_INT(daimon_duration_parse("1h30m", &ms, why, sizeof(why)), 0);
	CHECK_INT(ms, 5400000);
	CHECK_INT(daimon_duration_parse("PT2S", &ms, why, sizeof(why)), 0);
	CHECK_INT(ms, 2000);
	CHECK_INT(daimon_duration_parse("P1DT2H", &ms, why, sizeof(why)), 0);
	CHECK_INT(ms, 93600000);
	CHECK_INT(daimon_duration_parse("2 days", &ms, why, sizeof(why)), 0);
	CHECK_INT(ms, 172800000);
	CHECK_INT(daimon_duration_parse("250ms", &ms, why, sizeof(why)), 0);
	CHECK_INT(ms, 250);
	CHECK_INT(daimon_duration_parse("5 minutes", &ms, why, sizeof(why)), 0);
	CHECK_INT(ms, 300000);
	CHECK_INT(daimon_duration_parse("10", &ms, why, sizeof(why)), -1);
	CHECK_CONTAINS(why, "needs its unit");
	CHECK_INT(daimon_duration_parse("P1M", &ms, why, sizeof(why)), -1); /* a month has no one length */
}

static daimon_sched_limits limits(int64_t now)
{
	return (daimon_sched_limits){.now_ms = now, .min_interval_ms = 60000, .max_jobs = 3};
}

static cJSON *ask(daimon_sched *s, const char *json, int64_t now, int *rc)
{
	cJSON *req = cJSON_Parse(json), *reply = NULL;
	daimon_sched_limits lim = limits(now);
	*rc = daimon_sched_request(s, req, &lim, &reply);
	cJSON_Delete(req);
	return reply;
}

static void test_schedule__a_job_is_kept_run_and_delivered(void)
{
	const char *home = test_tmpdir();
	daimon_sched *s;
	CHECK_INT(daimon_sched_open(&s, home), 0);
	int64_t now = daimon_now_ms();
	int rc;
	cJSON *r = ask(s, "{\"action\":\"create\",\"text\":\"call the dentist\",\"in\":\"2h\",\"key\":\"telegram:7\"}",
		       now, &rc);
	CHECK_INT(rc, 0);
	const char *id = daimon_json_str(cJSON_GetObjectItem(r, "job"), "id");
	CHECK(id && strlen(id) == 8);
	char idc[12];
	snprintf(idc, sizeof(idc), "%s", id ? id : "");
	cJSON_Delete(r);
	daimon_sched_job *j = daimon_sched_find(s, idc);
	CHECK(j && j->next_ms >= now + 7200000 - 1000 && j->next_ms <= now + 7200000 + 1000);
	int64_t slot = j ? j->next_ms : 0;
	/* a run, then its delivery: pending until the ok */
	CHECK_INT(daimon_sched_append(s, daimon_sched_record("run", idc, "started", slot)), 0);
	cJSON *fin = daimon_sched_record("run", idc, "finished", slot);
	cJSON_AddStringToObject(fin, "text", "call the dentist");
	CHECK_INT(daimon_sched_append(s, fin), 0);
	CHECK_INT(daimon_sched_append(s, daimon_sched_record("delivery", idc, "attempt", slot)), 0);

	daimon_sched *again; /* another reader: the record alone says all of it */
	CHECK_INT(daimon_sched_open(&again, home), 0);
	daimon_sched_job *k = daimon_sched_find(again, idc);
	CHECK(k && k->out && !strcmp(k->out->text, "call the dentist") && k->out->attempts == 1 && k->next_ms == -1);
	CHECK(k && !strcmp(k->key, "telegram:7"));
	CHECK_INT(daimon_sched_append(s, daimon_sched_record("delivery", idc, "ok", slot)), 0);
	CHECK_INT(daimon_sched_catch_up(again), 1);
	CHECK(k && !k->out && k->delivered == 1);
	daimon_sched_free(again);
	daimon_sched_free(s);
}

static void test_schedule__bad_requests_are_refused_with_the_reason(void)
{
	daimon_sched *s;
	CHECK_INT(daimon_sched_open(&s, test_tmpdir()), 0);
	int64_t now = daimon_now_ms();
	int rc;
	cJSON *r = ask(s, "{\"action\":\"create\",\"text\":\"x\",\"at\":\"2001-01-01T09:00Z\"}", now, &rc);
	CHECK(rc < 0 && !r);
	CHECK_CONTAINS(daimon_error_last(), "is in the past");
	ask(s, "{\"action\":\"create\",\"text\":\"x\",\"every\":\"10s\"}", now, &rc);
	CHECK_CONTAINS(daimon_error_last(), "schedule.min_interval_s");
	ask(s, "{\"action\":\"create\",\"text\":\"x\",\"cron\":\"* * * * * *\"}", now, &rc);
	CHECK_CONTAINS(daimon_error_last(), "5 fields");
	ask(s, "{\"action\":\"create\",\"text\":\"x\"}", now, &rc);
	CHECK_CONTAINS(daimon_error_last(), "say when");
	for (int i = 0; i < 3; i++)
		cJSON_Delete(ask(s, "{\"action\":\"create\",\"text\":\"x\",\"in\":\"1h\"}", now, &rc));
	CHECK_INT(rc, 0);
	ask(s, "{\"action\":\"create\",\"text\":\"x\",\"in\":\"1h\"}", now, &rc);
	CHECK_CONTAINS(daimon_error_last(), "schedule.max_jobs");
	CHECK_INT(daimon_sched_count(s), 3);
	daimon_sched_free(s);
}

static void test_schedule__missed_slots_run_once(void)
{
	daimon_sched *s;
	CHECK_INT(daimon_sched_open(&s, test_tmpdir()), 0);
	int64_t now = daimon_now_ms();
	int rc;
	cJSON *r = ask(s, "{\"action\":\"create\",\"text\":\"stretch\",\"every\":\"1m\"}", now, &rc);
	CHECK_INT(rc, 0);
	daimon_sched_job *j = daimon_sched_find(s, daimon_json_str(cJSON_GetObjectItem(r, "job"), "id"));
	cJSON_Delete(r);
	if (!j)
		return;
	int64_t first = j->next_ms;
	CHECK_INT(first, j->when.at_ms);
	/* ran for its first slot; ten minutes later nine slots were missed:
	 * the next is the newest missed one, once, then one minute on */
	int64_t later = first + 10 * 60000 + 5000;
	CHECK_INT(daimon_sched_next(j, first, later), first + 10 * 60000);
	CHECK_INT(daimon_sched_next(j, first + 10 * 60000, later), first + 11 * 60000);
	daimon_sched_free(s);
}

static void test_schedule__a_torn_last_line_is_written_over(void)
{
	const char *home = test_tmpdir();
	daimon_sched *s;
	CHECK_INT(daimon_sched_open(&s, home), 0);
	int rc;
	cJSON_Delete(ask(s, "{\"action\":\"create\",\"text\":\"one\",\"in\":\"1h\"}", daimon_now_ms(), &rc));
	char path[512];
	snprintf(path, sizeof(path), "%s/schedule.jsonl", home);
	int fd = open(path, O_WRONLY | O_APPEND);
	CHECK(write(fd, "{\"type\":\"job\",\"id\":\"torn", 24) == 24);
	close(fd);
	daimon_sched *t;
	CHECK_INT(daimon_sched_open(&t, home), 0);
	CHECK_INT(daimon_sched_count(t), 1);
	cJSON_Delete(ask(t, "{\"action\":\"create\",\"text\":\"two\",\"in\":\"1h\"}", daimon_now_ms(), &rc));
	CHECK_INT(rc, 0);
	char *text = test_read(path);
	CHECK(text && !strstr(text, "torn"));
	free(text);
	daimon_sched *u;
	CHECK_INT(daimon_sched_open(&u, home), 0);
	CHECK_INT(daimon_sched_count(u), 2);
	daimon_sched_free(u);
	daimon_sched_free(t);
	daimon_sched_free(s);
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		TEST_CASE(test_cron__fields_lists_ranges_steps_and_names),
		TEST_CASE(test_cron__a_bad_field_is_named),
		TEST_CASE(test_cron__daylight_saving_changes),
		TEST_CASE(test_cron__durations_need_a_unit),
		TEST_CASE(test_schedule__a_job_is_kept_run_and_delivered),
		TEST_CASE(test_schedule__bad_requests_are_refused_with_the_reason),
		TEST_CASE(test_schedule__missed_slots_run_once),
		TEST_CASE(test_schedule__a_torn_last_line_is_written_over),
		{0},
	};
	return test_main(argc, argv, cases);
}
