/*
 * curated.h — the few files daimon curates about itself and its user:
 * SOUL.md (its persona; the user's to edit), USER.md (facts about the
 * user), MEMORY.md (its own notes).
 *
 * A file is a list of entries separated by lines holding only "§", and
 * bounded in characters (config.json "memory": memory_chars, user_chars,
 * soul_chars). Entries are added, replaced or removed — replace and
 * remove name an entry by a substring that must match exactly one — and
 * every write takes the file's lock, re-reads the file under it, applies
 * the change to what is on disk now, and replaces the file (temporary
 * file, fsync, rename). So a hand edit is never overwritten and two
 * writers lose nothing. A write that would pass the limit is refused with
 * the current entries (so the model can consolidate); a write that looks
 * like a prompt injection, or carries invisible Unicode, is refused with
 * the reason.
 *
 * People: the owner's USER.md is global; anyone else who talks to daimon
 * (another Telegram user, a group) gets people/<channel>-<id>.md, keyed by
 * the person of the conversation ("telegram:42" for "telegram:42" and for
 * a later conversation of theirs, "telegram:42:<n>"), so facts about one
 * never reach another's prompt. Only Telegram and mail bring people from
 * outside: every other conversation is the owner's (the terminal, the web
 * page, which takes the owner's token, imported ones), and so are the
 * people listed in config.json "owners" (`daimon owner add`).
 */
#ifndef DAIMON_MEMORY_CURATED_H
#define DAIMON_MEMORY_CURATED_H

#include <stddef.h>

#include "core/buf.h"

struct daimon_settings;
/* Whether `key` is the owner's conversation: not a Telegram or mail one,
 * or one of a person listed in "owners" (set may be NULL). */
int daimon_is_owner(const struct daimon_settings *set, const char *key);
/* The length of the person part of `key`: up to its second ':' (all of
 * it when there is none). */
size_t daimon_key_person(const char *key);

typedef struct {
	char *path;
	char *name;   /* "MEMORY.md", "USER.md", "people/telegram-42.md" */
	size_t limit; /* characters */
} daimon_mem_file;

/* The file `target` ("memory", "user", "soul") means for the conversation
 * `key` (NULL: the owner). DAIMON_EINVAL for an unknown target. */
int daimon_mem_file_for(daimon_mem_file *f, const char *home, const char *target, const char *key);
void daimon_mem_file_release(daimon_mem_file *f);
/* The whole text of that file, appended to `out` (none yet: nothing). */
int daimon_mem_text(const char *home, const char *target, const char *key, daimon_buf *out);

typedef struct {
	char **entries;
	size_t n;
	size_t chars; /* of the file as rendered */
} daimon_mem_entries;

/* Reads and splits the file (missing: no entries). A file that is not
 * UTF-8 is an error saying where. */
int daimon_mem_read(const daimon_mem_file *f, daimon_mem_entries *out);
void daimon_mem_entries_release(daimon_mem_entries *e);
/* The file's text for `entries`: joined by "\n§\n", ending in "\n". */
void daimon_mem_render(const daimon_mem_entries *e, daimon_buf *out);

/* The edits. On success `msg` says what was done and the usage; on
 * failure (<0) `msg` says why, with the candidates or current entries
 * when that helps. */
int daimon_mem_add(const daimon_mem_file *f, const char *text, daimon_buf *msg);
int daimon_mem_replace(const daimon_mem_file *f, const char *old, const char *text, daimon_buf *msg);
int daimon_mem_remove(const daimon_mem_file *f, const char *old, daimon_buf *msg);
/* Replaces the whole file with `text` (a hand edit through `daimon memory
 * edit`) if it still holds `expected`; otherwise, or if `text` cannot be
 * taken (limit, injection, not UTF-8), nothing is overwritten and `text`
 * is kept in a backup file that `msg` names. */
int daimon_mem_write_whole(const daimon_mem_file *f, const char *expected, const char *text, daimon_buf *msg);

/* NULL if `text` may be written to memory; else why not (a pattern that
 * reads like a prompt injection, or invisible Unicode). */
const char *daimon_mem_scan(const char *text);
/* Characters (code points) in valid UTF-8 `text`. */
size_t daimon_utf8_chars(const char *text, size_t len);
/* 0 if `text` is valid UTF-8; else the offset of the first bad byte + 1. */
size_t daimon_utf8_check(const char *text, size_t len);

/* The file for the prompt: a heading with the usage, then the entries,
 * those the scan objects to masked. A file that cannot be read is left
 * out with a note saying why. Nothing when the file is empty. */
void daimon_mem_prompt(const daimon_mem_file *f, const char *heading, daimon_buf *out);

#endif
