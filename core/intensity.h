/*
 * intensity.h — restart intensity, OTP's MaxR within MaxT: how many
 * failures within how long a supervisor, or a port restarting its program,
 * puts up with before it gives up (the supervisor escalates, the port
 * rests). One ring of the last `limit` failure times.
 */
#ifndef DAIMON_CORE_INTENSITY_H
#define DAIMON_CORE_INTENSITY_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	int limit;         /* this many failures ... */
	int64_t period_ms; /* ... within this long are too many */
	int64_t *times;    /* the last `limit` failures (ms), a ring */
	size_t n, next;
} daimon_intensity;

/* limit < 1 counts as 1: every failure is too many. */
void daimon_intensity_init(daimon_intensity *in, int limit, int64_t period_ms);
/* Records a failure at now_ms; 1 if it is the limit-th within the period. */
int daimon_intensity_record(daimon_intensity *in, int64_t now_ms);
void daimon_intensity_release(daimon_intensity *in);

#endif
