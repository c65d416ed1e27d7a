/*
 * skilltools.h — the tools of the built skills, offered to the model next
 * to the built-in ones as SKILL-TOOL (the model APIs allow [a-zA-Z0-9_-]
 * in a tool's name). A skill whose manifest says "isolation": "inprocess"
 * runs in daimon's process, through the registry (hot-swappable); the
 * others (the default) run in a skill host of their own (host.h: `exe
 * skill serve NAME`, restarted after a failure), where a crash, a hang or
 * a memory hog costs that call only.
 */
#ifndef DAIMON_SESSIONS_SKILLTOOLS_H
#define DAIMON_SESSIONS_SKILLTOOLS_H

#include "sessions/tools.h"
#include "skills/mcp.h"
#include "skills/skills.h"
#include "skills/workspace.h"

typedef struct daimon_skill_toolset daimon_skill_toolset;

/* How far the model may write skills itself (config.json
 * "skills": {"authoring": "off" | "approve" | "auto"}): not at all; write
 * and test them, the user making them live with `daimon skill build`
 * (the default); or build them live too. */
typedef enum { DAIMON_AUTHORING_OFF, DAIMON_AUTHORING_APPROVE, DAIMON_AUTHORING_AUTO } daimon_authoring;

/* `base` (NULL-terminated) followed by the tools of every live skill, the
 * tools of the MCP servers in `mcp` (daimon_mcp_snapshot; may be NULL) as
 * SERVER.TOOL, and skill_author unless authoring is off; in-process skills are loaded into
 * `sk`; isolated ones get a host run as `exe` (NULL: a child process per
 * call). The set owns what it makes. */
daimon_skill_toolset *daimon_skill_toolset_new(daimon_skillws *ws, daimon_skills *sk, const char *exe,
					       const daimon_tool *base, daimon_authoring authoring, const cJSON *mcp);
const daimon_tool *daimon_skill_toolset_tools(const daimon_skill_toolset *ts);
/* Loads the live builds that changed since: in-process skills swap in;
 * an isolated skill's host (in `rt`) is replaced, the calls in flight
 * finishing on the old one. The number swapped, or < 0 (the reason) —
 * the versions before stay. *added (may be NULL) is set when a skill was
 * built that the set does not offer: only a new set can. */
int daimon_skill_toolset_refresh(daimon_skill_toolset *ts, daimon_rt *rt, int *added);
void daimon_skill_toolset_free(daimon_skill_toolset *ts);

/* Memory and search for skills' host table (the skills layer cannot
 * reach memory/ itself): give it to daimon_skills_new and the workspace. */
extern const daimon_skill_services daimon_skill_memory_services;

/* Everything a session needs to offer the built skills and the MCP
 * servers' tools (`mcp` may be NULL; it is the caller's) (ask, chat, the
 * daemon): the workspace, the in-process registry and the toolset, its
 * authoring setting from config.json. On success *tools is the toolset's
 * list; on failure (the workspace cannot be opened: last error) *tools
 * is left alone and the env is empty. */
typedef struct {
	daimon_skillws *ws;
	daimon_skills *sk;
	daimon_skill_toolset *ts;
} daimon_skill_env;
int daimon_skill_env_open(daimon_skill_env *e, const char *home, daimon_mcp *mcp, const daimon_tool **tools);
void daimon_skill_env_close(daimon_skill_env *e);

#endif
