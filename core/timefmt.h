/*
 * timefmt.h — time as daimon stores and shows it.
 *
 * On disk every timestamp is RFC 3339 in UTC with milliseconds
 * ("2026-11-24T02:28:53.123Z"); in memory and in the index it is an int64
 * count of milliseconds since the Unix epoch.
 */
#ifndef DAIMON_CORE_TIMEFMT_H
#define DAIMON_CORE_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define DAIMON_TS_LEN 25 /* "YYYY-MM-DDTHH:MM:SS.mmmZ" + NUL */

int64_t daimon_now_ms(void);
/* Monotonic clock in nanoseconds, for measuring durations. */
uint64_t daimon_mono_ns(void);
/* The same in milliseconds. */
static inline int64_t daimon_mono_ms(void)
{
	return (int64_t)(daimon_mono_ns() / 1000000);
}
/* `ms` from now on the realtime clock, as pthread_cond_timedwait takes
 * a deadline. */
struct timespec;
void daimon_realtime_after(struct timespec *ts, int64_t ms);
void daimon_ts_format(char out[DAIMON_TS_LEN], int64_t ms);
/* Parses RFC 3339 ("T" or space, optional fraction, "Z" or ±HH:MM, or no
 * zone meaning UTC) and plain dates "YYYY-MM-DD". 0 ok, -1 not a time. */
int daimon_ts_parse(const char *s, int64_t *ms_out);
/* A time given on the command line: a date/time as above, or an age
 * relative to now such as "30m", "12h", "7d", "2w". */
int daimon_ts_parse_user(const char *s, int64_t now_ms, int64_t *ms_out);

#endif
