/*
 * test_skills.c — native skills in-process: the public header compiles
 * as C and as C++ with strict warnings; a skill built with the system
 * compiler loads and answers; a new version swaps in with the old one's
 * saved state; a version whose init fails, one built for a newer ABI and
 * a file that is no skill are refused and the current version stays; and
 * 200 swaps while two threads call without pause lose no call and leave
 * no more than the bounded number of versions alive.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/port.h"
#include "core/timefmt.h"
#include "core/work.h"
#include "skills/host.h"
#include "skills/instructions.h"
#include "skills/mcp.h"
#include "skills/skills.h"
#include "skills/workspace.h"
#include "tests/test.h"

static const char counter_src[] =
	"#include <daimon/skill.h>\n"
	"#include <stdatomic.h>\n"
	"#include <string.h>\n"
	"static _Atomic long total;\n"
	"static int add(daimon_skill_ctx *ctx, const char *args)\n"
	"{\n"
	"	const daimon_skill_host *h = daimon_skill_host_of(ctx);\n"
	"	long n = (long)h->json_num(args, \"n\", 1);\n"
	"	long t = atomic_fetch_add(&total, n) + n;\n"
	"	h->replyf(ctx, \"%s total=%ld\", VERSION, t);\n"
	"	return 0;\n"
	"}\n"
	"static int fail(daimon_skill_ctx *ctx, const char *args)\n"
	"{\n"
	"	(void)args;\n"
	"	daimon_skill_host_of(ctx)->replyf(ctx, \"no luck\");\n"
	"	return -1;\n"
	"}\n"
	"static int init(daimon_skill_ctx *ctx, const void *state, size_t len)\n"
	"{\n"
	"	(void)ctx;\n"
	"	if (FAIL_INIT) return -1;\n"
	"	if (state && len == sizeof(long)) { long t; memcpy(&t, state, sizeof(t)); atomic_store(&total, t); }\n"
	"	return 0;\n"
	"}\n"
	"static int save(daimon_skill_ctx *ctx)\n"
	"{\n"
	"	long t = atomic_load(&total);\n"
	"	return daimon_skill_host_of(ctx)->save(ctx, &t, sizeof(t));\n"
	"}\n"
	"static const daimon_skill_tool tools[] = {\n"
	"	{\"add\", \"Adds n.\", "
	"\"{\\\"type\\\":\\\"object\\\",\\\"properties\\\":{\\\"n\\\":{\\\"type\\\":\\\"integer\\\"}}}\", "
	"0, add},\n"
	"	{\"fail\", \"Fails.\", \"{\\\"type\\\":\\\"object\\\"}\", 0, fail},\n"
	"};\n"
	"DAIMON_SKILL(.name = \"counter\", .version = VERSION, .description = \"Counts.\", .tools = tools, .ntools = "
	"2,\n"
	"	     .init = init, .save_state = save);\n";

static const char future_src[] = "#include <daimon/skill.h>\n"
				 "static const daimon_skill d = {DAIMON_SKILL_ABI + 1, sizeof(daimon_skill), "
				 "\"counter\", \"9\", \"\", 0, 0, 0, 0, 0, 0};\n"
				 "DAIMON_SKILL_EXPORT const daimon_skill *daimon_skill_entry(void);\n"
				 "const daimon_skill *daimon_skill_entry(void) { return &d; }\n";

/* Compiles `src` with `defines` against the header in `include` into
 * dir/name.so; 0 or -1. */
static int build_against(const char *dir, const char *name, const char *src, const char *lang, const char *defines,
			 const char *include)
{
	char *c = daimon_xasprintf("%s/%s.%s", dir, name, lang);
	test_write(c, src);
	char *cmd = daimon_xasprintf("%s -std=%s -O1 -fPIC -shared -fvisibility=hidden -Wall -Wextra -Wpedantic "
				     "-Werror -I%s %s %s -o %s/%s.so 2>&1",
				     !strcmp(lang, "c") ? "cc" : "c++", !strcmp(lang, "c") ? "c11" : "c++11", include,
				     defines, c, dir, name);
	int rc = system(cmd);
	free(cmd);
	free(c);
	return rc == 0 ? 0 : -1;
}

static int build(const char *dir, const char *name, const char *src, const char *lang, const char *defines)
{
	return build_against(dir, name, src, lang, defines, DAIMON_INCLUDE_DIR);
}

static char *so(const char *dir, const char *name)
{
	return daimon_xasprintf("%s/%s.so", dir, name);
}

static void test_skills__the_header_compiles_as_c_and_cpp_with_strict_warnings(void)
{
	const char *dir = test_tmpdir();
	CHECK_INT(build(dir, "c", counter_src, "c", "-DVERSION='\"v1\"' -DFAIL_INIT=0 -Wmissing-prototypes"), 0);
	static const char cpp[] =
		"#include <daimon/skill.h>\n"
		"static int run(daimon_skill_ctx *ctx, const char *) {\n"
		"  return daimon_skill_host_of(ctx)->replyf(ctx, \"%d\", 1); }\n"
		"static const daimon_skill_tool tools[] = {{\"t\", \"T.\", \"{}\", 0, run}};\n"
		"static const daimon_skill d = {DAIMON_SKILL_ABI, sizeof(daimon_skill), \"cpp\", \"1\", \"\",\n"
		"  tools, 1, nullptr, nullptr, nullptr, sizeof(daimon_skill_tool)};\n"
		"extern \"C\" DAIMON_SKILL_EXPORT const daimon_skill *daimon_skill_entry(void) { return &d; }\n";
	CHECK_INT(build(dir, "cpp", cpp, "cc", ""), 0);
	daimon_skills *sk = daimon_skills_new(NULL, NULL);
	char *path = so(dir, "cpp");
	char name[64];
	CHECK_INT(daimon_skills_load(sk, path, name), 0);
	CHECK_STR(name, "cpp");
	daimon_buf out = DAIMON_BUF_INIT;
	CHECK_INT(daimon_skills_call(sk, "cpp", "t", "{}", &out, NULL), 0);
	CHECK_STR(out.ptr, "1");
	daimon_buf_release(&out);
	free(path);
	daimon_skills_free(sk);
}

/* A skill whose tools are larger than this daimon's (a later ABI's tool,
 * with a member this one does not know) is read by its tools' size. */
static const char wide_src[] =
	"#include <daimon/skill.h>\n"
	"static int t(daimon_skill_ctx *c, const char *a) { (void)a; return daimon_skill_host_of(c)->replyf(c, \"t\"); "
	"}\n"
	"static int u(daimon_skill_ctx *c, const char *a) { (void)a; return daimon_skill_host_of(c)->replyf(c, \"u\"); "
	"}\n"
	"struct later_tool { daimon_skill_tool tool; const char *later; };\n"
	"static const struct later_tool tools[] = {{{\"t\", \"T.\", \"{}\", 0, t}, \"x\"},\n"
	"					  {{\"u\", \"U.\", \"{}\", 0, u}, \"y\"}};\n"
	"static const daimon_skill d = {DAIMON_SKILL_ABI, sizeof(daimon_skill), \"wide\", \"1\", \"\",\n"
	"	&tools[0].tool, 2, 0, 0, 0, sizeof(struct later_tool)};\n"
	"DAIMON_SKILL_EXPORT const daimon_skill *daimon_skill_entry(void);\n"
	"const daimon_skill *daimon_skill_entry(void) { return &d; }\n";

/* A skill built against the first ABI (its header is kept in
 * tests/fixtures/skill-abi1) loads and runs as it did; so does one
 * whose tools are larger than this daimon's. */
static void test_skills__skills_of_abi_1_and_with_larger_tools_still_load(void)
{
	const char *dir = test_tmpdir();
	CHECK_INT(build_against(dir, "old", counter_src, "c", "-DVERSION='\"v1\"' -DFAIL_INIT=0",
				DAIMON_ABI1_INCLUDE_DIR),
		  0);
	CHECK_INT(build(dir, "wide", wide_src, "c", ""), 0);
	daimon_skills *sk = daimon_skills_new(NULL, NULL);
	char *old = so(dir, "old"), *wide = so(dir, "wide");
	daimon_buf out = DAIMON_BUF_INIT;
	CHECK_INT(daimon_skills_load(sk, old, NULL), 0);
	CHECK_INT(daimon_skills_call(sk, "counter", "add", "{\"n\":5}", &out, NULL), 0);
	CHECK_STR(out.ptr, "v1 total=5");
	daimon_buf_clear(&out);
	CHECK(daimon_skills_call(sk, "counter", "fail", "{}", &out, NULL) < 0); /* its second tool */
	CHECK_INT(daimon_skills_load(sk, wide, NULL), 0);
	daimon_buf_clear(&out);
	CHECK_INT(daimon_skills_call(sk, "wide", "u", "{}", &out, NULL), 0);
	CHECK_STR(out.ptr, "u");
	char *desc = daimon_skills_describe(sk);
	CHECK_CONTAINS(desc, "{\"name\":\"u\",\"description\":\"U.\"");
	free(desc);
	daimon_buf_release(&out);
	free(old), free(wide);
	daimon_skills_free(sk);
}

static void test_skills__a_new_version_swaps_in_with_the_old_ones_state(void)
{
	const char *dir = test_tmpdir();
	CHECK_INT(build(dir, "v1", counter_src, "c", "-DVERSION='\"v1\"' -DFAIL_INIT=0"), 0);
	CHECK_INT(build(dir, "v2", counter_src, "c", "-DVERSION='\"v2\"' -DFAIL_INIT=0"), 0);
	CHECK_INT(build(dir, "bad", counter_src, "c", "-DVERSION='\"v3\"' -DFAIL_INIT=1"), 0);
	CHECK_INT(build(dir, "future", future_src, "c", ""), 0);
	daimon_skills *sk = daimon_skills_new(NULL, NULL);
	char *v1 = so(dir, "v1"), *v2 = so(dir, "v2"), *bad = so(dir, "bad"), *future = so(dir, "future");
	daimon_buf out = DAIMON_BUF_INIT;
	CHECK_INT(daimon_skills_load(sk, v1, NULL), 0);
	CHECK_INT(daimon_skills_call(sk, "counter", "add", "{\"n\":5}", &out, NULL), 0);
	CHECK_STR(out.ptr, "v1 total=5");
	CHECK_INT(daimon_skills_load(sk, v2, NULL), 0);
	daimon_buf_clear(&out);
	CHECK_INT(daimon_skills_call(sk, "counter", "add", "{\"n\":2}", &out, NULL), 0);
	CHECK_STR(out.ptr, "v2 total=7"); /* the state came along */
	CHECK_INT(daimon_skills_live_versions(sk, "counter"), 1);
	/* Refused versions leave v2 in place. */
	CHECK(daimon_skills_load(sk, bad, NULL) < 0);
	CHECK_CONTAINS(daimon_error_last(), "refused to start (its init failed); the version before stays");
	CHECK(daimon_skills_load(sk, future, NULL) < 0);
	CHECK_CONTAINS(daimon_error_last(), "was built for skill ABI 3; this daimon knows up to 2");
	CHECK(daimon_skills_load(sk, "/etc/hostname", NULL) < 0);
	CHECK_CONTAINS(daimon_error_last(), "cannot load '/etc/hostname'");
	daimon_buf_clear(&out);
	CHECK_INT(daimon_skills_call(sk, "counter", "add", "{}", &out, NULL), 0);
	CHECK_STR(out.ptr, "v2 total=8");
	/* A failing tool and unknown names are that call's failure. */
	daimon_buf_clear(&out);
	CHECK(daimon_skills_call(sk, "counter", "fail", "{}", &out, NULL) < 0);
	CHECK_STR(out.ptr, "no luck");
	daimon_buf_clear(&out);
	CHECK(daimon_skills_call(sk, "counter", "nope", "{}", &out, NULL) < 0);
	CHECK_STR(out.ptr, "skill counter has no tool 'nope'");
	daimon_buf_clear(&out);
	CHECK(daimon_skills_call(sk, "ghost", "x", "{}", &out, NULL) < 0);
	CHECK_STR(out.ptr, "no skill 'ghost' is loaded");
	char *desc = daimon_skills_describe(sk);
	CHECK_CONTAINS(desc, "\"name\":\"counter\",\"version\":\"v2\"");
	CHECK_CONTAINS(desc, "\"name\":\"add\",\"description\":\"Adds n.\"");
	free(desc);
	daimon_buf_release(&out);
	free(v1), free(v2), free(bad), free(future);
	daimon_skills_free(sk);
}

struct caller {
	daimon_skills *sk;
	_Atomic int *stop;
	long calls, failed;
};

static void *call_loop(void *arg)
{
	struct caller *c = arg;
	daimon_buf out = DAIMON_BUF_INIT;
	while (!atomic_load(c->stop)) {
		daimon_buf_clear(&out);
		if (daimon_skills_call(c->sk, "counter", "add", "{\"n\":1}", &out, NULL) < 0 ||
		    strncmp(daimon_buf_cstr(&out), "v", 1))
			c->failed++;
		c->calls++;
	}
	daimon_buf_release(&out);
	return NULL;
}

static void test_skills__swaps_under_load_lose_no_call(void)
{
	const char *dir = test_tmpdir();
	CHECK_INT(build(dir, "v1", counter_src, "c", "-DVERSION='\"v1\"' -DFAIL_INIT=0"), 0);
	CHECK_INT(build(dir, "v2", counter_src, "c", "-DVERSION='\"v2\"' -DFAIL_INIT=0"), 0);
	daimon_skills *sk = daimon_skills_new(NULL, NULL);
	char *v[2] = {so(dir, "v1"), so(dir, "v2")};
	CHECK_INT(daimon_skills_load(sk, v[0], NULL), 0);
	_Atomic int stop = 0;
	struct caller c[2] = {{sk, &stop, 0, 0}, {sk, &stop, 0, 0}};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, call_loop, &c[i]);
	int swaps = 0, refused = 0;
	for (int i = 0; i < 200; i++) {
		if (daimon_skills_load(sk, v[i % 2], NULL) == 0)
			swaps++;
		else
			refused++; /* every slot held: allowed, and said */
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_INT(c[0].failed + c[1].failed, 0);
	CHECK(c[0].calls > 0 && c[1].calls > 0);
	CHECK(swaps >= 150);
	CHECK_INT(daimon_skills_live_versions(sk, "counter"), 1); /* the old ones closed */
	/* The count was handed from version to version (what calls added on an
	 * old version after it saved its state stays with it: skill.h says so). */
	daimon_buf out = DAIMON_BUF_INIT;
	daimon_skills_call(sk, "counter", "add", "{\"n\":0}", &out, NULL);
	long total = atol(strstr(out.ptr, "total=") + 6);
	CHECK(total > (c[0].calls + c[1].calls) / 2 && total <= c[0].calls + c[1].calls);
	daimon_buf_release(&out);
	free(v[0]), free(v[1]);
	daimon_skills_free(sk);
}

static const char wild_src[] =
	"#include <daimon/skill.h>\n"
	"#include <signal.h>\n"
	"#include <stdlib.h>\n"
	"#include <string.h>\n"
	"static int ok(daimon_skill_ctx *c, const char *a) { (void)a; return daimon_skill_host_of(c)->replyf(c, "
	"\"fine\"); }\n"
	"static int segv(daimon_skill_ctx *c, const char *a) { (void)c; (void)a; raise(SIGSEGV); return 0; }\n"
	"static int boom(daimon_skill_ctx *c, const char *a) { (void)c; (void)a; abort(); }\n"
	"static int spin(daimon_skill_ctx *c, const char *a) { (void)c; (void)a; for (volatile int i = 0; i >= 0; i = "
	"0) { } return 0; }\n"
	"static int hog(daimon_skill_ctx *c, const char *a)\n"
	"{ (void)a; for (;;) { char *p = malloc(1 << 24); if (!p) abort(); memset(p, 1, 1 << 24); }\n"
	"  return daimon_skill_host_of(c)->replyf(c, \"never\"); }\n"
	"static int steps(daimon_skill_ctx *c, const char *a)\n"
	"{ const daimon_skill_host *h = daimon_skill_host_of(c); (void)a;\n"
	"  for (int i = 1; i <= 3; i++) h->progress(c, i, 3, \"step\");\n"
	"  return h->replyf(c, \"stepped\"); }\n"
	"static int key(daimon_skill_ctx *c, const char *a)\n"
	"{ const daimon_skill_host *h = daimon_skill_host_of(c); (void)a; return h->replyf(c, \"key=%s\", "
	"h->idempotency_key(c)); }\n"
	"#define T(n) {#n, #n, \"{}\", 0, n}\n"
	"static const daimon_skill_tool tools[] = {T(ok), T(segv), T(boom), T(spin), T(hog), T(steps), T(key)};\n"
	"DAIMON_SKILL(.name = \"wild\", .version = \"1\", .description = \"Misbehaves.\", .tools = tools, .ntools = "
	"7);\n";

/* One call in a child process: its status and text. */
static int isolated(const char *so_path, const char *tool, long timeout_ms, char text[256])
{
	cJSON *calls = cJSON_CreateArray(), *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "tool", tool);
	cJSON_AddItemToArray(calls, c);
	c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "tool", "ok"); /* after it: not run if it took the process down */
	cJSON_AddItemToArray(calls, c);
	cJSON *results = NULL;
	daimon_buf why = DAIMON_BUF_INIT;
	int rc = daimon_skill_run_isolated(so_path, NULL, NULL, calls, timeout_ms, 256u << 20, &results, &why);
	int status = rc < 0 ? -9 : cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(results, 0), "status")->valueint;
	snprintf(
		text, 256, "%s|%d",
		rc < 0 ? why.ptr
		       : cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(results, 0), "text")),
		cJSON_GetArraySize(results));
	daimon_buf_release(&why);
	cJSON_Delete(results);
	cJSON_Delete(calls);
	return status;
}

static void test_skills__a_crash_a_hang_or_a_memory_hog_costs_one_call(void)
{
	const char *dir = test_tmpdir();
	CHECK_INT(build(dir, "wild", wild_src, "c", ""), 0);
	char *path = so(dir, "wild"), text[256];
	CHECK_INT(isolated(path, "ok", 1000, text), 0);
	CHECK_STR(text, "fine|2");
	/* (under a sanitizer, its own handler ends the process instead of the signal) */
	static const char *const crashes[] = {"segv", "boom", "hog"};
	for (int i = 0; i < 3; i++) {
		CHECK_INT(isolated(path, crashes[i], 60000, text), -2);
		CHECK(strstr(text, "the skill crashed: signal") || strstr(text, "the skill's process ended"));
		CHECK_CONTAINS(text, "|1"); /* the call after it was not run */
	}
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__) && !defined(__has_feature)
	CHECK_INT(isolated(path, "segv", 1000, text), -2);
	CHECK_STR(text, "the skill crashed: signal 11 (Segmentation fault)|1");
#endif
	CHECK_INT(isolated(path, "spin", 300, text), -2);
	CHECK_STR(text, "the skill did not finish within 0.3 s and was stopped|1");
	free(path);
}

static void test_skills__instruction_skills_are_indexed_and_read(void)
{
	const char *dir = test_tmpdir();
	char *a = daimon_xasprintf("%s/pdf-tools", dir), *b = daimon_xasprintf("%s/notes", dir);
	char *c = daimon_xasprintf("%s/broken", dir);
	daimon_mkdir_p(a, 0700), daimon_mkdir_p(b, 0700), daimon_mkdir_p(c, 0700);
	char *pa = daimon_xasprintf("%s/SKILL.md", a), *pb = daimon_xasprintf("%s/SKILL.md", b);
	char *pc = daimon_xasprintf("%s/SKILL.md", c), *ref = daimon_xasprintf("%s/reference.md", a);
	test_write(pa,
		   "---\nname: pdf-tools\ndescription: >\n  Extract text from PDFs\n  and merge them.\nlicense: MIT\n"
		   "metadata:\n  author: x\n---\n# PDF tools\nUse qpdf --empty --pages a.pdf b.pdf -- out.pdf\n");
	test_write(pb, "---\nname: \"notes\"\ndescription: 'Keep notes tidy.'\n---\nWrite short notes.\n");
	test_write(pc, "---\nname: broken\n---\nNo description.\n");
	test_write(ref, "Reference text.\n");
	cJSON *all = daimon_instructions_scan(dir);
	CHECK_INT(cJSON_GetArraySize(all), 2); /* broken left out */
	char *text = cJSON_PrintUnformatted(all);
	CHECK_CONTAINS(text, "\"name\":\"notes\",\"description\":\"Keep notes tidy.\"");
	CHECK_CONTAINS(text, "\"name\":\"pdf-tools\",\"description\":\"Extract text from PDFs and merge them.\"");
	CHECK(strstr(text, "notes") < strstr(text, "pdf-tools")); /* by name */
	free(text);
	cJSON_Delete(all);
	daimon_buf out = DAIMON_BUF_INIT;
	CHECK_INT(daimon_instructions_read(dir, "pdf-tools", NULL, &out), 0);
	CHECK_STR(out.ptr, "# PDF tools\nUse qpdf --empty --pages a.pdf b.pdf -- out.pdf\n");
	daimon_buf_clear(&out);
	CHECK_INT(daimon_instructions_read(dir, "pdf-tools", "reference.md", &out), 0);
	CHECK_STR(out.ptr, "Reference text.\n");
	CHECK(daimon_instructions_read(dir, "pdf-tools", "../notes/SKILL.md", &out) < 0);
	CHECK(daimon_instructions_read(dir, "nope", NULL, &out) < 0);
	CHECK_CONTAINS(daimon_error_last(), "there is no instruction skill 'nope'");
	daimon_buf_release(&out);
	free(a), free(b), free(c), free(pa), free(pb), free(pc), free(ref);
}

/* ---- the skill host as a port of the runtime ---- */

struct collector {
	pthread_mutex_t mu;
	int answers, progress, status;
	char text[512];
};

static int collector_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	(void)ctx;
	struct collector *c = state;
	pthread_mutex_lock(&c->mu);
	if (m->type == DAIMON_MSG_JOB_DONE) {
		const daimon_job_done *d = m->data;
		c->status = d->status;
		snprintf(c->text, sizeof(c->text), "%s", d->text);
		c->answers++;
	} else if (m->type == DAIMON_PORT_PROGRESS) {
		c->progress++;
	}
	pthread_mutex_unlock(&c->mu);
	return DAIMON_CONTINUE;
}

static const daimon_behaviour collector_b = {.name = "collector", .handle = collector_handle};

/* One tools/call through the port, waited for: the status; the text in c->text. */
static int port_call_key(daimon_rt *rt, daimon_aid port, daimon_aid me, struct collector *c, const char *tool,
			 const char *key, long timeout_ms)
{
	pthread_mutex_lock(&c->mu);
	int before = c->answers;
	pthread_mutex_unlock(&c->mu);
	char *params = daimon_mcp_call_params(tool, NULL, key);
	size_t n = sizeof(daimon_port_call) + strlen(params) + 1;
	daimon_port_call *call = calloc(1, n);
	call->ref = (uint64_t)before + 1;
	call->timeout_ms = timeout_ms;
	snprintf(call->method, sizeof(call->method), "tools/call");
	memcpy(call->params, params, strlen(params) + 1);
	daimon_send_from(rt, me, port, DAIMON_PORT_CALL, call, n);
	free(call), free(params);
	for (int i = 0; i < 70000; i++) {
		pthread_mutex_lock(&c->mu);
		int done = c->answers > before;
		pthread_mutex_unlock(&c->mu);
		if (done)
			break;
		usleep(1000);
	}
	pthread_mutex_lock(&c->mu);
	int status = c->answers > before ? c->status : -99;
	pthread_mutex_unlock(&c->mu);
	return status;
}

static int port_call(daimon_rt *rt, daimon_aid port, daimon_aid me, struct collector *c, const char *tool,
		     long timeout_ms)
{
	return port_call_key(rt, port, me, c, tool, NULL, timeout_ms);
}

static void test_skills__a_skill_host_runs_as_a_port_of_the_runtime(void)
{
	const char *home = test_tmpdir();
	setenv("DAIMON_HOME", home, 1);
	daimon_skillws *ws;
	CHECK_INT(daimon_skillws_open(&ws, home, NULL), 0);
	CHECK_INT(daimon_skill_new(ws, "wild"), 0);
	char *src = daimon_xasprintf("%s/wild/skill.c", daimon_skillws_root(ws));
	char *tests = daimon_xasprintf("%s/wild/tests.json", daimon_skillws_root(ws));
	test_write(src, wild_src);
	test_write(tests, "[]");
	daimon_skill_built b;
	daimon_buf report = DAIMON_BUF_INIT;
	CHECK_INT(daimon_skill_build(ws, "wild", NULL, DAIMON_SKILL_COMMIT, &b, &report), 0);
	daimon_rt *rt;
	daimon_rt_new(&rt, NULL);
	static const char *const argv[] = {DAIMON_EXE, "skill", "serve", "wild", "--memory-mb", "256", NULL};
	daimon_port_opts po = {.name = "skill-wild",
			       .argv = argv,
			       .protocol = &daimon_mcp_protocol,
			       .hello = "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
					"\"clientInfo\":{\"name\":\"test\",\"version\":\"1\"}}",
			       .intensity = 3};
	daimon_aid port = daimon_port_start(rt, &po);
	CHECK(port);
	CHECK_INT(daimon_whereis(rt, "port:skill-wild"), port);
	struct collector c = {.mu = PTHREAD_MUTEX_INITIALIZER};
	daimon_spawn_opts co = {.behaviour = &collector_b, .state = &c};
	daimon_aid me = daimon_spawn(rt, &co);
	CHECK_INT(port_call(rt, port, me, &c, "ok", 5000), 0);
	CHECK_CONTAINS(c.text, "\"text\":\"fine\"");
	CHECK_INT(port_call(rt, port, me, &c, "steps", 5000), 0);
	CHECK_INT(c.progress, 3); /* progress notifications came back as messages */
	CHECK_INT(port_call_key(rt, port, me, &c, "key", "cli-0123/k9", 5000),
		  0); /* the idempotency key, through _meta */
	CHECK_CONTAINS(c.text, "\"text\":\"key=cli-0123/k9\"");
	CHECK_INT(port_call(rt, port, me, &c, "key", 5000), 0);
	CHECK_CONTAINS(c.text, "\"text\":\"key=\"");
	CHECK_INT(port_call(rt, port, me, &c, "segv", 60000), -2);
	CHECK(strstr(c.text, "skill-wild crashed: signal") || strstr(c.text, "skill-wild ended"));
	CHECK_INT(port_call(rt, port, me, &c, "ok", 5000), 0); /* started again */
	CHECK_INT(port_call(rt, port, me, &c, "spin", 300), -2);
	CHECK_STR(c.text, "skill-wild did not answer within 0.3 s and was stopped");
	CHECK_INT(port_call(rt, port, me, &c, "boom", 60000), -2); /* the third failure: it rests */
	CHECK_INT(port_call(rt, port, me, &c, "ok", 5000), -2);
	CHECK_STR(c.text, "skill-wild failed 3 times within 60 s; it rests");
	daimon_rt_free(rt);
	daimon_buf_release(&report);
	daimon_skill_built_release(&b);
	free(src), free(tests);
	daimon_skillws_close(ws);
}

/* A port answers its program's requests (ping, roots/list with id 0),
 * logs its stderr with its name, and shuts it down step by step: stdin
 * closed, then SIGTERM, then SIGKILL for a program that ignores both. */
static void test_skills__a_port_answers_its_program_logs_it_and_shuts_it_down(void)
{
	const char *dir = test_tmpdir();
	char *log = daimon_xasprintf("%s/port.log", dir);
	int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	static const char script[] =
		"read call; echo '{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"ping\"}'; read pong; "
		"echo '{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"roots/list\"}'; read roots; "
		"echo \"pong=$pong\" >&2; echo \"roots=$roots\" >&2; "
		"echo '{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"ok\":true}}'; trap '' TERM; exec sleep 30";
	static const char *const argv[] = {"/bin/sh", "-c", script, NULL};
	daimon_rt *rt;
	daimon_rt_new(&rt, NULL);
	daimon_port_opts po = {.name = "stubborn",
			       .argv = argv,
			       .protocol = &daimon_mcp_protocol,
			       .data = "[{\"uri\":\"file:///notes\",\"name\":\"notes\"}]",
			       .log_fd = logfd,
			       .stop_ms = 200};
	daimon_aid port = daimon_port_start(rt, &po);
	struct collector c = {.mu = PTHREAD_MUTEX_INITIALIZER};
	daimon_spawn_opts co = {.behaviour = &collector_b, .state = &c};
	daimon_aid me = daimon_spawn(rt, &co);
	CHECK_INT(port_call(rt, port, me, &c, "x", 5000), 0);
	CHECK_STR(c.text, "{\"ok\":true}");
	int64_t t0 = daimon_mono_ms();
	daimon_cancel(rt, port, 5000);
	while (daimon_alive(rt, port) && daimon_mono_ms() - t0 < 5000)
		usleep(5000);
	int64_t took = daimon_mono_ms() - t0;
	CHECK(!daimon_alive(rt, port));
	CHECK(took >= 380 && took < 2000); /* two steps of 200 ms: stdin, then SIGTERM, then SIGKILL */
	daimon_rt_free(rt);
	close(logfd);
	daimon_buf text = DAIMON_BUF_INIT;
	CHECK_INT(daimon_read_file(&text, log), 0);
	CHECK_CONTAINS(daimon_buf_cstr(&text), "daimon: stubborn: pong={\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{}}\n");
	CHECK_CONTAINS(daimon_buf_cstr(&text),
		       "daimon: stubborn: roots={\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"roots\":"
		       "[{\"uri\":\"file:///notes\",\"name\":\"notes\"}]}}\n");
	daimon_buf_release(&text);
	free(log);
}

/* Without a protocol a port is plain JSON-RPC: no handshake, a call's
 * params as given (no progress token), and a request of the program's —
 * even one MCP knows, such as ping — is answered "method not found". */
static void test_skills__a_port_without_a_protocol_is_plain_json_rpc(void)
{
	const char *dir = test_tmpdir();
	char *log = daimon_xasprintf("%s/plain.log", dir);
	int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	static const char script[] = "read call; echo \"call=$call\" >&2; "
				     "echo '{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"ping\"}'; read pong; "
				     "echo \"pong=$pong\" >&2; "
				     "echo '{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"ok\":true}}'; exec sleep 30";
	static const char *const argv[] = {"/bin/sh", "-c", script, NULL};
	daimon_rt *rt;
	daimon_rt_new(&rt, NULL);
	daimon_port_opts po = {.name = "plain", .argv = argv, .log_fd = logfd, .stop_ms = 100};
	daimon_aid port = daimon_port_start(rt, &po);
	struct collector c = {.mu = PTHREAD_MUTEX_INITIALIZER};
	daimon_spawn_opts co = {.behaviour = &collector_b, .state = &c};
	daimon_aid me = daimon_spawn(rt, &co);
	CHECK_INT(port_call(rt, port, me, &c, "x", 5000), 0);
	CHECK_STR(c.text, "{\"ok\":true}");
	daimon_rt_free(rt);
	close(logfd);
	daimon_buf text = DAIMON_BUF_INIT;
	CHECK_INT(daimon_read_file(&text, log), 0);
	CHECK_CONTAINS(daimon_buf_cstr(&text), "daimon: plain: call={\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
					       "\"tools/call\",\"params\":{\"name\":\"x\",\"arguments\":{}}}\n");
	CHECK_CONTAINS(daimon_buf_cstr(&text), "daimon: plain: pong={\"jsonrpc\":\"2.0\",\"id\":0,\"error\":"
					       "{\"code\":-32601,\"message\":\"method not found\"}}\n");
	daimon_buf_release(&text);
	free(log);
}

static int started_twice(const char *path)
{
	if (access(path, F_OK) != 0)
		return 0;
	char *text = test_read(path);
	int yes = strstr(text, "started\nstarted\n") != NULL;
	free(text);
	return yes;
}

/* An idle program that stops answering pings is taken for hung and
 * started again. */
static void test_skills__a_port_restarts_a_program_that_stops_answering_pings(void)
{
	const char *dir = test_tmpdir();
	char *starts = daimon_xasprintf("%s/starts", dir);
	char *script = daimon_xasprintf("echo started >>'%s'; read call; "
					"echo '{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}'; exec sleep 30",
					starts);
	const char *argv[] = {"/bin/sh", "-c", script, NULL};
	daimon_rt *rt;
	daimon_rt_new(&rt, NULL);
	daimon_port_opts po = {.name = "mute",
			       .argv = argv,
			       .protocol = &daimon_mcp_protocol,
			       .ping_ms = 150,
			       .restart_ms = 50,
			       .stop_ms = 100};
	daimon_aid port = daimon_port_start(rt, &po);
	struct collector c = {.mu = PTHREAD_MUTEX_INITIALIZER};
	daimon_spawn_opts co = {.behaviour = &collector_b, .state = &c};
	daimon_aid me = daimon_spawn(rt, &co);
	CHECK_INT(port_call(rt, port, me, &c, "x", 5000), 0);
	/* idle, pinged, silent: stopped and started again */
	EVENTUALLY(started_twice(starts));
	daimon_rt_free(rt);
	free(script);
	free(starts);
}

/* A request larger than the pipe goes out as the program reads it, and
 * a program's large answer comes in whole (its stdout blocks, as a
 * program expects, instead of failing when the pipe is full). */
static void test_skills__large_messages_cross_a_port_both_ways(void)
{
	static const char *const argv[] = {
		"/bin/sh", "-c",
		"sleep 0.3; read line; echo "
		"\"{\\\"jsonrpc\\\":\\\"2.0\\\",\\\"id\\\":1,\\\"result\\\":{\\\"len\\\":${#line},"
		"\\\"big\\\":\\\"$(head -c 300000 /dev/zero | tr '\\0' b)\\\"}}\"; sleep 30",
		NULL};
	daimon_rt *rt;
	daimon_rt_new(&rt, NULL);
	daimon_port_opts po = {.name = "big", .argv = argv, .protocol = &daimon_mcp_protocol};
	daimon_aid port = daimon_port_start(rt, &po);
	struct collector c = {.mu = PTHREAD_MUTEX_INITIALIZER};
	daimon_spawn_opts co = {.behaviour = &collector_b, .state = &c};
	daimon_aid me = daimon_spawn(rt, &co);
	char *name = calloc(1, 200001);
	memset(name, 'n', 200000);
	CHECK_INT(port_call(rt, port, me, &c, name, 10000), 0);
	CHECK_CONTAINS(c.text, "{\"len\":200110,\"big\":\"bbbb"); /* the whole request line went out */
	daimon_rt_free(rt);
	free(name);
}

/* A program that writes a message without end is stopped, not buffered
 * without bound: the call fails and says why. */
static void test_skills__a_port_stops_a_program_sending_a_huge_message(void)
{
	static const char *const argv[] = {"/bin/sh", "-c",
					   "read call; head -c 70000000 /dev/zero | tr '\\0' a; sleep 30", NULL};
	daimon_rt *rt;
	daimon_rt_new(&rt, NULL);
	daimon_port_opts po = {.name = "flood", .argv = argv};
	daimon_aid port = daimon_port_start(rt, &po);
	struct collector c = {.mu = PTHREAD_MUTEX_INITIALIZER};
	daimon_spawn_opts co = {.behaviour = &collector_b, .state = &c};
	daimon_aid me = daimon_spawn(rt, &co);
	CHECK_INT(port_call(rt, port, me, &c, "x", 20000), -2);
	CHECK_STR(c.text, "flood sent a message over 64 MiB; it was stopped");
	daimon_rt_free(rt);
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		TEST_CASE(test_skills__the_header_compiles_as_c_and_cpp_with_strict_warnings),
		TEST_CASE(test_skills__a_new_version_swaps_in_with_the_old_ones_state),
		TEST_CASE(test_skills__skills_of_abi_1_and_with_larger_tools_still_load),
		TEST_CASE(test_skills__swaps_under_load_lose_no_call),
		TEST_CASE(test_skills__a_crash_a_hang_or_a_memory_hog_costs_one_call),
		TEST_CASE(test_skills__instruction_skills_are_indexed_and_read),
		TEST_CASE(test_skills__a_skill_host_runs_as_a_port_of_the_runtime),
		TEST_CASE(test_skills__a_port_answers_its_program_logs_it_and_shuts_it_down),
		TEST_CASE(test_skills__a_port_restarts_a_program_that_stops_answering_pings),
		TEST_CASE(test_skills__a_port_without_a_protocol_is_plain_json_rpc),
		TEST_CASE(test_skills__a_port_stops_a_program_sending_a_huge_message),
		TEST_CASE(test_skills__large_messages_cross_a_port_both_ways),
		{0},
	};
	return test_main(argc, argv, cases);
}
