/*
 * fuzz_sink.h — the import sink the fuzz targets use. It checks the
 * importers' promise: whatever they emit, from whatever input, is a valid
 * record once given seq/ts/type (it aborts otherwise, which libFuzzer
 * reports as a crash with the input that caused it).
 */
#ifndef DAIMON_FUZZ_SINK_H
#define DAIMON_FUZZ_SINK_H

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/jsonutil.h"
#include "memory/import.h"
#include "memory/record.h"

static int fz_depth;

static int fz_begin(void *p, const daimon_import_conv *c)
{
	(void)p;
	if (fz_depth++ != 0 || !c->orig_id || !c->format)
		abort();
	return 0;
}

static int fz_record(void *p, const char *type, int64_t ts, const cJSON *fields)
{
	(void)p, (void)ts;
	if (fz_depth != 1 || !cJSON_IsObject(fields))
		abort();
	daimon_buf b = DAIMON_BUF_INIT;
	daimon_buf_adds(&b, "{\"seq\":2,\"ts\":\"2026-01-01T00:00:00Z\",\"type\":");
	daimon_json_quote(&b, type);
	for (const cJSON *f = fields->child; f; f = f->next) {
		daimon_buf_addc(&b, ',');
		daimon_json_quote(&b, f->string);
		daimon_buf_addc(&b, ':');
		daimon_json_print(&b, f);
	}
	daimon_buf_addc(&b, '}');
	daimon_record rec;
	if (daimon_record_parse(&rec, b.ptr, b.len) != 0)
		abort();
	daimon_record_clear(&rec);
	daimon_buf_release(&b);
	return 0;
}

static int fz_end(void *p)
{
	(void)p;
	if (fz_depth-- != 1)
		abort();
	return 0;
}

static void fz_warn(void *p, const char *where, const char *what)
{
	(void)p;
	if (!where || !what)
		abort();
}

static daimon_import_sink fz_sink = {fz_begin, fz_record, fz_end, fz_warn, NULL};

/* Runs a database importer on `data` taken as a database image (read-only,
 * in memory). */
static inline void fz_run_db(const unsigned char *data, size_t size,
			     int (*reader)(sqlite3 *, const char *, daimon_import_sink *))
{
	sqlite3 *db;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		abort();
	unsigned char *copy = sqlite3_malloc64(size ? size : 1);
	memcpy(copy, data, size);
	if (sqlite3_deserialize(db, "main", copy, (sqlite3_int64)size, (sqlite3_int64)size,
				SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY) == SQLITE_OK) {
		sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 1 << 20);
		reader(db, "fuzz", &fz_sink);
	}
	sqlite3_close(db);
	if (fz_depth != 0)
		abort();
}

#endif
