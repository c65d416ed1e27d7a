/*
 * record.h — one line of a session log, parsed and checked.
 *
 * The format itself is documented at the top of memory/log.c. This is the
 * one parser every reader goes through (the log reader, the indexer, the
 * fuzz target), so what counts as a valid record is decided in one place.
 */
#ifndef DAIMON_MEMORY_RECORD_H
#define DAIMON_MEMORY_RECORD_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint64_t seq;
	int64_t ts;       /* milliseconds since the epoch */
	const char *type; /* points into json */
	cJSON *json;      /* the whole record, owned */
} daimon_record;

#define DAIMON_RECORD_MAX_LINE (64u << 20) /* 64 MiB: a bigger line is damage */

/* Parses one line (without its '\n'). On failure returns DAIMON_ECORRUPT
 * and the last error says what is wrong (the caller adds file:line). */
int daimon_record_parse(daimon_record *rec, const char *line, size_t len);
void daimon_record_clear(daimon_record *rec);

#endif
