/*
 * cron.c — due times (cron.h).
 *
 * The next cron time is found the way cronie does it, by skipping what
 * cannot match: a month that is not in the expression goes to the next
 * month's first day, a day to the next day's midnight, an hour to the
 * next hour, and only then minute by minute. Days and months step
 * through mktime, so daylight-saving changes land where the zone says;
 * hours and minutes step on the epoch, so an hour that happens twice is
 * seen twice and one that is skipped is not waited for.
 */
#include "core/cron.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const struct field {
	const char *name;
	int lo, hi;
	int nnames;
	const char *const *names; /* lo.. in order, or NULL */
} fields[5] = {
	{"minute", 0, 59, 0, NULL},
	{"hour", 0, 23, 0, NULL},
	{"day of month", 1, 31, 0, NULL},
	{"month", 1, 12, 12,
	 (const char *const[]){"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{"day of week", 0, 7, 7, (const char *const[]){"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
};

/* One number or name of field `f` at *p; -1 when there is none. */
static int value(const struct field *f, const char **p)
{
	if (isdigit((unsigned char)**p)) {
		char *end;
		long v = strtol(*p, &end, 10);
		*p = end;
		return v > 1000 ? 1000 : (int)v;
	}
	if (f->names && isalpha((unsigned char)**p))
		for (int i = 0; i < f->nnames; i++)
			if (!strncasecmp(*p, f->names[i], 3) && !isalpha((unsigned char)(*p)[3])) {
				*p += 3;
				return f->lo + i;
			}
	return -1;
}

/* Field `fi` ("1-5", "*\/15", "mon,wed") into the bits of `mask`. */
static int field_parse(int fi, const char *s, uint64_t *mask, int *any, char *why, size_t n)
{
	const struct field *f = &fields[fi];
	*mask = 0;
	*any = !strcmp(s, "*");
	for (const char *p = s;;) {
		int a, b, step = 1;
		if (*p == '*') {
			a = f->lo, b = f->hi == 7 ? 6 : f->hi;
			p++;
		} else {
			if ((a = value(f, &p)) < 0)
				goto bad;
			b = a;
			if (*p == '-') {
				p++;
				if ((b = value(f, &p)) < 0)
					goto bad;
			}
		}
		if (*p == '/') {
			p++;
			char *end;
			long v = strtol(p, &end, 10);
			if (end == p || v < 1 || v > f->hi) {
				snprintf(why, n, "the %s field's step in \"%s\" is not a number from 1 to %d", f->name,
					 s, f->hi);
				return -1;
			}
			step = (int)v;
			p = end;
			if (a == b && s[0] != '*') /* "5/15": from 5 to the end */
				b = f->hi == 7 ? 6 : f->hi;
		}
		if (a < f->lo || b > f->hi || a > b) {
			snprintf(why, n, "the %s field \"%s\" is out of range: %d-%d", f->name, s, f->lo, f->hi);
			return -1;
		}
		for (int v = a; v <= b; v += step)
			*mask |= 1ull << (fi == 4 && v == 7 ? 0 : v); /* Sunday is 0 and 7 */
		if (*p == 0)
			return 0;
		if (*p++ != ',')
			goto bad;
	}
bad:
	snprintf(why, n, "the %s field \"%s\" is not understood (numbers%s, ranges a-b, lists a,b, steps */n)", f->name,
		 s, f->names ? " or names" : "");
	return -1;
}

int daimon_cron_parse(const char *expr, daimon_when *w, char *why, size_t n)
{
	static const char *const aliases[][2] = {{"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},
						 {"@midnight", "0 0 * * *"}, {"@weekly", "0 0 * * 0"},
						 {"@monthly", "0 0 1 * *"},  {"@yearly", "0 0 1 1 *"},
						 {"@annually", "0 0 1 1 *"}};
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (!strcmp(expr, aliases[i][0]))
			expr = aliases[i][1];
	char copy[256], *part[6], *save = NULL;
	snprintf(copy, sizeof(copy), "%s", expr);
	int k = 0;
	for (char *t = strtok_r(copy, " \t", &save); t && k < 6; t = strtok_r(NULL, " \t", &save))
		part[k++] = t;
	if (k != 5) {
		snprintf(why, n,
			 "a cron expression has 5 fields (minute hour day-of-month month day-of-week), not %d: \"%s\"",
			 k, expr);
		return -1;
	}
	memset(w, 0, sizeof(*w));
	w->kind = DAIMON_WHEN_CRON;
	uint64_t m[5];
	int any[5];
	for (int i = 0; i < 5; i++)
		if (field_parse(i, part[i], &m[i], &any[i], why, n) < 0)
			return -1;
	w->minutes = m[0];
	w->hours = (uint32_t)m[1];
	w->mdays = (uint32_t)m[2];
	w->months = (uint16_t)m[3];
	w->wdays = (uint8_t)m[4];
	w->mday_any = any[2] != 0;
	w->wday_any = any[4] != 0;
	return 0;
}

/* Vixie cron's rule: when both day fields are restricted, either may match. */
static int day_matches(const daimon_when *w, const struct tm *tm)
{
	int md = (w->mdays >> tm->tm_mday) & 1, wd = (w->wdays >> tm->tm_wday) & 1;
	if (w->mday_any || w->wday_any)
		return md && wd;
	return md || wd;
}

/* Midnight of the day `days` after tm's (tm_isdst left to mktime). */
static time_t day_start(struct tm tm, int days, int first_of_next_month)
{
	if (first_of_next_month) {
		tm.tm_mon++;
		tm.tm_mday = 1;
	} else {
		tm.tm_mday += days;
	}
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

static int64_t cron_next(const daimon_when *w, int64_t after_ms)
{
	time_t t = (time_t)(after_ms / 1000);
	t = t - t % 60 + 60;                           /* the next whole minute */
	for (int guard = 0; guard < 100000; guard++) { /* (a few years of skipped days) */
		struct tm tm;
		if (!localtime_r(&t, &tm))
			return -1;
		if (!((w->months >> (tm.tm_mon + 1)) & 1)) {
			t = day_start(tm, 0, 1);
			continue;
		}
		if (!day_matches(w, &tm)) {
			t = day_start(tm, 1, 0);
			continue;
		}
		if (!((w->hours >> tm.tm_hour) & 1)) {
			t += 3600 - tm.tm_min * 60 - tm.tm_sec;
			continue;
		}
		if (!((w->minutes >> tm.tm_min) & 1)) {
			t += 60 - tm.tm_sec;
			continue;
		}
		return (int64_t)t * 1000;
	}
	return -1; /* "0 0 31 2 *": never */
}

int64_t daimon_when_next(const daimon_when *w, int64_t after_ms)
{
	switch (w->kind) {
	case DAIMON_WHEN_AT:
		return w->at_ms > after_ms ? w->at_ms : -1;
	case DAIMON_WHEN_EVERY:
		if (w->every_ms <= 0)
			return -1;
		if (w->at_ms > after_ms)
			return w->at_ms;
		return w->at_ms + ((after_ms - w->at_ms) / w->every_ms + 1) * w->every_ms;
	default:
		return cron_next(w, after_ms);
	}
}

/* ---- what people write ---- */

static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + (*p)[i] - '0';
	}
	*p += n;
	*out = v;
	return 0;
}

int daimon_time_parse_iso(const char *s, int64_t *ms, char *why, size_t n)
{
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
	if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 || *p++ != '-' || digits(&p, 2, &d) < 0)
		goto bad;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &mi) < 0)
			goto bad;
		if (*p == ':' && (p++, digits(&p, 2, &sec) < 0))
			goto bad;
		if (*p == '.') {
			int scale = 100;
			for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
				frac += (*p - '0') * scale;
		}
	} else if (*p) {
		goto bad;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		goto bad;
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
	if (*p == 'Z' || *p == 'z' || *p == '+' || *p == '-') {
		int off = 0;
		if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
			if (digits(&p, 2, &oh) < 0)
				goto bad;
			if (*p == ':')
				p++;
			if (*p && digits(&p, 2, &om) < 0)
				goto bad;
			off = sign * (oh * 3600 + om * 60);
		} else {
			p++;
		}
		if (*p)
			goto bad;
		*ms = ((int64_t)timegm(&tm) - off) * 1000 + frac;
		return 0;
	}
	if (*p)
		goto bad;
	/* Local: the wall-clock time must exist, and exist once. */
	struct tm a = tm, b = tm, back;
	a.tm_isdst = 0;
	b.tm_isdst = 1;
	time_t ta = mktime(&a), tb = mktime(&b);
	int ok_a = localtime_r(&ta, &back) && back.tm_hour == h && back.tm_min == mi && back.tm_mday == d,
	    ok_b = localtime_r(&tb, &back) && back.tm_hour == h && back.tm_min == mi && back.tm_mday == d;
	if (!ok_a && !ok_b) {
		snprintf(why, n,
			 "%s does not exist in this time zone (the clocks skip it); give an offset such as +01:00", s);
		return -1;
	}
	if (ok_a && ok_b && ta != tb) {
		snprintf(why, n,
			 "%s happens twice in this time zone (the clocks go back); give an offset such as +01:00", s);
		return -1;
	}
	*ms = (int64_t)(ok_a ? ta : tb) * 1000 + frac;
	return 0;
bad:
	snprintf(why, n, "\"%s\" is not an ISO 8601 time such as 2026-12-05T09:00 or 2026-12-05T09:00:00+01:00", s);
	return -1;
}

int daimon_duration_parse(const char *s, int64_t *ms, char *why, size_t n)
{
	const char *p = s;
	int iso = 0, time_part = 0, any = 0;
	int64_t total = 0;
	if (*p == 'P' || *p == 'p')
		iso = 1, p++;
	while (*p) {
		if (iso && (*p == 'T' || *p == 't')) {
			time_part = 1, p++;
			continue;
		}
		char *end;
		double v = strtod(p, &end);
		if (end == p || v < 0)
			goto bad;
		p = end;
		while (*p == ' ')
			p++;
		int64_t unit;
		if (!iso && tolower((unsigned char)p[0]) == 'm' && tolower((unsigned char)p[1]) == 's' &&
		    !isalpha((unsigned char)p[2])) { /* "100ms" */
			p++;
			unit = 1;
		} else
			switch (tolower((unsigned char)*p)) {
			case 's':
				unit = 1000;
				break;
			case 'm':
				unit = iso && !time_part ? 0 : 60000;
				break; /* (ISO P1M: a month, which has no length) */
			case 'h':
				unit = 3600000;
				break;
			case 'd':
				unit = 86400000;
				break;
			case 'w':
				unit = 7 * 86400000LL;
				break;
			default:
				unit = -1;
				break;
			}
		if (unit <= 0)
			goto bad;
		p++;
		while (isalpha((unsigned char)*p) && !iso) /* "min", "hours", "days" */
			p++;
		while (*p == ' ')
			p++;
		total += (int64_t)(v * (double)unit);
		any = 1;
	}
	if (!any)
		goto bad;
	*ms = total;
	return 0;
bad:
	snprintf(why, n, "\"%s\" is not a duration such as 90s, 5m, 1h30m, 2d or PT2S (a number needs its unit)", s);
	return -1;
}

void daimon_time_local(char *out, size_t n, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (!localtime_r(&t, &tm) || !strftime(out, n, "%Y-%m-%d %H:%M:%S %Z", &tm))
		snprintf(out, n, "%lld", (long long)ms);
}
