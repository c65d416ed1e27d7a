/*
 * home.c — see home.h.
 */
#include "core/home.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"

char *daimon_home_dir(void)
{
	const char *env = getenv("DAIMON_HOME");
	if (env && *env)
		return daimon_xstrdup(env);
	const char *home = getenv("HOME");
	if (!home || !*home) {
		struct passwd *pw = getpwuid(getuid());
		home = pw && pw->pw_dir ? pw->pw_dir : "/tmp";
	}
	return daimon_xasprintf("%s/.daimon", home);
}

char *daimon_home_path(const char *home, const char *rel)
{
	return daimon_xasprintf("%s/%s", home, rel);
}

int daimon_home_ensure(const char *home)
{
	if (daimon_mkdir_p(home, 0700) < 0)
		return -1;
	char *sessions = daimon_home_path(home, "sessions");
	int rc = daimon_mkdir_p(sessions, 0700);
	free(sessions);
	return rc;
}

static int env_name(const char *s, size_t n)
{
	if (!n || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_'))
			return 0;
	return 1;
}

/* Each NAME=value line of a file to `fn`; a bad line is said
 * (file:line, when `path` is given) and passed over. */
static void each_line(const char *path, const char *text, void (*fn)(const char *name, const char *value, void *arg),
		      void *arg)
{
	int lineno = 0;
	for (const char *p = text; *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		lineno++;
		char *line = daimon_xstrndup(p, len);
		p += len + (end != NULL);
		char *s = line + strspn(line, " \t");
		s[strcspn(s, "\r")] = 0;
		if (!strncmp(s, "export ", 7))
			s += 7 + strspn(s + 7, " \t");
		char *eq = strchr(s, '=');
		if (!*s || *s == '#') {
			/* blank or a comment */
		} else if (!eq || !env_name(s, (size_t)(eq - s))) {
			if (path)
				fprintf(stderr, "daimon: %s:%d: not NAME=value; passed over\n", path, lineno);
		} else {
			*eq = 0;
			char *v = eq + 1;
			size_t vn = strlen(v);
			if (vn >= 2 && (v[0] == '"' || v[0] == '\'') && v[vn - 1] == v[0])
				v[vn - 1] = 0, v++;
			fn(s, v, arg);
		}
		free(line);
	}
}

static void to_env(const char *name, const char *value, void *arg)
{
	(void)arg;
	setenv(name, value, 0); /* (what is set already wins) */
}

/* The text of <home>/<file>, or NULL; a credentials file others may
 * read is refused (said once, with the fix, when `say`). */
static char *read_home_file(const char *home, const char *file, int say)
{
	char *path = daimon_home_path(home, file);
	daimon_buf text = DAIMON_BUF_INIT;
	struct stat st;
	char *out = NULL;
	if (stat(path, &st) == 0 && !strcmp(file, "credentials") && (st.st_mode & 077)) {
		if (say)
			fprintf(stderr,
				"daimon: %s may be read by others (mode %03o), so it is not read: chmod 600 %s\n", path,
				(unsigned)(st.st_mode & 0777), path);
	} else if (daimon_read_file(&text, path) == 0) {
		out = daimon_xstrdup(daimon_buf_cstr(&text));
	}
	daimon_buf_release(&text);
	free(path);
	return out;
}

void daimon_home_load_env(const char *home)
{
	static const char *const files[] = {"env", "credentials"};
	for (size_t i = 0; i < 2; i++) {
		char *text = read_home_file(home, files[i], 1), *path = daimon_home_path(home, files[i]);
		if (text)
			each_line(path, text, to_env, NULL);
		free(text);
		free(path);
	}
}

struct lookup {
	const char *name;
	char *value;
};

static void find_name(const char *name, const char *value, void *arg)
{
	struct lookup *l = arg;
	if (!strcmp(name, l->name)) {
		free(l->value);
		l->value = daimon_xstrdup(value);
	}
}

char *daimon_credentials_get(const char *home, const char *name)
{
	char *text = read_home_file(home, "credentials", 0);
	struct lookup l = {name, NULL};
	if (text)
		each_line(NULL, text, find_name, &l);
	free(text);
	return l.value;
}

int daimon_credentials_set(const char *home, const char *name, const char *value)
{
	if (!env_name(name, strlen(name)) || strpbrk(value, "\r\n"))
		return daimon_error_code(DAIMON_EINVAL, "a credential is NAME=value on one line");
	char *path = daimon_home_path(home, "credentials");
	daimon_buf old = DAIMON_BUF_INIT, out = DAIMON_BUF_INIT;
	int rc = daimon_read_file(&old, path);
	if (rc == DAIMON_ENOTFOUND)
		rc = 0;
	size_t n = strlen(name);
	for (const char *p = old.len ? old.ptr : ""; rc == 0 && *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) + 1 : strlen(p);
		const char *s = p + strspn(p, " \t");
		if (!strncmp(s, "export ", 7))
			s += 7 + strspn(s + 7, " \t");
		if (strncmp(s, name, n) || s[n] != '=') /* (an older one of the same name goes) */
			daimon_buf_add(&out, p, len);
		if (!end && len)
			daimon_buf_addc(&out, '\n');
		p += len;
	}
	daimon_buf_addf(&out, "%s=%s\n", name, value);
	if (rc == 0)
		rc = daimon_write_file_atomic(path, out.ptr, out.len, 0600);
	daimon_buf_release(&old);
	daimon_buf_release(&out);
	free(path);
	return rc;
}
