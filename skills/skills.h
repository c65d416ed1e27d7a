/*
 * skills.h — native skills in the running process: loading, calling,
 * hot swapping (include/daimon/skill.h is the skills' side).
 *
 * Each skill has a few version slots. Loading a version dlopens a
 * uniquely named copy of its shared object (so a rebuilt file is a new
 * object, never the old mapping), inits it with the state the current
 * version saves, and publishes it with one atomic store. A call pins the
 * version current when it starts — an atomic increment, no lock — and
 * unpins when it ends; a version that is no longer current is finalized
 * and dlclosed by whoever drops its last pin. A slot is reused only once
 * nothing holds it, so at most SKILL_SLOTS versions of a skill are alive.
 * A version that fails to load or init is not published: the current one
 * stays, and the error says why.
 */
#ifndef DAIMON_SKILLS_SKILLS_H
#define DAIMON_SKILLS_SKILLS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef struct daimon_skills daimon_skills;

/* A skill's or a tool's name: 1 to `max` of a-z, 0-9 and _. */
int daimon_skill_name_ok(const char *name, size_t max);

/* What skills reach through the host table that this layer cannot give
 * them: memory and search, the upper layers' (sessions/skilltools.h has
 * daimon_skill_memory_services). A NULL table or member makes that host
 * call fail. Results are malloc'd. */
typedef struct {
	int (*memory_read)(const char *home, const char *target, char **text);
	int (*search)(const char *home, const char *query, int limit, char **json_lines);
} daimon_skill_services;

/* An empty registry; `home` (may be NULL) is where skills keep their
 * key-value stores, and what `svc` (may be NULL; copied) is asked about. */
daimon_skills *daimon_skills_new(const char *home, const daimon_skill_services *svc);
void daimon_skills_free(daimon_skills *sk);

/* Loads `so_path` as the new version of its skill (the name comes from
 * the descriptor) and swaps it in. 0, or < 0 with the reason (the version
 * before stays). `name_out` (may be NULL) gets the skill's name. */
int daimon_skills_load(daimon_skills *sk, const char *so_path, char name_out[64]);
/* Takes a skill out (its calls in flight finish on their version). */
int daimon_skills_unload(daimon_skills *sk, const char *name);

typedef struct {
	const char *idempotency_key;  /* may be NULL */
	const _Atomic int *cancelled; /* may be NULL */
	/* progress reports (may be NULL) */
	void (*progress)(void *payload, double done, double total, const char *message);
	void *payload;
} daimon_skill_call_opts;

/* Calls SKILL's TOOL with `args` (a JSON object as text) on the version
 * current now; its result text goes to `out`. 0, or < 0 for a failed call
 * (`out` says why). */
int daimon_skills_call(daimon_skills *sk, const char *skill, const char *tool, const char *args, daimon_buf *out,
		       const daimon_skill_call_opts *opts);

/* What is loaded, for listing and for the session's tools:
 * [{"name","version","description","tools":[{"name","description",
 * "parameters","flags"}]}] (caller frees the text). */
char *daimon_skills_describe(daimon_skills *sk);
/* How many versions of `name` are alive (current plus those still held). */
int daimon_skills_live_versions(daimon_skills *sk, const char *name);

#endif
