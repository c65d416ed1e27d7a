/*
 * fault.c — see fault.h.
 */
#include "core/fault.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char armed[64];
static long at;
static atomic_long hits;

static void arm(void)
{
	const char *f = getenv("DAIMON_FAULT");
	const char *colon = f ? strrchr(f, ':') : NULL;
	if (!colon || colon == f || (size_t)(colon - f) >= sizeof(armed))
		return;
	memcpy(armed, f, (size_t)(colon - f));
	at = atol(colon + 1);
}

void daimon_fault_point(const char *name)
{
	pthread_once(&once, arm);
	if (!armed[0] || strcmp(name, armed))
		return;
	if (atomic_fetch_add(&hits, 1) + 1 == at) {
		fprintf(stderr, "daimon: fault point %s:%ld reached: SIGKILL\n", name, at);
		raise(SIGKILL);
	}
}
