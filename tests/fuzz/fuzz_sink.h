/*
 * fuzz_sink.h — the import sink the fuzz targets use. It checks the
 * importers' promise: whatever they emit, from whatever input, is a valid
 * record once given seq/ts/type (it aborts otherwise, which libFuzzer
 * reports as a crash with the input that caused it).
 */
#ifndef DAIMON_FUZZ_SINK_H
#define DAIMON_FUZZ_SINK_H

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

#endif
