/*
 * cron.h — when a scheduled job is due: once at a time, every so often,
 * or by a 5-field cron expression, in the process's local time zone
 * (TZ; the daemon sets it from time.zone before any thread starts).
 *
 * Times are int64 milliseconds since the Unix epoch (timefmt.h). What a
 * person or a model writes is parsed strictly: an ISO 8601 time without
 * a zone is local, and refused when that wall-clock time does not exist
 * or happens twice there (a daylight-saving change); a duration needs a
 * unit; a cron field out of its range names the field.
 */
#ifndef DAIMON_CORE_CRON_H
#define DAIMON_CORE_CRON_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	int64_t at_ms;    /* AT: the time; EVERY: the first run */
	int64_t every_ms; /* EVERY */
	/* CRON: the minutes, hours, days of the month, months and weekdays
	 * (bit N: N matches; Sunday 0) */
	uint64_t minutes;
	uint32_t hours, mdays;
	uint16_t months;
	uint8_t wdays;
	uint8_t mday_any : 1, wday_any : 1; /* the field was "*": the other one decides */
	enum { DAIMON_WHEN_AT, DAIMON_WHEN_EVERY, DAIMON_WHEN_CRON } kind : 8;
} daimon_when;

/* A 5-field expression ("30 9 * * 1-5", names such as "mon" and "jan",
 * lists, ranges, steps) or @hourly/@daily/@weekly/@monthly/@yearly.
 * 0, or -1 with the reason in `why`. */
int daimon_cron_parse(const char *expr, daimon_when *w, char *why, size_t n);
/* The first time `w` is due after `after_ms` (strictly), or -1 when it
 * never is again (a one-shot past its time). Cron times are whole
 * minutes. */
int64_t daimon_when_next(const daimon_when *w, int64_t after_ms);

/* An ISO 8601 time: "2026-12-05T09:00" (local), with seconds, "Z" or an
 * offset ("+01:00"); a space may stand for the T. 0, or -1 with why. */
int daimon_time_parse_iso(const char *s, int64_t *ms, char *why, size_t n);
/* A duration: "90s", "5m", "1h30m", "2d", "1w", or ISO 8601 "PT2S",
 * "P1DT2H". A bare number is refused (which unit?). 0 or -1 with why. */
int daimon_duration_parse(const char *s, int64_t *ms, char *why, size_t n);

/* `ms` as local time, "2026-12-05 09:00:00 CET" (out: at least 40). */
void daimon_time_local(char *out, size_t n, int64_t ms);

#endif
