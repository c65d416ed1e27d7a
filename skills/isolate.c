/*
 * isolate.c — calls into a skill in a child process, so a skill that
 * crashes, hangs or eats memory costs those calls and nothing else (see
 * workspace.h: daimon_skill_run_isolated).
 *
 * The child loads the skill, then for each call writes a line saying it
 * started and a line with its result. The parent reads them with a
 * deadline per call: a child that dies or runs out of time ends the call
 * in progress with the reason; the calls after it are not run.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "core/timefmt.h"
#include "skills/skills.h"
#include "skills/workspace.h"

void daimon_skill_limit_memory(size_t bytes)
{
	/* what the skill may add to what the process maps already */
	unsigned long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f && fscanf(f, "%lu", &pages) != 1)
		pages = 0;
	if (f)
		fclose(f);
	rlim_t limit = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (rlim_t)bytes;
	struct rlimit rl = {limit, limit};
	setrlimit(RLIMIT_AS, &rl);
}

static void child(int fd, const char *so_path, const char *home, const daimon_skill_services *svc, const cJSON *calls,
		  size_t mem_limit)
{
	if (mem_limit)
		daimon_skill_limit_memory(mem_limit);
	daimon_skills *sk = daimon_skills_new(home, svc);
	char name[64];
	if (daimon_skills_load(sk, so_path, name) < 0) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "load_error", daimon_error_last());
		daimon_json_write_line(fd, o);
		_exit(0);
	}
	/* what it is, for whoever keeps skill code out of its own process */
	char *desc = daimon_skills_describe(sk);
	cJSON *d = cJSON_CreateObject();
	cJSON_AddItemToObject(d, "describe", cJSON_Parse(desc));
	free(desc);
	daimon_json_write_line(fd, d);
	int i = 0;
	for (const cJSON *c = calls ? calls->child : NULL; c; c = c->next, i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "start", i);
		daimon_json_write_line(fd, o);
		const cJSON *args = cJSON_GetObjectItemCaseSensitive(c, "args");
		char *a = args ? cJSON_PrintUnformatted(args) : strdup("{}");
		daimon_buf out = DAIMON_BUF_INIT;
		int rc = daimon_skills_call(sk, name, daimon_json_str(c, "tool"), a, &out, NULL);
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "done", i);
		cJSON_AddNumberToObject(o, "status", rc < 0 ? -1 : 0);
		cJSON_AddStringToObject(o, "text", daimon_buf_cstr(&out));
		daimon_json_write_line(fd, o);
		daimon_buf_release(&out);
		free(a);
	}
	_exit(0);
}

static cJSON *result(int status, const char *text)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "status", status);
	cJSON_AddStringToObject(o, "text", text);
	return o;
}

static int run(const char *so_path, const char *home, const daimon_skill_services *svc, const cJSON *calls,
	       long timeout_ms, size_t mem_limit, cJSON **results, cJSON **describe, daimon_buf *why)
{
	*results = NULL;
	int p[2];
	if (pipe(p) < 0)
		return daimon_error_errno("cannot start the skill's process");
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]), close(p[1]);
		return daimon_error_errno("cannot start the skill's process");
	}
	if (pid == 0) {
		close(p[0]);
		child(p[1], so_path, home, svc, calls, mem_limit);
	}
	close(p[1]);
	cJSON *out = cJSON_CreateArray();
	int n = cJSON_GetArraySize(calls), running = -1, rc = 0, killed = 0;
	daimon_buf pending = DAIMON_BUF_INIT;
	int64_t deadline = daimon_mono_ns() / 1000000 + (timeout_ms > 0 ? timeout_ms : 30000) + 5000; /* (loading) */
	for (;;) {
		int64_t left = deadline - (int64_t)(daimon_mono_ns() / 1000000);
		struct pollfd pfd = {p[0], POLLIN, 0};
		int pr = left > 0 ? poll(&pfd, 1, (int)(left > 1000 ? 1000 : left)) : 0;
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0 && left <= 0) { /* out of time */
			kill(pid, SIGKILL);
			killed = 1;
			break;
		}
		if (pr == 0)
			continue;
		char buf[4096];
		ssize_t got = read(p[0], buf, sizeof(buf));
		if (got <= 0)
			break; /* the child is gone */
		daimon_buf_add(&pending, buf, (size_t)got);
		cJSON *o;
		while (daimon_json_take_line(&pending, &o) >= 0) {
			if (cJSON_GetObjectItemCaseSensitive(o, "describe")) {
				if (describe && !*describe)
					*describe = cJSON_DetachItemFromObjectCaseSensitive(o, "describe");
			} else if (daimon_json_str(o, "load_error")) {
				daimon_buf_adds(why, daimon_json_str(o, "load_error"));
				rc = -1;
			} else if (cJSON_GetObjectItemCaseSensitive(o, "start")) {
				running = cJSON_GetObjectItemCaseSensitive(o, "start")->valueint;
				deadline = daimon_mono_ns() / 1000000 + (timeout_ms > 0 ? timeout_ms : 30000);
			} else if (cJSON_GetObjectItemCaseSensitive(o, "done")) {
				cJSON_AddItemToArray(out,
						     result(cJSON_GetObjectItemCaseSensitive(o, "status")->valueint,
							    daimon_json_str(o, "text")));
				running = -1;
			}
			cJSON_Delete(o);
		}
	}
	close(p[0]);
	daimon_buf_release(&pending);
	int st = 0;
	waitpid(pid, &st, 0);
	if (rc == 0 && running >= 0) { /* the call in progress ended with the child */
		char what[160];
		if (killed)
			snprintf(what, sizeof(what), "the skill did not finish within %.1f s and was stopped",
				 (double)(timeout_ms > 0 ? timeout_ms : 30000) / 1000);
		else if (WIFSIGNALED(st))
			snprintf(what, sizeof(what), "the skill crashed: signal %d (%s)", WTERMSIG(st),
				 strsignal(WTERMSIG(st)));
		else
			snprintf(what, sizeof(what), "the skill's process ended (exit %d) during the call",
				 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		cJSON_AddItemToArray(out, result(-2, what));
	} else if (rc == 0 && cJSON_GetArraySize(out) < n && killed) {
		daimon_buf_adds(why, "the skill did not finish loading in time");
		rc = -1;
	} else if (rc == 0 && cJSON_GetArraySize(out) < n && WIFSIGNALED(st)) {
		daimon_buf_addf(why, "the skill crashed while loading: signal %d (%s)", WTERMSIG(st),
				strsignal(WTERMSIG(st)));
		rc = -1;
	}
	if (rc < 0) {
		cJSON_Delete(out);
		return daimon_error("%s", daimon_buf_cstr(why));
	}
	*results = out;
	return 0;
}

int daimon_skill_run_isolated(const char *so_path, const char *home, const daimon_skill_services *svc,
			      const cJSON *calls, long timeout_ms, size_t mem_limit, cJSON **results, daimon_buf *why)
{
	return run(so_path, home, svc, calls, timeout_ms, mem_limit, results, NULL, why);
}

cJSON *daimon_skill_describe_isolated(const char *so_path, const char *home)
{
	cJSON *none = cJSON_CreateArray(), *results = NULL, *desc = NULL;
	daimon_buf why = DAIMON_BUF_INIT;
	if (run(so_path, home, NULL, none, 10000, 0, &results, &desc, &why) < 0) { /* (nothing is called) */
		cJSON_Delete(desc);
		desc = NULL;
	}
	cJSON *one = desc ? cJSON_DetachItemFromArray(desc, 0) : NULL;
	cJSON_Delete(desc);
	cJSON_Delete(results);
	cJSON_Delete(none);
	daimon_buf_release(&why);
	return one;
}
