/*
 * intensity.c — see intensity.h.
 */
#include "core/intensity.h"

#include <stdlib.h>

#include "core/buf.h"

void daimon_intensity_init(daimon_intensity *in, int limit, int64_t period_ms)
{
	in->limit = limit > 0 ? limit : 1;
	in->period_ms = period_ms;
	in->times = daimon_xcalloc((size_t)in->limit, sizeof(*in->times));
	in->n = in->next = 0;
}

int daimon_intensity_record(daimon_intensity *in, int64_t now_ms)
{
	size_t cap = (size_t)in->limit;
	in->times[in->next] = now_ms;
	in->next = (in->next + 1) % cap;
	if (in->n < cap)
		in->n++;
	if (in->n < cap)
		return 0;
	/* The ring is full: the oldest of the last `limit` is at `next`. */
	return now_ms - in->times[in->next] < in->period_ms;
}

void daimon_intensity_release(daimon_intensity *in)
{
	free(in->times);
	in->times = NULL;
}
