/*
 * usage.h — what the model calls cost in tokens, totalled from the
 * session logs (each answer's "usage": memory/log.c's FORMAT).
 */
#ifndef DAIMON_MEMORY_USAGE_H
#define DAIMON_MEMORY_USAGE_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "memory/store.h"

/* How to group the totals. */
typedef enum { DAIMON_USAGE_DAY, DAIMON_USAGE_SESSION, DAIMON_USAGE_MODEL, DAIMON_USAGE_CHANNEL } daimon_usage_by;

/* "day", "session", "model", "channel" -> the grouping; -1 for another. */
int daimon_usage_by_parse(const char *name);

/* The calls answered since `since_ms` (0: all), grouped: *rows gets
 * [{"key","calls","tokens_in","tokens_out","tokens_cached","cost",
 * "unpriced_calls"}] sorted by key (a day is the local date,
 * YYYY-MM-DD). `prices` is the usage.prices list ("MODEL=IN/OUT[/CACHED]"
 * per million tokens; may be NULL): "cost" sums the calls of models with
 * a price, "unpriced_calls" counts the others. A damaged log counts up
 * to its damage: *damaged says how many were, the last error names the
 * last one; a price that cannot be read is an error naming it. */
int daimon_usage_totals(const daimon_store *st, int64_t since_ms, daimon_usage_by by, const cJSON *prices, cJSON **rows,
			size_t *damaged);

/* model.daily_budget: what the models may cost in one local day, in the
 * prices' unit. Today's spend is totalled from the logs when the limit
 * and prices are set (start, reload), then kept up by each answer's
 * usage, starting from nothing at midnight; calls of models without a
 * price count nothing. Thread-safe; one per process. */
typedef struct daimon_budget daimon_budget;
daimon_budget *daimon_budget_new(const daimon_store *st);
void daimon_budget_free(daimon_budget *b);
/* The limit (<= 0: none) and the price list (usage.prices; copied), as
 * the settings say now (again at each reload): with a limit, today's logs
 * are read here, never in a turn. */
void daimon_budget_set(daimon_budget *b, double limit, const cJSON *prices);
/* 0 if a new turn may run (always with no limit, or b NULL); else
 * DAIMON_EBUSY with the reason, said plainly, as the last error. */
int daimon_budget_check(daimon_budget *b);
/* An answer's usage {"model","in","out","cached"} counted. */
void daimon_budget_add(daimon_budget *b, const cJSON *usage);

#endif
