/*
 * instructions.h — instruction skills in the agentskills.io format, as
 * Hermes Agent and OpenClaw use them: a folder under $DAIMON_HOME/skills
 * holding a SKILL.md whose YAML front matter names it and says what it is
 * for, then Markdown instructions (and maybe references/, scripts/).
 * The prompt lists each one's name and description; the model reads the
 * instructions (or a file they point to) when it needs them.
 */
#ifndef DAIMON_SKILLS_INSTRUCTIONS_H
#define DAIMON_SKILLS_INSTRUCTIONS_H

#include <cjson/cJSON.h>

#include "core/buf.h"

/* [{"name","description","dir"}] of the SKILL.md folders under `skills_dir`,
 * by name; folders whose SKILL.md lacks a name or a description are left
 * out (and said on stderr). */
cJSON *daimon_instructions_scan(const char *skills_dir);
/* The instructions of skill `name` (SKILL.md without its front matter),
 * or with `file`, that file of the skill's folder. 0, or < 0 (why). */
int daimon_instructions_read(const char *skills_dir, const char *name, const char *file, daimon_buf *out);

#endif
