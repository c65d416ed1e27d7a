/*
 * curated.c — see curated.h.
 *
 * The lock is a separate file (.<file>.lock beside it, flock'd), so it survives the
 * rename that replaces the file. Every edit runs under it: read what is on
 * disk now, change that, write a temporary file, fsync, rename, fsync the
 * directory.
 */
#include "memory/curated.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/settings.h"
#include "core/timefmt.h"

/* ---- files ---- */

size_t daimon_key_person(const char *key)
{
	const char *c = strchr(key, ':');
	c = c ? strchr(c + 1, ':') : NULL;
	return c ? (size_t)(c - key) : strlen(key);
}

/* The channels where people other than the owner write. */
static const char *const from_outside[] = {"telegram:", "mail:", NULL};

int daimon_is_owner(const daimon_settings *set, const char *key)
{
	int outside = 0;
	for (size_t i = 0; key && from_outside[i]; i++)
		outside |= !strncmp(key, from_outside[i], strlen(from_outside[i]));
	if (!outside)
		return 1;
	size_t n = daimon_key_person(key);
	const cJSON *owners = set ? daimon_settings_json(set, "owners") : NULL;
	for (const cJSON *o = cJSON_IsArray(owners) ? owners->child : NULL; o; o = o->next)
		if (cJSON_IsString(o) && strlen(o->valuestring) == n && !strncmp(o->valuestring, key, n))
			return 1;
	return 0;
}

int daimon_mem_file_for(daimon_mem_file *f, const char *home, const char *target, const char *key)
{
	memset(f, 0, sizeof(*f));
	daimon_settings *set = NULL;
	daimon_settings_load(&set, home); /* a bad file is said elsewhere; defaults here */
	int64_t limit = 0;
	const char *limit_path = NULL;
	if (!strcmp(target, "memory")) {
		f->name = daimon_xstrdup("MEMORY.md");
		limit_path = "memory.memory_chars";
	} else if (!strcmp(target, "soul")) {
		f->name = daimon_xstrdup("SOUL.md");
		limit_path = "memory.soul_chars";
	} else if (!strcmp(target, "user")) {
		limit_path = "memory.user_chars";
		if (daimon_is_owner(set, key)) {
			f->name = daimon_xstrdup("USER.md");
		} else {
			char *safe = daimon_xstrndup(key, daimon_key_person(key));
			for (char *p = safe; *p; p++)
				if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
					*p = '-';
			f->name = daimon_xasprintf("people/%s.md", safe);
			free(safe);
		}
	} else {
		daimon_settings_free(set);
		return daimon_error_code(DAIMON_EINVAL, "unknown memory '%s' (memory, user or soul)", target);
	}
	if (set)
		daimon_settings_int(set, limit_path, &limit); /* (a bad one: its default) */
	else
		limit = (int64_t)daimon_setting_default(limit_path);
	daimon_settings_free(set);
	f->limit = limit > 0 ? (size_t)limit : 0;
	f->path = daimon_home_path(home, f->name);
	return 0;
}

void daimon_mem_file_release(daimon_mem_file *f)
{
	free(f->path);
	free(f->name);
	memset(f, 0, sizeof(*f));
}

int daimon_mem_text(const char *home, const char *target, const char *key, daimon_buf *out)
{
	daimon_mem_file f;
	if (daimon_mem_file_for(&f, home, target, key) < 0)
		return -1;
	int rc = daimon_read_file(out, f.path);
	daimon_mem_file_release(&f);
	return rc == DAIMON_ENOTFOUND ? 0 : rc;
}

/* ---- UTF-8 ---- */

/* The code point at `p` (len bytes left) and its length; -1 if invalid. */
static long decode(const unsigned char *p, size_t len, size_t *n)
{
	if (p[0] < 0x80) {
		*n = 1;
		return p[0];
	}
	int k = p[0] >= 0xF0 && p[0] <= 0xF4 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC2 && p[0] < 0xE0 ? 2 : 0;
	if (!k || (size_t)k > len)
		return -1;
	long c = p[0] & (0x7F >> k);
	for (int i = 1; i < k; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return -1;
		c = (c << 6) | (p[i] & 0x3F);
	}
	if ((k == 3 && c < 0x800) || (k == 4 && (c < 0x10000 || c > 0x10FFFF)) || (c >= 0xD800 && c <= 0xDFFF))
		return -1;
	*n = (size_t)k;
	return c;
}

size_t daimon_utf8_check(const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text;
	for (size_t i = 0, n; i < len; i += n)
		if (decode(p + i, len - i, &n) < 0)
			return i + 1;
	return 0;
}

size_t daimon_utf8_chars(const char *text, size_t len)
{
	size_t chars = 0;
	for (size_t i = 0; i < len; i++)
		chars += ((unsigned char)text[i] & 0xC0) != 0x80;
	return chars;
}

/* ---- the scan ---- */

static int invisible(long c)
{
	return (c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) || (c >= 0x2060 && c <= 0x2064) ||
	       (c >= 0x2066 && c <= 0x2069) || c == 0xFEFF || c == 0x00AD || c == 0x180E ||
	       (c >= 0xE0000 && c <= 0xE007F);
}

const char *daimon_mem_scan(const char *text)
{
	static char why[160];
	size_t len = strlen(text);
	const unsigned char *p = (const unsigned char *)text;
	for (size_t i = 0, n; i < len; i += n) {
		long c = decode(p + i, len - i, &n);
		if (c < 0)
			return "it is not valid UTF-8";
		if (invisible(c)) {
			snprintf(why, sizeof(why), "it holds an invisible character (U+%04lX)", c);
			return why;
		}
	}
	/* Lower case, whitespace runs as one space. */
	char *flat = daimon_xmalloc(len + 1);
	size_t m = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = p[i];
		if (isspace(ch)) {
			if (m && flat[m - 1] != ' ')
				flat[m++] = ' ';
		} else {
			flat[m++] = (char)tolower(ch);
		}
	}
	flat[m] = 0;
	static const char *const phrases[] = {
		"you are now",
		"developer mode",
		"jailbreak",
		"<|im_start|>",
		"<|im_end|>",
		"<|system|>",
		"<system>",
		"</system>",
		"[system]",
		"do not tell the user",
		"don't tell the user",
		"without telling the user",
		"new system prompt",
		"| sh",
		"| bash",
		"rm -rf",
	};
	/* a verb, then what it aims at within a few words */
	static const char *const pairs[][2] = {
		{"ignore", "instructions"},   {"disregard", "instructions"}, {"forget", "instructions"},
		{"override", "instructions"}, {"ignore", "the above"},       {"disregard", "the above"},
		{"reveal", "system prompt"},  {"print", "system prompt"},    {"ignore", "previous"},
	};
	const char *found = NULL;
	for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]) && !found; i++)
		if (strstr(flat, phrases[i]))
			found = phrases[i];
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]) && !found; i++) {
		const char *a = strstr(flat, pairs[i][0]);
		const char *b = a ? strstr(a, pairs[i][1]) : NULL;
		if (b && b - a <= 48)
			found = pairs[i][0];
	}
	if (found)
		snprintf(why, sizeof(why), "it reads like a prompt injection ('%s')", found);
	free(flat);
	return found ? why : NULL;
}

/* ---- entries ---- */

static int separator(const char *line, size_t n)
{
	while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
		n--;
	while (n && (line[0] == ' ' || line[0] == '\t'))
		line++, n--;
	return n == 2 && (unsigned char)line[0] == 0xC2 && (unsigned char)line[1] == 0xA7; /* "§" */
}

/* The text without blank lines and trailing space around it. */
static char *trimmed(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return daimon_xstrndup(s, n);
}

static void push_entry(daimon_mem_entries *e, char *text)
{
	if (!*text) {
		free(text);
		return;
	}
	e->entries = daimon_xrealloc(e->entries, (e->n + 1) * sizeof(char *));
	e->entries[e->n++] = text;
}

static void split(const char *text, size_t len, daimon_mem_entries *out)
{
	memset(out, 0, sizeof(*out));
	size_t start = 0;
	for (size_t i = 0; i <= len;) {
		size_t eol = i;
		while (eol < len && text[eol] != '\n')
			eol++;
		if (separator(text + i, eol - i)) {
			push_entry(out, trimmed(text + start, i - start));
			start = eol + 1;
		}
		i = eol + 1;
	}
	if (start < len)
		push_entry(out, trimmed(text + start, len - start));
}

void daimon_mem_render(const daimon_mem_entries *e, daimon_buf *out)
{
	for (size_t i = 0; i < e->n; i++) {
		if (i)
			daimon_buf_adds(out, "\n§\n");
		daimon_buf_adds(out, e->entries[i]);
	}
	if (e->n)
		daimon_buf_addc(out, '\n');
}

static void count(daimon_mem_entries *e)
{
	daimon_buf b = DAIMON_BUF_INIT;
	daimon_mem_render(e, &b);
	e->chars = daimon_utf8_chars(daimon_buf_cstr(&b), b.len ? b.len - 1 : 0); /* without the last newline */
	daimon_buf_release(&b);
}

static int read_text(const daimon_mem_file *f, daimon_buf *text)
{
	int rc = daimon_read_file(text, f->path);
	if (rc == DAIMON_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	size_t bad = daimon_utf8_check(daimon_buf_cstr(text), text->len);
	if (bad)
		return daimon_error_code(DAIMON_EINVAL,
					 "%s is not valid UTF-8 (byte %zu); fix it by hand — nothing was changed",
					 f->name, bad);
	return 0;
}

int daimon_mem_read(const daimon_mem_file *f, daimon_mem_entries *out)
{
	memset(out, 0, sizeof(*out));
	daimon_buf text = DAIMON_BUF_INIT;
	int rc = read_text(f, &text);
	if (rc == 0) {
		split(daimon_buf_cstr(&text), text.len, out);
		count(out);
	}
	daimon_buf_release(&text);
	return rc;
}

void daimon_mem_entries_release(daimon_mem_entries *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->entries[i]);
	free(e->entries);
	memset(e, 0, sizeof(*e));
}

static void usage(const daimon_mem_file *f, size_t chars, daimon_buf *msg)
{
	if (f->limit)
		daimon_buf_addf(msg, "%s: %zu/%zu characters (%zu%%)", f->name, chars, f->limit,
				chars * 100 / f->limit);
	else
		daimon_buf_addf(msg, "%s: %zu characters", f->name, chars);
}

static void list_entries(const daimon_mem_entries *e, const size_t *only, size_t nonly, daimon_buf *msg)
{
	for (size_t k = 0; k < (only ? nonly : e->n); k++) {
		size_t i = only ? only[k] : k;
		daimon_buf_addf(msg, "\n%zu. %s", i + 1, e->entries[i]);
	}
}

/* ---- writing under the lock ---- */

static int lock(const daimon_mem_file *f)
{
	char *dir = daimon_xstrdup(f->path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	daimon_mkdir_p(dir, 0700);
	free(dir);
	const char *base = strrchr(f->path, '/');
	char *lp = base ? daimon_xasprintf("%.*s/.%s.lock", (int)(base - f->path), f->path, base + 1)
			: daimon_xasprintf(".%s.lock", f->path);
	int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lp);
	if (fd < 0)
		return daimon_error_errno("cannot lock %s", f->name);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			close(fd);
			return daimon_error_errno("cannot lock %s", f->name);
		}
	return fd;
}

static void unlock(int fd)
{
	flock(fd, LOCK_UN);
	close(fd);
}

/* Checks `e` against the limit and writes it. */
static int store(const daimon_mem_file *f, daimon_mem_entries *e, const daimon_mem_entries *before, daimon_buf *msg)
{
	count(e);
	if (f->limit && e->chars > f->limit) {
		daimon_buf_addf(msg,
				"%s would hold %zu characters, over its limit of %zu; make room first (replace or "
				"remove entries, or merge them). Now ",
				f->name, e->chars, f->limit);
		usage(f, before->chars, msg);
		daimon_buf_adds(msg, ":");
		list_entries(before, NULL, 0, msg);
		return daimon_error_code(DAIMON_EINVAL, "over the limit");
	}
	daimon_buf text = DAIMON_BUF_INIT;
	daimon_mem_render(e, &text);
	int rc = daimon_write_file_atomic(f->path, text.ptr ? text.ptr : "", text.len, 0600);
	daimon_buf_release(&text);
	if (rc < 0)
		daimon_buf_addf(msg, "%s", daimon_error_last());
	return rc;
}

static int check_text(const daimon_mem_file *f, const char *text, daimon_buf *msg)
{
	const char *why = NULL;
	if (!text || !*text)
		why = "the entry is empty";
	else if (strstr(text, "\n§\n") || !strncmp(text, "§\n", 3))
		why = "an entry cannot hold a line with only §";
	else
		why = daimon_mem_scan(text);
	if (!why)
		return 0;
	daimon_buf_addf(msg, "refused to write to %s: %s", f->name, why);
	return daimon_error_code(DAIMON_EINVAL, "refused");
}

/* The one entry holding `old`, or -1 with the reason in msg. */
static long find_one(const daimon_mem_file *f, const daimon_mem_entries *e, const char *old, daimon_buf *msg)
{
	if (!old || !*old) {
		daimon_buf_addf(msg, "say which entry of %s: give text that only it holds", f->name);
		return -1;
	}
	size_t *hits = daimon_xcalloc(e->n + 1, sizeof(size_t)), n = 0;
	for (size_t i = 0; i < e->n; i++)
		if (strstr(e->entries[i], old))
			hits[n++] = i;
	long found = n == 1 ? (long)hits[0] : -1;
	if (n == 0) {
		daimon_buf_addf(msg, "no entry of %s holds '%s'; its entries:", f->name, old);
		list_entries(e, NULL, 0, msg);
		if (!e->n)
			daimon_buf_adds(msg, " (none)");
	} else if (n > 1) {
		daimon_buf_addf(msg, "'%s' is in %zu entries of %s; give text that only one holds:", old, n, f->name);
		list_entries(e, hits, n, msg);
	}
	free(hits);
	return found;
}

enum op { OP_ADD, OP_REPLACE, OP_REMOVE };

static int edit(const daimon_mem_file *f, enum op op, const char *old, const char *text, daimon_buf *msg)
{
	if (op != OP_REMOVE && check_text(f, text, msg) < 0)
		return -1;
	int fd = lock(f);
	if (fd < 0) {
		daimon_buf_addf(msg, "%s", daimon_error_last());
		return fd;
	}
	daimon_mem_entries e, before;
	int rc = daimon_mem_read(f, &e);
	if (rc < 0) {
		daimon_buf_addf(msg, "%s", daimon_error_last());
		unlock(fd);
		return rc;
	}
	before = e;
	daimon_mem_entries after = {0};
	after.entries = daimon_xcalloc(e.n + 1, sizeof(char *));
	long at = op == OP_ADD ? -1 : find_one(f, &e, old, msg);
	if (op != OP_ADD && at < 0) {
		rc = daimon_error_code(DAIMON_EINVAL, "no unique entry");
	} else {
		for (size_t i = 0; i < e.n; i++)
			if ((long)i == at && op == OP_REPLACE)
				after.entries[after.n++] = (char *)text;
			else if ((long)i != at)
				after.entries[after.n++] = e.entries[i];
		if (op == OP_ADD)
			after.entries[after.n++] = (char *)text;
		rc = store(f, &after, &before, msg);
		if (rc == 0) {
			daimon_buf_adds(msg, op == OP_ADD ? "added; " : op == OP_REPLACE ? "replaced; " : "removed; ");
			usage(f, after.chars, msg);
		}
	}
	free(after.entries); /* (borrowed strings) */
	daimon_mem_entries_release(&e);
	unlock(fd);
	return rc;
}

int daimon_mem_add(const daimon_mem_file *f, const char *text, daimon_buf *msg)
{
	return edit(f, OP_ADD, NULL, text, msg);
}

int daimon_mem_replace(const daimon_mem_file *f, const char *old, const char *text, daimon_buf *msg)
{
	return edit(f, OP_REPLACE, old, text, msg);
}

int daimon_mem_remove(const daimon_mem_file *f, const char *old, daimon_buf *msg)
{
	return edit(f, OP_REMOVE, old, NULL, msg);
}

/* Keeps `text` next to the file, so a refused hand edit is not lost. */
static void keep_backup(const daimon_mem_file *f, const char *text, daimon_buf *msg)
{
	char ts[DAIMON_TS_LEN];
	daimon_ts_format(ts, daimon_now_ms());
	for (char *p = ts; *p; p++)
		if (*p == ':')
			*p = '-';
	char *path = daimon_xasprintf("%s.edit-%s", f->path, ts);
	if (daimon_write_file_atomic(path, text, strlen(text), 0600) == 0)
		daimon_buf_addf(msg, "; your version is kept in %s", path);
	else
		daimon_buf_addf(msg, "; and your version could not be kept: %s", daimon_error_last());
	free(path);
}

int daimon_mem_write_whole(const daimon_mem_file *f, const char *expected, const char *text, daimon_buf *msg)
{
	int fd = lock(f);
	if (fd < 0) {
		daimon_buf_addf(msg, "%s", daimon_error_last());
		return fd;
	}
	daimon_buf now = DAIMON_BUF_INIT;
	int rc = daimon_read_file(&now, f->path);
	if (rc == DAIMON_ENOTFOUND)
		rc = 0;
	size_t bad = daimon_utf8_check(text, strlen(text));
	const char *why = NULL;
	daimon_mem_entries e;
	split(text, strlen(text), &e);
	count(&e);
	for (size_t i = 0; i < e.n && !why; i++)
		why = daimon_mem_scan(e.entries[i]);
	if (rc < 0) {
		daimon_buf_addf(msg, "%s", daimon_error_last());
	} else if (strcmp(daimon_buf_cstr(&now), expected)) {
		daimon_buf_addf(msg, "%s changed while you were editing it; nothing was overwritten", f->name);
		rc = daimon_error_code(DAIMON_EBUSY, "changed meanwhile");
	} else if (bad) {
		daimon_buf_addf(msg, "your %s is not valid UTF-8 (byte %zu); nothing was overwritten", f->name, bad);
		rc = daimon_error_code(DAIMON_EINVAL, "not UTF-8");
	} else if (f->limit && e.chars > f->limit) {
		daimon_buf_addf(msg, "your %s has %zu characters, over its limit of %zu; nothing was overwritten",
				f->name, e.chars, f->limit);
		rc = daimon_error_code(DAIMON_EINVAL, "over the limit");
	} else if (why) {
		daimon_buf_addf(msg, "refused to write %s: %s; nothing was overwritten", f->name, why);
		rc = daimon_error_code(DAIMON_EINVAL, "refused");
	} else {
		daimon_buf out = DAIMON_BUF_INIT;
		daimon_mem_render(&e, &out);
		rc = daimon_write_file_atomic(f->path, out.ptr ? out.ptr : "", out.len, 0600);
		daimon_buf_release(&out);
		if (rc < 0)
			daimon_buf_addf(msg, "%s", daimon_error_last());
		else
			usage(f, e.chars, msg);
	}
	if (rc < 0 && strcmp(text, expected))
		keep_backup(f, text, msg);
	daimon_mem_entries_release(&e);
	daimon_buf_release(&now);
	unlock(fd);
	return rc;
}

/* ---- the prompt ---- */

void daimon_mem_prompt(const daimon_mem_file *f, const char *heading, daimon_buf *out)
{
	daimon_mem_entries e;
	if (daimon_mem_read(f, &e) < 0) {
		daimon_buf_addf(out, "## %s\n(%s is left out: %s)\n", heading, f->name, daimon_error_last());
		return;
	}
	if (e.n) {
		daimon_buf_addf(out, "## %s (", heading);
		usage(f, e.chars, out);
		daimon_buf_adds(out, ")\n");
		for (size_t i = 0; i < e.n; i++) {
			if (i)
				daimon_buf_adds(out, "\n§\n");
			const char *why = daimon_mem_scan(e.entries[i]);
			if (why)
				daimon_buf_addf(
					out, "[entry %zu hidden: %s; the user can review it with `daimon memory show`]",
					i + 1, why);
			else
				daimon_buf_adds(out, e.entries[i]);
		}
		daimon_buf_addc(out, '\n');
	}
	daimon_mem_entries_release(&e);
}
