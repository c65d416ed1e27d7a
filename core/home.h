/*
 * home.h — where daimon keeps its data.
 *
 * Everything lives under one directory, $DAIMON_HOME (default ~/.daimon),
 * mode 0700 because it holds private conversations. Layout:
 *   SOUL.md USER.md MEMORY.md config.json   curated files and settings
 *   sessions/<id>.jsonl                      one append-only log per session
 *   index.db                                 SQLite FTS5 index, rebuildable
 *   skills/                                  native skills and their history
 */
#ifndef DAIMON_CORE_HOME_H
#define DAIMON_CORE_HOME_H

/* The data directory for this process (caller frees). */
char *daimon_home_dir(void);
/* "<home>/<rel>" (caller frees). */
char *daimon_home_path(const char *home, const char *rel);
/* Creates the home and its sessions/ folder (0700) if missing. */
int daimon_home_ensure(const char *home);

#endif
