/*
 * usage.c — see usage.h. Every log is read once, start to end; only the
 * answers' usage is looked at.
 */
#include "memory/usage.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/error.h"
#include "core/jsonutil.h"
#include "memory/record.h"

static const char *const by_names[] = {"day", "session", "model", "channel", NULL};

int daimon_usage_by_parse(const char *name)
{
	for (int i = 0; name && by_names[i]; i++)
		if (!strcmp(by_names[i], name))
			return i;
	return -1;
}

static double num(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* A model's price per million tokens. */
struct price {
	const char *model;
	size_t len;
	double in, out, cached;
};

struct prices {
	struct price *v;
	size_t n;
};

static int read_prices(const cJSON *list, struct prices *p)
{
	p->n = 0;
	p->v = daimon_xcalloc((size_t)cJSON_GetArraySize(list) + 1, sizeof(*p->v));
	const cJSON *e;
	cJSON_ArrayForEach(e, list)
	{
		const char *s = cJSON_GetStringValue(e), *eq = s ? strrchr(s, '=') : NULL;
		struct price *q = &p->v[p->n];
		int got = eq ? sscanf(eq + 1, "%lf/%lf/%lf", &q->in, &q->out, &q->cached) : 0;
		if (!eq || eq == s || got < 2 || q->in < 0 || q->out < 0 || (got == 3 && q->cached < 0))
			return daimon_error_code(
				DAIMON_EINVAL,
				"usage.prices: '%s' is not MODEL=INPUT/OUTPUT[/CACHED] (per million tokens)",
				s ? s : "?");
		if (got == 2)
			q->cached = q->in;
		q->model = s;
		q->len = (size_t)(eq - s);
		p->n++;
	}
	return 0;
}

static const struct price *price_of(const struct prices *p, const char *model)
{
	for (size_t i = 0; model && i < p->n; i++)
		if (strlen(model) == p->v[i].len && !memcmp(model, p->v[i].model, p->v[i].len))
			return &p->v[i];
	return NULL;
}

/* What one call cost: 1 (and *cost) if its model has a price, else 0.
 * The input tokens count the cached ones. */
static int cost_of(const struct prices *prices, const cJSON *usage, double *cost)
{
	const struct price *p = price_of(prices, daimon_json_str(usage, "model"));
	double in = num(usage, "in"), out = num(usage, "out"), cached = num(usage, "cached");
	*cost = p ? ((in - cached) * p->in + cached * p->cached + out * p->out) / 1e6 : 0;
	return p != NULL;
}

/* Adds one call to the row of `key`: its tokens, and its cost when its
 * model has a price (the input tokens count the cached ones). */
static void add(cJSON *totals, const char *key, const cJSON *usage, const struct prices *prices)
{
	cJSON *row = cJSON_GetObjectItemCaseSensitive(totals, key);
	if (!row) {
		row = cJSON_AddObjectToObject(totals, key);
		cJSON_AddStringToObject(row, "key", key);
		static const char *const fields[] = {"calls",         "tokens_in",      "tokens_out",
						     "tokens_cached", "unpriced_calls", "cost"};
		for (int i = 0; i < 6; i++)
			cJSON_AddNumberToObject(row, fields[i], 0);
	}
	double cost;
	if (cost_of(prices, usage, &cost))
		cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(row, "cost"), num(row, "cost") + cost);
	else
		cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(row, "unpriced_calls"),
				     num(row, "unpriced_calls") + 1);
	static const char *const from[] = {"in", "out", "cached"}, *const to[] = {"tokens_in", "tokens_out",
										  "tokens_cached"};
	cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(row, "calls"), num(row, "calls") + 1);
	for (int i = 0; i < 3; i++)
		cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(row, to[i]),
				     num(row, to[i]) + num(usage, from[i]));
}

static int one_log(const char *path, const char *id, int64_t since_ms, daimon_usage_by by, const struct prices *prices,
		   cJSON *totals)
{
	daimon_log_reader *r;
	int rc = daimon_log_reader_open(&r, path, 0, 0, 0);
	if (rc < 0)
		return rc;
	char channel[64] = "?";
	daimon_record rec;
	while ((rc = daimon_log_reader_next(r, &rec)) == 1) {
		if (!strcmp(rec.type, DAIMON_REC_SESSION)) {
			const char *c = daimon_json_str(rec.json, "channel");
			snprintf(channel, sizeof(channel), "%s", c ? c : "?");
		}
		const cJSON *usage = cJSON_GetObjectItemCaseSensitive(rec.json, "usage");
		if (!strcmp(rec.type, DAIMON_REC_MESSAGE) && cJSON_IsObject(usage) && rec.ts >= since_ms) {
			char day[16];
			time_t t = (time_t)(rec.ts / 1000);
			struct tm tm;
			localtime_r(&t, &tm);
			strftime(day, sizeof(day), "%Y-%m-%d", &tm);
			const char *model = daimon_json_str(usage, "model");
			const char *key = by == DAIMON_USAGE_DAY       ? day
					  : by == DAIMON_USAGE_SESSION ? id
					  : by == DAIMON_USAGE_MODEL   ? (model && *model ? model : "?")
								       : channel;
			add(totals, key, usage, prices);
		}
		daimon_record_clear(&rec);
	}
	daimon_log_reader_free(r);
	return rc;
}

static int by_key(const void *a, const void *b)
{
	return strcmp(daimon_json_str(*(const cJSON *const *)a, "key"),
		      daimon_json_str(*(const cJSON *const *)b, "key"));
}

int daimon_usage_totals(const daimon_store *st, int64_t since_ms, daimon_usage_by by, const cJSON *prices, cJSON **rows,
			size_t *damaged)
{
	*rows = NULL;
	*damaged = 0;
	struct prices pr;
	if (read_prices(prices, &pr) < 0) {
		free(pr.v);
		return DAIMON_EINVAL;
	}
	DIR *d = opendir(st->sessions_dir);
	if (!d) {
		free(pr.v);
		return daimon_error_errno("cannot open '%s'", st->sessions_dir);
	}
	cJSON *totals = cJSON_CreateObject();
	int rc = 0;
	struct dirent *e;
	while (rc >= 0 && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n <= 6 || strcmp(e->d_name + n - 6, ".jsonl"))
			continue;
		char *id = daimon_xstrndup(e->d_name, n - 6);
		if (daimon_session_id_valid(id)) {
			char *path = daimon_store_log_path(st, id);
			struct stat sb; /* (a log not written since then holds no call since then) */
			if (since_ms && stat(path, &sb) == 0 && (int64_t)sb.st_mtime * 1000 + 999 < since_ms)
				rc = 0;
			else
				rc = one_log(path, id, since_ms, by, &pr, totals);
			if (rc == DAIMON_ECORRUPT) { /* (what came before the damage counts) */
				++*damaged;
				rc = 0;
			}
			free(path);
		}
		free(id);
	}
	closedir(d);
	free(pr.v);
	if (rc < 0) {
		cJSON_Delete(totals);
		return rc;
	}
	size_t count = (size_t)cJSON_GetArraySize(totals), i = 0;
	cJSON **list = daimon_xcalloc(count + 1, sizeof(*list));
	while (totals->child)
		list[i++] = cJSON_DetachItemViaPointer(totals, totals->child);
	qsort(list, count, sizeof(*list), by_key);
	*rows = cJSON_CreateArray();
	for (i = 0; i < count; i++) {
		free(list[i]->string);
		list[i]->string = NULL;
		cJSON_AddItemToArray(*rows, list[i]);
	}
	free(list);
	cJSON_Delete(totals);
	return 0;
}

/* ---- the daily budget ---- */

struct daimon_budget {
	pthread_mutex_t mu;
	const daimon_store *st;
	double limit, spent;
	int day; /* the local day `spent` is of (YYYYMMDD), 0: not totalled yet */
	cJSON *price_list;
	struct prices prices;
};

daimon_budget *daimon_budget_new(const daimon_store *st)
{
	daimon_budget *b = daimon_xcalloc(1, sizeof(*b));
	pthread_mutex_init(&b->mu, NULL);
	b->st = st;
	return b;
}

void daimon_budget_free(daimon_budget *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->mu);
	cJSON_Delete(b->price_list);
	free(b->prices.v);
	free(b);
}

/* Today as YYYYMMDD, and its local midnight. */
static int today(int64_t *midnight_ms)
{
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	int day = (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	*midnight_ms = (int64_t)mktime(&tm) * 1000;
	return day;
}

/* Past midnight the count starts again from nothing (b->mu held). */
static void roll(daimon_budget *b)
{
	int64_t midnight;
	int day = today(&midnight);
	if (day != b->day) {
		b->spent = 0;
		b->day = day;
	}
}

void daimon_budget_set(daimon_budget *b, double limit, const cJSON *prices)
{
	pthread_mutex_lock(&b->mu);
	cJSON_Delete(b->price_list);
	free(b->prices.v);
	b->price_list = prices ? cJSON_Duplicate(prices, 1) : cJSON_CreateArray();
	if (read_prices(b->price_list, &b->prices) < 0) /* (said where the settings are read) */
		b->prices.n = 0;
	b->limit = limit;
	/* today so far, from the logs (with these prices), once here: never
	 * in the turns that check it */
	int64_t midnight;
	b->day = today(&midnight);
	b->spent = 0;
	cJSON *rows = NULL;
	size_t damaged = 0;
	if (limit > 0 && daimon_usage_totals(b->st, midnight, DAIMON_USAGE_DAY, b->price_list, &rows, &damaged) == 0) {
		const cJSON *r;
		cJSON_ArrayForEach(r, rows) b->spent += num(r, "cost");
	}
	cJSON_Delete(rows);
	pthread_mutex_unlock(&b->mu);
}

int daimon_budget_check(daimon_budget *b)
{
	if (!b)
		return 0;
	pthread_mutex_lock(&b->mu);
	roll(b);
	int rc = 0;
	if (b->limit > 0 && b->spent >= b->limit)
		rc = daimon_error_code(DAIMON_EBUSY,
				       "today's model budget is spent: %.2f of %.2f (model.daily_budget); it starts "
				       "again at midnight, or raise it with `daimon config set model.daily_budget N`",
				       b->spent, b->limit);
	pthread_mutex_unlock(&b->mu);
	return rc;
}

void daimon_budget_add(daimon_budget *b, const cJSON *usage)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->mu);
	roll(b);
	double cost;
	if (cost_of(&b->prices, usage, &cost))
		b->spent += cost;
	pthread_mutex_unlock(&b->mu);
}
