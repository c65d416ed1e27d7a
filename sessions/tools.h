/*
 * tools.h — the tools a session offers the model.
 *
 * A tool has a name, a one-line description and a JSON Schema for its
 * arguments. Arguments are checked against the schema before the tool
 * runs; a call that does not fit gets the validation error back as its
 * result, so the model can correct itself. Built in now: current_time
 * and session_search (the FTS5 index over every conversation).
 */
#ifndef DAIMON_SESSIONS_TOOLS_H
#define DAIMON_SESSIONS_TOOLS_H

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "memory/store.h"

typedef struct {
	const char *name;
	const char *description;
	const char *parameters; /* JSON Schema, as text */
	/* Appends the result to `out`; returns 0, or <0 for a failed call (the
	 * text then says why). */
	int (*run)(const cJSON *args, daimon_buf *out, void *payload);
} daimon_tool;

/* The built-in tools (NULL-terminated by name). */
extern const daimon_tool daimon_builtin_tools[];
/* [{"name","description","parameters"}] for daimon_llm_build (caller frees). */
cJSON *daimon_tools_json(const daimon_tool *tools);
/* Runs the call {"name","arguments"}: finds the tool, checks the arguments
 * against its schema, runs it. The result text goes to `out`; returns 1 if
 * it is an error result. */
int daimon_tool_call(const daimon_tool *tools, const cJSON *call, daimon_buf *out, void *payload);
/* Checks `value` against the subset of JSON Schema tools use (type,
 * properties, required, enum, minimum/maximum); 0 or <0 with the reason. */
int daimon_schema_check(const cJSON *schema, const cJSON *value, const char *where, daimon_buf *why);

#endif
