/*
 * instructions.c — see instructions.h.
 *
 * The front matter is read as the small YAML subset SKILL.md files use:
 * `key: value` (quotes removed), and `key: >` or `key: |` followed by
 * indented lines (folded into one line, or kept as lines). Other keys and
 * nested maps (metadata:) are skipped.
 */
#include "skills/instructions.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"

static char *unquote(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0])
		s++, n -= 2;
	return daimon_xstrndup(s, n);
}

/* The front matter's `key`, or NULL; *body_at gets where the body starts. */
static char *front(const char *text, const char *key, const char **body_at)
{
	*body_at = text;
	if (strncmp(text, "---", 3) || (text[3] != '\n' && text[3] != '\r'))
		return NULL;
	const char *p = strchr(text, '\n') + 1;
	char *value = NULL;
	size_t klen = strlen(key);
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		if (n >= 3 && !strncmp(p, "---", 3)) {
			*body_at = eol ? eol + 1 : p + n;
			break;
		}
		if (!value && !strncmp(p, key, klen) && p[klen] == ':') {
			char *v = unquote(p + klen + 1, n - klen - 1);
			if (!strcmp(v, ">") || !strcmp(v, "|") || !strcmp(v, ">-") || !strcmp(v, "|-")) {
				int fold = v[0] == '>';
				daimon_buf b = DAIMON_BUF_INIT;
				const char *q = eol ? eol + 1 : p + n;
				while (*q == ' ' || *q == '\t') { /* the indented lines after it */
					const char *qe = strchr(q, '\n');
					size_t qn = qe ? (size_t)(qe - q) : strlen(q);
					char *line = unquote(q, qn);
					if (b.len)
						daimon_buf_addc(&b, fold ? ' ' : '\n');
					daimon_buf_adds(&b, line);
					free(line);
					q = qe ? qe + 1 : q + qn;
				}
				free(v);
				v = daimon_buf_detach(&b);
				if (!v)
					v = daimon_xstrdup("");
			}
			value = v;
		}
		p = eol ? eol + 1 : p + n;
	}
	return value;
}

static const char *name_of(const cJSON *o)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "name"));
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(name_of(*(cJSON *const *)a), name_of(*(cJSON *const *)b));
}

cJSON *daimon_instructions_scan(const char *skills_dir)
{
	cJSON *out = cJSON_CreateArray();
	DIR *d = opendir(skills_dir);
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char *path = daimon_xasprintf("%s/%s/SKILL.md", skills_dir, e->d_name);
		daimon_buf text = DAIMON_BUF_INIT;
		if (daimon_read_file(&text, path) == 0) {
			const char *body;
			char *name = front(daimon_buf_cstr(&text), "name", &body);
			char *desc = front(daimon_buf_cstr(&text), "description", &body);
			if (name && *name && desc && *desc) {
				cJSON *o = cJSON_CreateObject();
				cJSON_AddStringToObject(o, "name", name);
				cJSON_AddStringToObject(o, "description", desc);
				char *dir = daimon_xasprintf("%s/%s", skills_dir, e->d_name);
				cJSON_AddStringToObject(o, "dir", dir);
				free(dir);
				cJSON_AddItemToArray(out, o);
			} else {
				fprintf(stderr, "daimon: %s has no name or description in its front matter; left out\n",
					path);
			}
			free(name);
			free(desc);
		}
		daimon_buf_release(&text);
		free(path);
	}
	if (d)
		closedir(d);
	/* by name, so the prompt is the same from run to run (prefix caches) */
	int n = cJSON_GetArraySize(out);
	if (n > 1) {
		cJSON **items = daimon_xcalloc((size_t)n, sizeof(cJSON *));
		for (int i = 0; i < n; i++)
			items[i] = cJSON_DetachItemFromArray(out, 0);
		qsort(items, (size_t)n, sizeof(cJSON *), cmp_name);
		for (int i = 0; i < n; i++)
			cJSON_AddItemToArray(out, items[i]);
		free(items);
	}
	return out;
}

int daimon_instructions_read(const char *skills_dir, const char *name, const char *file, daimon_buf *out)
{
	cJSON *all = daimon_instructions_scan(skills_dir);
	const char *dir = NULL;
	for (const cJSON *s = all->child; s && !dir; s = s->next)
		if (!strcmp(name_of(s), name))
			dir = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "dir"));
	int rc;
	if (!dir) {
		rc = daimon_error_code(DAIMON_ENOTFOUND, "there is no instruction skill '%s'", name);
	} else if (file && (file[0] == '/' || strstr(file, ".."))) {
		rc = daimon_error_code(DAIMON_EINVAL, "'%s' is not a file of skill %s", file, name);
	} else {
		char *path = daimon_xasprintf("%s/%s", dir, file ? file : "SKILL.md");
		daimon_buf text = DAIMON_BUF_INIT;
		rc = daimon_read_file(&text, path);
		if (rc == 0) {
			const char *body = daimon_buf_cstr(&text);
			if (!file)
				free(front(daimon_buf_cstr(&text), "name", &body)); /* (for where the body starts) */
			daimon_buf_adds(out, body);
		} else {
			rc = daimon_error_code(DAIMON_ENOTFOUND, "skill %s has no file '%s'", name,
					       file ? file : "SKILL.md");
		}
		daimon_buf_release(&text);
		free(path);
	}
	cJSON_Delete(all);
	return rc;
}
