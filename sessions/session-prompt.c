/*
 * session-prompt.c — the system prompt a session is started with: SOUL.md,
 * then snapshots of the user's file and (for the owner) MEMORY.md, then the index of
 * instruction skills. Taken once, at start (and again when the history is
 * compacted), so a provider's prefix cache stays valid.
 */
#include "sessions/session-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "memory/curated.h"
#include "skills/instructions.h"

/* SOUL.md, then snapshots of the user's file and MEMORY.md — taken once,
 * when the session starts (or compresses), so a provider's prefix cache
 * stays valid; writes reach the prompt at the next session. */
char *session_system_prompt(const char *home, const char *key, int owner)
{
	daimon_buf b = DAIMON_BUF_INIT;
	daimon_mem_file f;
	daimon_mem_entries soul;
	if (daimon_mem_file_for(&f, home, "soul", key) == 0 && daimon_mem_read(&f, &soul) == 0) {
		for (size_t i = 0; i < soul.n; i++)
			daimon_buf_addf(&b, "%s%s", i ? "\n" : "", soul.entries[i]);
		daimon_mem_entries_release(&soul);
	}
	daimon_mem_file_release(&f);
	static const char *const parts[][2] = {{"user", "About the user"}, {"memory", "Your notes"}};
	/* MEMORY.md is the owner's: a stranger's prompt has only their own file */
	for (size_t i = 0; i < (owner ? 2u : 1u); i++) {
		daimon_buf part = DAIMON_BUF_INIT;
		if (daimon_mem_file_for(&f, home, parts[i][0], key) == 0)
			daimon_mem_prompt(&f, parts[i][1], &part);
		daimon_mem_file_release(&f);
		if (part.len)
			daimon_buf_addf(&b, "%s%s", b.len ? "\n\n" : "", part.ptr);
		daimon_buf_release(&part);
	}
	/* The index of instruction skills: names and what they are for. */
	char *dir = daimon_home_path(home, "skills");
	cJSON *skills = daimon_instructions_scan(dir);
	free(dir);
	for (const cJSON *sk = skills->child; sk; sk = sk->next)
		daimon_buf_addf(&b, "%s- %s: %s",
				sk == skills->child ? "\n\n## Skills (read one with skill_read before following it)\n"
						    : "\n",
				daimon_json_str(sk, "name"), daimon_json_str(sk, "description"));
	cJSON_Delete(skills);
	return daimon_buf_detach(&b);
}
