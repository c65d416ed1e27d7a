/*
 * workspace.c — see workspace.h.
 */
#include "skills/workspace.h"

#include <dirent.h>
#include <errno.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <daimon/skill.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/home.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"
#include "skills/skills.h"

struct daimon_data_file {
	const char *name;
	const char *text;
	size_t len;
};
extern const struct daimon_data_file daimon_skill_files[];

struct daimon_skillws {
	char *home, *root;
	daimon_skill_services svc; /* for the tests' calls */
	git_repository *repo;
};

static const char *embedded(const char *name)
{
	for (const struct daimon_data_file *f = daimon_skill_files; f->name; f++)
		if (!strcmp(f->name, name))
			return f->text;
	return "";
}

static int git_fail(const char *what)
{
	const git_error *e = git_error_last();
	return daimon_error("%s: %s", what, e && e->message ? e->message : "libgit2 failed");
}

/* Writes `path` only if it does not hold `text` already (opening the
 * workspace is part of every ask's start-up: no needless syncs there). */
static int write_if_changed(const char *path, const char *text)
{
	daimon_buf now = DAIMON_BUF_INIT;
	int same = daimon_read_file(&now, path) == 0 && !strcmp(daimon_buf_cstr(&now), text);
	daimon_buf_release(&now);
	return same ? 0 : daimon_write_file_atomic(path, text, strlen(text), 0644);
}

static int valid_name(const char *name)
{
	if (!daimon_skill_name_ok(name, 63))
		return daimon_error_code(DAIMON_EINVAL, "a skill's name is 1 to 63 of a-z, 0-9 and _ ('%s' is not)",
					 name ? name : "");
	return 0;
}

static char *path_of(const daimon_skillws *ws, const char *a, const char *b)
{
	return b ? daimon_xasprintf("%s/%s/%s", ws->root, a, b) : daimon_xasprintf("%s/%s", ws->root, a);
}

int daimon_skillws_open(daimon_skillws **out, const char *home, const daimon_skill_services *svc)
{
	git_libgit2_init();
	daimon_skillws *ws = daimon_xcalloc(1, sizeof(*ws));
	ws->home = daimon_xstrdup(home);
	if (svc)
		ws->svc = *svc;
	ws->root = daimon_home_path(home, "skills");
	int rc = daimon_mkdir_p(ws->root, 0700);
	if (rc == 0 && git_repository_open(&ws->repo, ws->root) < 0 && git_repository_init(&ws->repo, ws->root, 0) < 0)
		rc = git_fail("cannot make the skills repository");
	char *gi = path_of(ws, ".gitignore", NULL);
	if (rc == 0)
		rc = daimon_write_file_new(gi, ".build/\n.include/\n.kv/\n.live.json\n", 35, 0600) < 0 ? -1 : 0;
	free(gi);
	/* The header and its flags, as this daimon has them. */
	char *inc = path_of(ws, ".include", "daimon");
	if (rc == 0)
		rc = daimon_mkdir_p(inc, 0700);
	free(inc);
	char *h = path_of(ws, ".include/daimon", "skill.h");
	const char *hdr = embedded("skill.h");
	if (rc == 0)
		rc = write_if_changed(h, hdr);
	free(h);
	char *pc = path_of(ws, ".include", "skill.pc");
	char *pct = daimon_xasprintf("prefix=%s/.include\nName: daimon-skill\nDescription: building daimon skills\n"
				     "Version: %d\nCflags: -std=c11 -O2 -g -fPIC -shared -fvisibility=hidden -Wall "
				     "-Wextra -I${prefix}\n",
				     ws->root, DAIMON_SKILL_ABI);
	if (rc == 0)
		rc = write_if_changed(pc, pct);
	free(pc);
	free(pct);
	if (rc < 0) {
		daimon_skillws_close(ws);
		return rc;
	}
	*out = ws;
	return 0;
}

void daimon_skillws_close(daimon_skillws *ws)
{
	if (!ws)
		return;
	git_repository_free(ws->repo);
	free(ws->home);
	free(ws->root);
	free(ws);
}

const char *daimon_skillws_root(const daimon_skillws *ws)
{
	return ws->root;
}

/* ---- new ---- */

/* `text` with every `from` replaced by `to` (never NULL). */
static char *replace_all(const char *text, const char *from, const char *to)
{
	daimon_buf b = DAIMON_BUF_INIT;
	size_t n = strlen(from);
	for (const char *p = text, *at; *p; p = at + n) {
		if (!(at = strstr(p, from))) {
			daimon_buf_adds(&b, p);
			break;
		}
		daimon_buf_add(&b, p, (size_t)(at - p));
		daimon_buf_adds(&b, to);
	}
	return b.ptr ? daimon_buf_detach(&b) : daimon_xstrdup("");
}

int daimon_skill_new(daimon_skillws *ws, const char *name)
{
	if (valid_name(name) < 0)
		return -1;
	char *dir = path_of(ws, name, NULL);
	struct stat st;
	int rc = stat(dir, &st) == 0
			 ? daimon_error_code(DAIMON_EEXISTS, "there is already a skill '%s' (%s)", name, dir)
			 : daimon_mkdir_p(dir, 0700);
	static const char *const files[] = {"skill.c", "skill.json", "tests.json"};
	for (int i = 0; i < 3 && rc == 0; i++) {
		char *p = path_of(ws, name, files[i]);
		char *t = replace_all(embedded(files[i]), "@NAME@", name);
		rc = daimon_write_file_new(p, t, strlen(t), 0600) < 0 ? -1 : 0;
		free(t);
		free(p);
	}
	free(dir);
	return rc;
}

/* ---- writing ---- */

int daimon_skill_write(daimon_skillws *ws, const char *name, const char *source, const char *tests)
{
	char *dir = path_of(ws, name, NULL);
	struct stat st;
	int rc = stat(dir, &st) == 0 ? 0 : daimon_skill_new(ws, name);
	free(dir);
	char *p = path_of(ws, name, "skill.c");
	if (rc == 0 && source)
		rc = daimon_write_file_atomic(p, source, strlen(source), 0600);
	free(p);
	p = path_of(ws, name, "tests.json");
	if (rc == 0 && tests) {
		cJSON *t = cJSON_Parse(tests);
		rc = cJSON_IsArray(t) ? daimon_write_file_atomic(p, tests, strlen(tests), 0600)
				      : daimon_error_code(DAIMON_EINVAL, "the tests must be a JSON list");
		cJSON_Delete(t);
	}
	free(p);
	return rc;
}

int daimon_skill_read(daimon_skillws *ws, const char *name, char **source, char **tests)
{
	if (valid_name(name) < 0)
		return -1;
	daimon_buf a = DAIMON_BUF_INIT, b = DAIMON_BUF_INIT;
	char *p = path_of(ws, name, "skill.c"), *q = path_of(ws, name, "tests.json");
	int rc = daimon_read_file(&a, p);
	if (rc == 0)
		daimon_read_file(&b, q);
	free(p);
	free(q);
	*source = rc == 0 ? daimon_xstrdup(daimon_buf_cstr(&a)) : NULL;
	*tests = rc == 0 ? daimon_xstrdup(daimon_buf_cstr(&b)) : NULL;
	daimon_buf_release(&a);
	daimon_buf_release(&b);
	return rc == DAIMON_ENOTFOUND ? daimon_error_code(rc, "there is no skill '%s'", name) : rc;
}

/* ---- build ---- */

void daimon_skill_built_release(daimon_skill_built *b)
{
	free(b->so);
	memset(b, 0, sizeof(*b));
}

/* The Cflags of .include/skill.pc, ${prefix} filled in. */
static char *pc_cflags(daimon_skillws *ws)
{
	char *pc = path_of(ws, ".include", "skill.pc");
	daimon_buf t = DAIMON_BUF_INIT;
	daimon_read_file(&t, pc);
	free(pc);
	const char *c = strstr(daimon_buf_cstr(&t), "Cflags:");
	char *line = c ? daimon_xstrndup(c + 7, strcspn(c + 7, "\n")) : daimon_xstrdup("");
	daimon_buf_release(&t);
	char *prefix = daimon_xasprintf("%s/.include", ws->root);
	char *out = replace_all(line, "${prefix}", prefix);
	free(line);
	free(prefix);
	return out;
}

static cJSON *read_json(daimon_skillws *ws, const char *name, const char *file)
{
	char *p = path_of(ws, name, file);
	daimon_buf t = DAIMON_BUF_INIT;
	cJSON *j = NULL;
	if (daimon_read_file(&t, p) == 0 && !(j = cJSON_Parse(daimon_buf_cstr(&t))))
		daimon_error("%s is not valid JSON", p);
	else if (!j)
		daimon_error("cannot read %s", p);
	daimon_buf_release(&t);
	free(p);
	return j;
}

/* tests.json against the built object, in a child process. */
static int run_tests(daimon_skillws *ws, const char *name, const char *so, daimon_skill_built *out, daimon_buf *report)
{
	cJSON *tests = read_json(ws, name, "tests.json");
	if (!tests)
		return -1;
	if (!cJSON_IsArray(tests)) {
		cJSON_Delete(tests);
		return daimon_error("%s/tests.json must be a list of tests", name);
	}
	cJSON *results;
	daimon_buf why = DAIMON_BUF_INIT;
	int rc = daimon_skill_run_isolated(so, ws->home, &ws->svc, tests, 10000, 0, &results, &why);
	daimon_buf_release(&why);
	if (rc < 0) {
		cJSON_Delete(tests);
		return daimon_error("%s does not load: %s", name, daimon_error_last());
	}
	int i = 0;
	for (const cJSON *t = tests->child; t; t = t->next, i++) {
		const cJSON *r = cJSON_GetArrayItem(results, i);
		const char *tool = daimon_json_str(t, "tool"), *text = daimon_json_str(r, "text");
		const char *expect = daimon_json_str(t, "expect"), *contains = daimon_json_str(t, "contains");
		int status = r ? cJSON_GetObjectItemCaseSensitive(r, "status")->valueint : -3;
		int want_error = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "error"));
		const char *bad = !r                                    ? "not run (an earlier test ended the skill)"
				  : status == -2                        ? text
				  : want_error && status == 0           ? "succeeded, but an error was expected"
				  : !want_error && status < 0           ? "failed"
				  : expect && strcmp(text, expect)      ? "answered something else"
				  : contains && !strstr(text, contains) ? "answer lacks the expected text"
									: NULL;
		out->tests++;
		out->failed += bad != NULL;
		daimon_buf_addf(report, "%s test %d %s%s%s%s%s\n", bad ? "FAIL" : "ok  ", i + 1, tool ? tool : "?",
				bad ? ": " : "", bad ? bad : "", bad && text && status != -2 ? " — got: " : "",
				bad && text && status != -2 ? text : "");
	}
	cJSON_Delete(results);
	cJSON_Delete(tests);
	return out->failed ? daimon_error("%d of %d tests of %s failed; nothing changed", out->failed, out->tests, name)
			   : 0;
}

/* Adds NAME's folder to the index and commits it if anything changed;
 * `id` gets the commit (HEAD when nothing did). */
static int commit(daimon_skillws *ws, const char *name, const char *message, char id[41])
{
	git_index *ix = NULL;
	git_oid tree_id, commit_id;
	git_tree *tree = NULL;
	git_signature *sig = NULL;
	git_reference *head = NULL;
	git_commit *parent = NULL;
	char *spec = daimon_xasprintf("%s/*", name);
	char *specs[] = {spec};
	git_strarray paths = {specs, 1};
	int rc = 0;
	if (git_repository_index(&ix, ws->repo) < 0 || git_index_add_all(ix, &paths, 0, NULL, NULL) < 0 ||
	    git_index_update_all(ix, &paths, NULL, NULL) < 0 || git_index_write(ix) < 0 ||
	    git_index_write_tree(&tree_id, ix) < 0 || git_tree_lookup(&tree, ws->repo, &tree_id) < 0)
		rc = git_fail("cannot stage the skill");
	if (rc == 0 && git_repository_head(&head, ws->repo) == 0 &&
	    git_commit_lookup(&parent, ws->repo, git_reference_target(head)) < 0)
		rc = git_fail("cannot read the last commit");
	if (rc == 0 && parent && git_oid_equal(git_commit_tree_id(parent), &tree_id)) {
		git_oid_tostr(id, 41, git_commit_id(parent)); /* nothing changed */
	} else if (rc == 0) {
		const git_commit *parents[] = {parent};
		if (git_signature_now(&sig, "daimon", "daimon@localhost") < 0 ||
		    git_commit_create(&commit_id, ws->repo, "HEAD", sig, sig, NULL, message, tree, parent ? 1 : 0,
				      parents) < 0)
			rc = git_fail("cannot commit the skill");
		else
			git_oid_tostr(id, 41, &commit_id);
	}
	git_commit_free(parent);
	git_reference_free(head);
	git_signature_free(sig);
	git_tree_free(tree);
	git_index_free(ix);
	free(spec);
	return rc;
}

static cJSON *live_read(daimon_skillws *ws)
{
	char *p = path_of(ws, ".live.json", NULL);
	daimon_buf t = DAIMON_BUF_INIT;
	cJSON *j = daimon_read_file(&t, p) == 0 ? cJSON_Parse(daimon_buf_cstr(&t)) : NULL;
	daimon_buf_release(&t);
	free(p);
	return cJSON_IsObject(j) ? j : (cJSON_Delete(j), cJSON_CreateObject());
}

static int live_write(daimon_skillws *ws, cJSON *live)
{
	char *p = path_of(ws, ".live.json", NULL);
	char *s = cJSON_Print(live);
	int rc = daimon_write_file_atomic(p, s, strlen(s), 0600);
	cJSON_free(s);
	free(p);
	return rc;
}

int daimon_skill_build(daimon_skillws *ws, const char *name, const char *message, int flags, daimon_skill_built *out,
		       daimon_buf *report)
{
	int do_commit = flags & DAIMON_SKILL_COMMIT;
	memset(out, 0, sizeof(*out));
	if (valid_name(name) < 0)
		return -1;
	char *src = path_of(ws, name, "skill.c");
	if (access(src, R_OK) < 0) {
		int rc = daimon_error_code(DAIMON_ENOTFOUND, "there is no skill '%s' (no %s; `daimon skill new %s`?)",
					   name, src, name);
		free(src);
		return rc;
	}
	cJSON *manifest = read_json(ws, name, "skill.json");
	char *dir = daimon_xasprintf("%s/.build/%s", ws->root, name);
	daimon_mkdir_p(dir, 0700);
	char *tmp = daimon_xasprintf("%s/building-%d.so", dir, (int)getpid());
	char *cflags = pc_cflags(ws);
	const char *cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
	const char *extra = daimon_json_str(manifest, "cflags"), *libs = daimon_json_str(manifest, "libs");
	char *errs = daimon_xasprintf("%s/building-%d.errors", dir, (int)getpid());
	char *cmd = daimon_xasprintf("%s %s %s '%s' -o '%s' %s%s%s%s", cc, cflags, extra ? extra : "", src, tmp,
				     libs ? libs : "", flags & DAIMON_SKILL_CAPTURE ? " 2>'" : "",
				     flags & DAIMON_SKILL_CAPTURE ? errs : "", flags & DAIMON_SKILL_CAPTURE ? "'" : "");
	uint64_t t0 = daimon_mono_ns();
	fflush(NULL);
	int st = system(cmd);
	out->build_ms = (double)(daimon_mono_ns() - t0) / 1e6;
	if (flags & DAIMON_SKILL_CAPTURE)
		daimon_read_file(report, errs);
	int rc = 0;
	if (st != 0)
		rc = daimon_error("%s did not compile (the compiler's messages are %s); nothing changed", name,
				  flags & DAIMON_SKILL_CAPTURE ? "with it" : "above");
	if (rc == 0) {
		t0 = daimon_mono_ns();
		rc = run_tests(ws, name, tmp, out, report);
		out->test_ms = (double)(daimon_mono_ns() - t0) / 1e6;
	}
	if (rc == 0 && do_commit) {
		char *msg = message ? daimon_xstrdup(message) : daimon_xasprintf("build %s", name);
		rc = commit(ws, name, msg, out->commit);
		free(msg);
	}
	if (rc == 0) {
		out->so = do_commit ? daimon_xasprintf("%s/%s.so", dir, out->commit) : daimon_xstrdup(tmp);
		if (do_commit && rename(tmp, out->so) < 0)
			rc = daimon_error_errno("cannot keep the built object");
	}
	if (rc == 0 && do_commit) {
		cJSON *live = live_read(ws);
		cJSON_DeleteItemFromObjectCaseSensitive(live, name);
		cJSON *e = cJSON_AddObjectToObject(live, name);
		cJSON_AddStringToObject(e, "commit", out->commit);
		cJSON_AddStringToObject(e, "so", out->so);
		char ts[DAIMON_TS_LEN];
		daimon_ts_format(ts, daimon_now_ms());
		cJSON_AddStringToObject(e, "built", ts);
		cJSON *d = daimon_skill_describe_isolated(out->so, ws->home);
		if (d)
			cJSON_AddItemToObject(e, "describe", d);
		rc = live_write(ws, live);
		cJSON_Delete(live);
	}
	if (rc < 0 || do_commit)
		unlink(tmp);
	free(cmd);
	free(cflags);
	free(tmp);
	unlink(errs);
	free(errs);
	free(dir);
	free(src);
	cJSON_Delete(manifest);
	return rc;
}

char *daimon_skill_live_so(const char *home, const char *name)
{
	daimon_skillws ws = {.root = daimon_home_path(home, "skills")};
	cJSON *live = live_read(&ws);
	const char *so = daimon_json_str(cJSON_GetObjectItemCaseSensitive(live, name), "so");
	char *out = so ? daimon_xstrdup(so) : NULL;
	cJSON_Delete(live);
	free(ws.root);
	return out;
}

int daimon_skill_live(daimon_skillws *ws, const char *name, char **so, char commit_id[41])
{
	cJSON *live = live_read(ws);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(live, name);
	int rc = e ? 0 : daimon_error_code(DAIMON_ENOTFOUND, "skill '%s' has not been built", name);
	if (e) {
		if (so)
			*so = daimon_xstrdup(daimon_json_str(e, "so"));
		if (commit_id)
			snprintf(commit_id, 41, "%s", daimon_json_str(e, "commit"));
	}
	cJSON_Delete(live);
	return rc;
}

int daimon_skill_list(daimon_skillws *ws, cJSON **out)
{
	cJSON *live = live_read(ws);
	*out = cJSON_CreateArray();
	for (const cJSON *e = live->child; e; e = e->next) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", e->string);
		cJSON_AddStringToObject(o, "commit", daimon_json_str(e, "commit"));
		cJSON_AddStringToObject(o, "built", daimon_json_str(e, "built"));
		cJSON *m = read_json(ws, e->string, "skill.json");
		const char *iso = daimon_json_str(m, "isolation");
		cJSON_AddStringToObject(o, "isolation", iso ? iso : "host");
		cJSON_AddStringToObject(o, "so", daimon_json_str(e, "so"));
		int64_t timeout_s = 30, memory_mb = 512;
		daimon_json_int(m, "timeout_s", &timeout_s);
		daimon_json_int(m, "memory_mb", &memory_mb);
		cJSON_AddNumberToObject(o, "timeout_s", (double)timeout_s);
		cJSON_AddNumberToObject(o, "memory_mb", (double)memory_mb);
		cJSON_Delete(m);
		/* what it is was read (in a child) when it was built */
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "describe");
		cJSON *fresh = d ? NULL : daimon_skill_describe_isolated(daimon_json_str(e, "so"), ws->home);
		for (const cJSON *f = (d ? d : fresh) ? (d ? d : fresh)->child : NULL; f; f = f->next)
			if (strcmp(f->string, "name"))
				cJSON_AddItemToObject(o, f->string, cJSON_Duplicate(f, 1));
		cJSON_Delete(fresh);
		cJSON_AddItemToArray(*out, o);
	}
	cJSON_Delete(live);
	daimon_error_clear();
	return 0;
}

/* ---- history ---- */

static int entry_id(git_commit *c, const char *name, git_oid *id)
{
	git_tree *tree = NULL;
	git_tree_entry *e = NULL;
	int found = git_commit_tree(&tree, c) == 0 && git_tree_entry_bypath(&e, tree, name) == 0;
	if (found)
		git_oid_cpy(id, git_tree_entry_id(e));
	git_tree_entry_free(e);
	git_tree_free(tree);
	return found;
}

int daimon_skill_log(daimon_skillws *ws, const char *name, cJSON **out)
{
	*out = cJSON_CreateArray();
	git_revwalk *walk = NULL;
	if (git_revwalk_new(&walk, ws->repo) < 0 || git_revwalk_push_head(walk) < 0) {
		git_revwalk_free(walk);
		return 0; /* no commits yet */
	}
	git_revwalk_sorting(walk, GIT_SORT_TIME);
	git_oid oid;
	while (git_revwalk_next(&oid, walk) == 0) {
		git_commit *c = NULL, *p = NULL;
		if (git_commit_lookup(&c, ws->repo, &oid) < 0)
			continue;
		git_oid here, before;
		int has = entry_id(c, name, &here);
		int had = git_commit_parentcount(c) && git_commit_parent(&p, c, 0) == 0 && entry_id(p, name, &before);
		if (has != had || (has && !git_oid_equal(&here, &before))) {
			char id[41], ts[DAIMON_TS_LEN];
			git_oid_tostr(id, sizeof(id), &oid);
			daimon_ts_format(ts, (int64_t)git_commit_time(c) * 1000);
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "commit", id);
			cJSON_AddStringToObject(o, "time", ts);
			cJSON_AddStringToObject(o, "message", git_commit_summary(c));
			cJSON_AddBoolToObject(o, "removed", !has);
			cJSON_AddItemToArray(*out, o);
		}
		git_commit_free(p);
		git_commit_free(c);
	}
	git_revwalk_free(walk);
	return 0;
}

static int tree_of(daimon_skillws *ws, const char *rev, git_tree **tree)
{
	git_object *o = NULL;
	int rc = git_revparse_single(&o, ws->repo, rev) < 0 ||
				 git_object_peel((git_object **)tree, o, GIT_OBJECT_TREE) < 0
			 ? daimon_error_code(DAIMON_ENOTFOUND, "no revision '%s' in the skills repository", rev)
			 : 0;
	git_object_free(o);
	return rc;
}

static int print_line(const git_diff_delta *d, const git_diff_hunk *h, const git_diff_line *l, void *payload)
{
	(void)d, (void)h;
	daimon_buf *out = payload;
	if (l->origin == GIT_DIFF_LINE_CONTEXT || l->origin == GIT_DIFF_LINE_ADDITION ||
	    l->origin == GIT_DIFF_LINE_DELETION)
		daimon_buf_addc(out, l->origin);
	daimon_buf_add(out, l->content, l->content_len);
	return 0;
}

int daimon_skill_diff(daimon_skillws *ws, const char *name, const char *from, const char *to, daimon_buf *out)
{
	git_tree *a = NULL, *b = NULL;
	git_diff *diff = NULL;
	char *spec = daimon_xasprintf("%s/*", name);
	char *specs[] = {spec};
	git_diff_options o;
	git_diff_options_init(&o, GIT_DIFF_OPTIONS_VERSION);
	o.pathspec.strings = specs;
	o.pathspec.count = 1;
	o.flags = GIT_DIFF_INCLUDE_UNTRACKED | GIT_DIFF_SHOW_UNTRACKED_CONTENT | GIT_DIFF_RECURSE_UNTRACKED_DIRS;
	int rc = tree_of(ws, from ? from : "HEAD", &a);
	if (rc == 0 && to)
		rc = tree_of(ws, to, &b);
	if (rc == 0 && (to ? git_diff_tree_to_tree(&diff, ws->repo, a, b, &o)
			   : git_diff_tree_to_workdir_with_index(&diff, ws->repo, a, &o)) < 0)
		rc = git_fail("cannot compare the versions");
	if (rc == 0)
		git_diff_print(diff, GIT_DIFF_FORMAT_PATCH, print_line, out);
	git_diff_free(diff);
	git_tree_free(a);
	git_tree_free(b);
	free(spec);
	return rc;
}

int daimon_skill_checkout(daimon_skillws *ws, const char *name, const char *rev)
{
	git_tree *t = NULL;
	int rc = tree_of(ws, rev, &t);
	git_tree_entry *e = NULL;
	if (rc == 0 && git_tree_entry_bypath(&e, t, name) < 0)
		rc = daimon_error_code(DAIMON_ENOTFOUND, "skill '%s' did not exist at %s", name, rev);
	git_tree_entry_free(e);
	char *spec = daimon_xasprintf("%s/*", name);
	char *specs[] = {spec};
	git_checkout_options o;
	git_checkout_options_init(&o, GIT_CHECKOUT_OPTIONS_VERSION);
	o.checkout_strategy = GIT_CHECKOUT_FORCE;
	o.paths.strings = specs;
	o.paths.count = 1;
	if (rc == 0 && git_checkout_tree(ws->repo, (git_object *)t, &o) < 0)
		rc = git_fail("cannot bring the version back");
	free(spec);
	git_tree_free(t);
	return rc;
}

static int remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : daimon_error_errno("cannot open '%s'", dir);
	int rc = 0;
	for (struct dirent *e; rc == 0 && (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *p = daimon_xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rc = remove_dir(p);
		else if (unlink(p) < 0)
			rc = daimon_error_errno("cannot remove '%s'", p);
		free(p);
	}
	closedir(d);
	if (rc == 0 && rmdir(dir) < 0)
		rc = daimon_error_errno("cannot remove '%s'", dir);
	return rc;
}

int daimon_skill_remove(daimon_skillws *ws, const char *name)
{
	if (valid_name(name) < 0)
		return -1;
	char *dir = path_of(ws, name, NULL);
	struct stat st;
	int rc = stat(dir, &st) < 0 ? daimon_error_code(DAIMON_ENOTFOUND, "there is no skill '%s'", name)
				    : remove_dir(dir);
	free(dir);
	char id[41];
	if (rc == 0) {
		char *msg = daimon_xasprintf("remove %s", name);
		rc = commit(ws, name, msg, id);
		free(msg);
	}
	if (rc == 0) {
		cJSON *live = live_read(ws);
		cJSON_DeleteItemFromObjectCaseSensitive(live, name);
		rc = live_write(ws, live);
		cJSON_Delete(live);
	}
	return rc;
}
