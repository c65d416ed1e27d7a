/*
 * store.h — the set of session logs under $DAIMON_HOME/sessions.
 *
 * A session id names its file (sessions/<id>.jsonl) and so is restricted to
 * [A-Za-z0-9._-], at most 100 characters, not starting with '.'. New
 * sessions get "YYYYMMDD-HHMMSS-xxxxxx" (UTC time and 24 random bits), which
 * sorts by creation time; imported ones get "<format>-<16 hex digits>", a
 * hash of their original id, so importing the same conversation twice
 * finds the same session.
 */
#ifndef DAIMON_MEMORY_STORE_H
#define DAIMON_MEMORY_STORE_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "memory/log.h"

#define DAIMON_ID_MAX 100

typedef struct {
	char *home;
	char *sessions_dir;
} daimon_store;

typedef struct {
	const char *id;      /* NULL: a new time-based id */
	const char *key;     /* conversation key; NULL: "cli:<id>" */
	const char *channel; /* NULL: the part of key before ':' */
	int64_t created;     /* ms; 0: now */
	const char *title;   /* optional */
	const cJSON *source; /* optional {"format","path","id"} */
} daimon_session_meta;

int daimon_store_open(daimon_store *st, const char *home);
void daimon_store_release(daimon_store *st);
/* "<home>/sessions/<id>.jsonl" (caller frees). */
char *daimon_store_log_path(const daimon_store *st, const char *id);
int daimon_session_id_valid(const char *id);
void daimon_session_id_new(char out[DAIMON_ID_MAX + 1], int64_t now_ms);
/* "<prefix>-<16 hex>" from a 64-bit FNV-1a hash of `original`. */
void daimon_session_id_derived(char out[DAIMON_ID_MAX + 1], const char *prefix, const char *original);
/* Creates a session's log with its session record; `id_out` gets the id. */
int daimon_store_create(daimon_store *st, const daimon_session_meta *meta, int log_flags, daimon_log **out,
			char id_out[DAIMON_ID_MAX + 1]);

#endif
