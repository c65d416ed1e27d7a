/*
 * workspace.h — where skills are written, built, tested and kept:
 * $DAIMON_HOME/skills, a git repository (libgit2) holding one folder per
 * skill (skill.c, skill.json, tests.json). Every successful build is a
 * commit, so any version can be seen, compared and brought back; the
 * shared objects live in .build/<name>/<commit>.so and .live.json says
 * which one each skill runs now. The public header and its flags file are
 * kept up to date in .include/ (daimon/skill.h, skill.pc).
 */
#ifndef DAIMON_SKILLS_WORKSPACE_H
#define DAIMON_SKILLS_WORKSPACE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "core/buf.h"
#include "skills/skills.h"

typedef struct daimon_skillws daimon_skillws;

/* Opens (creating it, and its repository, if need be) $home/skills. */
int daimon_skillws_open(daimon_skillws **out, const char *home, const daimon_skill_services *svc);
void daimon_skillws_close(daimon_skillws *ws);
const char *daimon_skillws_root(const daimon_skillws *ws);

/* Scaffolds a working skill: source, manifest, tests. */
int daimon_skill_new(daimon_skillws *ws, const char *name);

typedef struct {
	char commit[41]; /* "" when not committed (a test build) */
	char *so;        /* the built object */
	int tests, failed;
	double build_ms, test_ms;
} daimon_skill_built;
void daimon_skill_built_release(daimon_skill_built *b);

enum {
	DAIMON_SKILL_COMMIT = 1 << 0,  /* commit the source and make the build live */
	DAIMON_SKILL_CAPTURE = 1 << 1, /* the compiler's messages into `report`, not stderr */
};
/* Compiles NAME (the compiler's messages go to stderr as they are, or to
 * `report`), runs its tests.json in a child process (a line per test in
 * `report`), and with DAIMON_SKILL_COMMIT, commits its source (`message`;
 * NULL: "build NAME") and records the build as live. A failing build or
 * test changes nothing. */
int daimon_skill_build(daimon_skillws *ws, const char *name, const char *message, int flags, daimon_skill_built *out,
		       daimon_buf *report);
/* Writes NAME's skill.c (and tests.json if given), scaffolding the skill
 * first if it is new. */
int daimon_skill_write(daimon_skillws *ws, const char *name, const char *source, const char *tests);
/* NAME's skill.c and tests.json as they are now (caller frees). */
int daimon_skill_read(daimon_skillws *ws, const char *name, char **source, char **tests);

/* The live build of NAME: its object and commit (0), or DAIMON_ENOTFOUND. */
int daimon_skill_live(daimon_skillws *ws, const char *name, char **so, char commit[41]);
/* The same from the file alone (any thread): NULL if not built. */
char *daimon_skill_live_so(const char *home, const char *name);
/* [{"name","commit","built","so","isolation","timeout_s","memory_mb",
 * "description","version","tools":[{"name","description","parameters",
 * "flags"}]}] of the live skills. */
int daimon_skill_list(daimon_skillws *ws, cJSON **out);
/* [{"commit","time","message"}] of the commits that changed NAME, newest first. */
int daimon_skill_log(daimon_skillws *ws, const char *name, cJSON **out);
/* The patch of NAME between two revisions (NULL: the working files). */
int daimon_skill_diff(daimon_skillws *ws, const char *name, const char *from, const char *to, daimon_buf *out);
/* Puts NAME's files as they were at REV back in place (then build). */
int daimon_skill_checkout(daimon_skillws *ws, const char *name, const char *rev);
/* Removes NAME (its history stays in the repository). */
int daimon_skill_remove(daimon_skillws *ws, const char *name);

/* Runs `calls` ([{"tool","args"}]) against the skill in `so_path` in a
 * child process: *results gets [{"status","text"}] — 0 answered, -1 the
 * tool failed, -2 the skill crashed, hung past `timeout_ms` (then it is
 * killed) or ran out of memory (`mem_limit` bytes of address space; 0:
 * none); the calls after such a one are not run. <0 (why in `why`) if the
 * skill cannot be loaded. */
/* What the skill in `so_path` says it is — {"name","version","description",
 * "tools":[{"name","description","parameters","flags"}]} — read in a child
 * process (no skill code runs in this one); NULL if it does not load. */
cJSON *daimon_skill_describe_isolated(const char *so_path, const char *home);
/* Limits what this process may map from now on to `bytes` more. */
void daimon_skill_limit_memory(size_t bytes);
int daimon_skill_run_isolated(const char *so_path, const char *home, const daimon_skill_services *svc,
			      const cJSON *calls, long timeout_ms, size_t mem_limit, cJSON **results, daimon_buf *why);

#endif
