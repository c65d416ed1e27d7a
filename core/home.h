/*
 * home.h — where daimon keeps its data.
 *
 * Everything lives under one directory, $DAIMON_HOME (default ~/.daimon),
 * mode 0700 because it holds private conversations. Layout:
 *   SOUL.md USER.md MEMORY.md config.json   curated files and settings
 *   sessions/<id>.jsonl                      one append-only log per session
 *   index.db                                 SQLite FTS5 index, rebuildable
 *   skills/                                  native skills and their history
 *   env                                      settings for the environment
 *                                            (NAME=value lines), optional
 *   credentials                              secrets (API keys, tokens) as
 *                                            NAME=value lines, mode 0600
 */
#ifndef DAIMON_CORE_HOME_H
#define DAIMON_CORE_HOME_H

/* The data directory for this process (caller frees). */
char *daimon_home_dir(void);
/* "<home>/<rel>" (caller frees). */
char *daimon_home_path(const char *home, const char *rel);
/* Creates the home and its sessions/ folder (0700) if missing. */
int daimon_home_ensure(const char *home);

/* Reads <home>/env and <home>/credentials into the environment, each
 * NAME=value line (`export` and quotes allowed, # comments) for a name
 * not set already: what the shell sets wins. So `daimon serve` under the
 * systemd unit has the model's settings and keys with nothing else.
 * A credentials file others may read is not read, and said once on
 * stderr with the fix. Before any thread starts (setenv). */
void daimon_home_load_env(const char *home);
/* Sets NAME=value in <home>/credentials (created 0600; the other lines
 * kept, an older NAME replaced), written whole or not at all. */
int daimon_credentials_set(const char *home, const char *name, const char *value);
/* NAME's value in <home>/credentials as the file is now (a reload sees a
 * key `setup` just wrote), or NULL: none, or the file is open to others. */
char *daimon_credentials_get(const char *home, const char *name);

#endif
