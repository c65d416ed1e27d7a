/*
 * recall.h — `daimon search --summarize`: the sessions a search found,
 * each summarized by the model with respect to the query, side by side
 * through the runtime's fan-out (a bounded number at a time, each with a
 * deadline), each reported as soon as it is done.
 */
#ifndef DAIMON_SESSIONS_RECALL_H
#define DAIMON_SESSIONS_RECALL_H

#include <stddef.h>

#include "core/actor.h"
#include "core/llm.h"
#include "memory/store.h"

/* reply_to hears, per session as it finishes, a DAIMON_MSG_JOB_DONE (ref =
 * the session's index; status 0 and the summary, DAIMON_ETIMEDOUT, or <0
 * and why), then DAIMON_RECALL_DONE once all are. */
enum { DAIMON_RECALL_DONE = 0x52430002 };

typedef struct {
	daimon_store *store;
	daimon_aid http;
	const daimon_llm_config *cfg; /* must outlive the fan-out */
	const char *query;
	const char *const *ids; /* the sessions */
	size_t n;
	int max_parallel; /* 0: 4 */
	long timeout_ms;  /* per session; 0: 60 s */
	daimon_aid reply_to;
} daimon_recall_opts;

/* Reads the sessions' logs (here, before any actor runs) and starts the
 * fan-out. 0 (last error set) if a log cannot be read or nothing starts. */
daimon_aid daimon_recall_start(daimon_rt *rt, const daimon_recall_opts *o);

#endif
