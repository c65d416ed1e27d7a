/*
 * skilltools.c — see skilltools.h.
 */
#include "sessions/skilltools.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "core/port.h"
#include "core/settings.h"
#include "memory/curated.h"
#include "memory/index.h"
#include "memory/search.h"
#include "skills/mcp.h"
#include <daimon/skill.h>

struct entry {
	char *skill, *tool, *name, *description, *parameters;
	char *server; /* an MCP server's tool (skill is NULL) */
	int inprocess;
	long timeout_ms;
	size_t mem_limit;
	daimon_skills *sk;
	const char *home;
	struct skillport *port; /* isolated skills: their host, a port of the runtime (NULL: a process per call) */
};

/* One skill host per isolated skill, shared by its tools, started by the
 * first call (in the calling session's runtime) and started again if it
 * is gone. */
struct skillport {
	pthread_mutex_t mu;
	daimon_aid aid;
	struct daimon_skill_toolset *ts;
	char *exe, *skill;
	size_t memory_mb;
	int users;
};

/* The skill hosts' parent in the actor tree ("skill-hosts", shown by
 * `daimon ps` with its ports below it): cancelling it collapses them. Each
 * port restarts its program itself, within its intensity. */
static int hosts_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	(void)ctx, (void)state, (void)m;
	return DAIMON_CONTINUE;
}

static int hosts_init(daimon_ctx *ctx, void *state)
{
	(void)state;
	daimon_trap_exit(ctx, 1);
	daimon_set_state_label(ctx, "supervising");
	return DAIMON_CONTINUE;
}

static const daimon_behaviour hosts_behaviour = {.name = "skill-hosts", .init = hosts_init, .handle = hosts_handle};

static daimon_aid hosts_of(daimon_rt *rt, daimon_skill_toolset *ts);

static daimon_aid port_of(daimon_ctx *ctx, struct skillport *sp)
{
	pthread_mutex_lock(&sp->mu);
	if (!sp->aid || !daimon_alive(daimon_ctx_rt(ctx), sp->aid)) {
		char mem[32];
		snprintf(mem, sizeof(mem), "%zu", sp->memory_mb);
		const char *argv[] = {sp->exe, "skill", "serve", sp->skill, "--memory-mb", mem, NULL};
		char *name = daimon_xasprintf("skill-%s", sp->skill);
		daimon_port_opts o = {.name = name,
				      .parent = hosts_of(daimon_ctx_rt(ctx), sp->ts),
				      .argv = argv,
				      .protocol = &daimon_mcp_protocol,
				      .hello = DAIMON_MCP_HELLO};
		sp->aid = daimon_port_start(daimon_ctx_rt(ctx), &o);
		free(name);
	}
	daimon_aid aid = sp->aid;
	pthread_mutex_unlock(&sp->mu);
	return aid;
}

/* The port serving an entry: its skill host, or its MCP server's. */
static daimon_aid entry_port(daimon_ctx *ctx, const struct entry *e)
{
	if (e->server) {
		daimon_aid id = daimon_mcp_port(daimon_ctx_rt(ctx), e->server);
		if (!id)
			daimon_error("the MCP server %s is not running", e->server);
		return id;
	}
	return port_of(ctx, e->port);
}

static int port_send(daimon_ctx *ctx, const cJSON *args, uint64_t ref, const char *key, void *payload)
{
	const struct entry *e = payload;
	daimon_aid port = entry_port(ctx, e);
	if (!port)
		return -1;
	char *params = daimon_mcp_call_params(e->tool, args, key);
	int rc = daimon_port_call_send(ctx, port, ref, "tools/call", params, e->timeout_ms);
	cJSON_free(params);
	return rc;
}

static void port_cancel(daimon_ctx *ctx, uint64_t ref, void *payload)
{
	const struct entry *e = payload;
	daimon_aid port = e->server ? daimon_mcp_port(daimon_ctx_rt(ctx), e->server) : e->port->aid;
	if (port)
		daimon_send(daimon_ctx_rt(ctx), port, DAIMON_PORT_CANCEL, &ref, sizeof(ref));
}

/* An MCP tools/call result: its text content, and whether it is an error. */
static int port_result(const char *answer, daimon_buf *out, void *payload)
{
	(void)payload;
	return daimon_mcp_result_text(answer, out);
}

struct daimon_skill_toolset {
	daimon_authoring authoring;
	pthread_mutex_t ws_mu; /* the workspace (its git repository) is one thread's at a time */
	daimon_skillws *ws;
	daimon_skills *sk;
	char *home;
	daimon_tool *tools;
	struct entry *entries;
	size_t nentries;
	cJSON *loaded; /* {"skill": "commit"} of the built ones */
	pthread_mutex_t hosts_mu;
	daimon_aid hosts; /* the skill hosts' parent, made with the first host */
};

static daimon_aid hosts_of(daimon_rt *rt, daimon_skill_toolset *ts)
{
	pthread_mutex_lock(&ts->hosts_mu);
	if (!ts->hosts || !daimon_alive(rt, ts->hosts)) {
		daimon_spawn_opts o = {.behaviour = &hosts_behaviour};
		ts->hosts = daimon_spawn(rt, &o);
		daimon_unregister(rt, "skill-hosts"); /* (a set made before, after a reload) */
		daimon_register(rt, "skill-hosts", ts->hosts);
	}
	daimon_aid id = ts->hosts;
	pthread_mutex_unlock(&ts->hosts_mu);
	return id;
}

static int run_skill_tool(const cJSON *args, daimon_buf *out, const daimon_tool_env *env)
{
	const struct entry *e = env->payload;
	char *a = cJSON_PrintUnformatted(args);
	int rc;
	if (e->inprocess) {
		daimon_skill_call_opts o = {.cancelled = env->cancelled,
					    .progress = env->progress,
					    .payload = env->progress_payload,
					    .idempotency_key = env->idempotency_key};
		rc = daimon_skills_call(e->sk, e->skill, e->tool, a, out, &o) < 0 ? -1 : 0;
	} else {
		char *so = daimon_skill_live_so(e->home, e->skill);
		cJSON *calls = cJSON_CreateArray(), *c = cJSON_CreateObject(), *results = NULL;
		cJSON_AddStringToObject(c, "tool", e->tool);
		cJSON_AddItemToObject(c, "args", cJSON_Duplicate(args, 1));
		cJSON_AddItemToArray(calls, c);
		daimon_buf why = DAIMON_BUF_INIT;
		if (!so) {
			daimon_buf_addf(out, "skill %s is no longer built", e->skill);
			rc = -1;
		} else if (daimon_skill_run_isolated(so, e->home, &daimon_skill_memory_services, calls, e->timeout_ms,
						     e->mem_limit, &results, &why) < 0) {
			daimon_buf_addf(out, "skill %s: %s", e->skill, daimon_buf_cstr(&why));
			rc = -1;
		} else {
			const cJSON *r = cJSON_GetArrayItem(results, 0);
			daimon_buf_adds(out, daimon_json_str(r, "text"));
			rc = cJSON_GetObjectItemCaseSensitive(r, "status")->valueint == 0 ? 0 : -1;
		}
		daimon_buf_release(&why);
		cJSON_Delete(results);
		cJSON_Delete(calls);
		free(so);
	}
	free(a);
	return rc;
}

/* skill_author: the model writes, tests and (if allowed) builds skills. */
static int run_author(const cJSON *args, daimon_buf *out, const daimon_tool_env *env)
{
	daimon_skill_toolset *ts = env->payload;
	const char *action = daimon_json_str(args, "action"), *name = daimon_json_str(args, "name");
	int rc = 0;
	pthread_mutex_lock(&ts->ws_mu);
	if (!strcmp(action, "read")) {
		char *src, *tests;
		if (daimon_skill_read(ts->ws, name, &src, &tests) < 0) {
			daimon_buf_addf(out, "%s (write it first)", daimon_error_last());
			rc = -1;
		} else {
			daimon_buf_addf(out, "skill.c:\n%s\ntests.json:\n%s", src, tests);
		}
		free(src);
		free(tests);
	} else if (!strcmp(action, "write")) {
		rc = daimon_skill_write(ts->ws, name, daimon_json_str(args, "source"), daimon_json_str(args, "tests"));
		daimon_buf_addf(out, rc < 0 ? "%s" : "written; test it next", rc < 0 ? daimon_error_last() : "");
	} else if (!strcmp(action, "build") && ts->authoring != DAIMON_AUTHORING_AUTO) {
		daimon_buf_addf(
			out, "the user makes new skills live: tell them to review it and run `daimon skill build %s`",
			name);
		rc = -1;
	} else { /* test, or build when allowed */
		int live = !strcmp(action, "build");
		daimon_skill_built b;
		rc = daimon_skill_build(ts->ws, name, live ? "build by the assistant" : NULL,
					DAIMON_SKILL_CAPTURE | (live ? DAIMON_SKILL_COMMIT : 0), &b, out);
		if (rc < 0)
			daimon_buf_addf(out, "\n%s", daimon_error_last());
		else
			daimon_buf_addf(out, live ? "live as %.12s (%d tests passed)" : "%s%d tests passed",
					live ? b.commit : "", b.tests);
		daimon_skill_built_release(&b);
	}
	pthread_mutex_unlock(&ts->ws_mu);
	return rc;
}

static const char author_schema[] =
	"{\"type\":\"object\",\"properties\":{\"action\":{\"enum\":[\"read\",\"write\",\"test\",\"build\"]},"
	"\"name\":{\"type\":\"string\"},\"source\":{\"type\":\"string\"},\"tests\":{\"type\":\"string\"}},"
	"\"required\":[\"action\",\"name\"]}";

daimon_skill_toolset *daimon_skill_toolset_new(daimon_skillws *ws, daimon_skills *sk, const char *exe,
					       const daimon_tool *base, daimon_authoring authoring, const cJSON *mcp)
{
	daimon_skill_toolset *ts = daimon_xcalloc(1, sizeof(*ts));
	ts->authoring = authoring;
	pthread_mutex_init(&ts->ws_mu, NULL);
	pthread_mutex_init(&ts->hosts_mu, NULL);
	ts->ws = ws;
	ts->sk = sk;
	ts->loaded = cJSON_CreateObject();
	const char *root = daimon_skillws_root(ws);
	ts->home = daimon_xstrndup(root, strlen(root) - strlen("/skills"));
	cJSON *list = NULL;
	daimon_skill_list(ws, &list);
	size_t nbase = 0, nskill = 0;
	while (base && base[nbase].name)
		nbase++;
	for (const cJSON *s = list->child; s; s = s->next)
		nskill += (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s, "tools"));
	for (const cJSON *s = mcp ? mcp->child : NULL; s; s = s->next)
		nskill += (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s, "tools"));
	ts->tools = daimon_xcalloc(nbase + nskill + 2, sizeof(daimon_tool));
	ts->entries = daimon_xcalloc(nskill + 1, sizeof(struct entry));
	memcpy(ts->tools, base, nbase * sizeof(daimon_tool));
	size_t k = nbase;
	for (const cJSON *s = list->child; s; s = s->next) {
		const char *skill = daimon_json_str(s, "name");
		int inprocess =
			daimon_json_str(s, "isolation") && !strcmp(daimon_json_str(s, "isolation"), "inprocess");
		if (inprocess) {
			if (daimon_skills_load(sk, daimon_json_str(s, "so"), NULL) < 0) {
				fprintf(stderr, "daimon: skill %s is left out: %s\n", skill, daimon_error_last());
				continue;
			}
		}
		cJSON_AddStringToObject(ts->loaded, skill, daimon_json_str(s, "commit"));
		const cJSON *tools = cJSON_GetObjectItemCaseSensitive(s, "tools");
		for (const cJSON *t = tools ? tools->child : NULL; t; t = t->next) {
			struct entry *e = &ts->entries[ts->nentries++];
			e->skill = daimon_xstrdup(skill);
			e->tool = daimon_xstrdup(daimon_json_str(t, "name"));
			e->name = daimon_xasprintf("%s-%s", skill, e->tool);
			e->description = daimon_xstrdup(
				daimon_json_str(t, "description") ? daimon_json_str(t, "description") : "");
			e->parameters = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(t, "parameters"));
			e->inprocess = inprocess;
			e->timeout_ms =
				(long)(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, "timeout_s")) * 1000);
			e->mem_limit = (size_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, "memory_mb"))
				       << 20;
			e->sk = sk;
			e->home = ts->home;
			if (!inprocess && exe) { /* one host per skill, shared by its tools */
				if (t == tools->child) {
					e->port = daimon_xcalloc(1, sizeof(*e->port));
					pthread_mutex_init(&e->port->mu, NULL);
					e->port->exe = daimon_xstrdup(exe);
					e->port->ts = ts;
					e->port->skill = daimon_xstrdup(skill);
					e->port->memory_mb = e->mem_limit >> 20;
				} else {
					e->port = ts->entries[ts->nentries - 2].port;
				}
			}
			int flags = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "flags"));
			ts->tools[k++] = (daimon_tool){.name = e->name,
						       .description = e->description,
						       .parameters = e->parameters,
						       .run = run_skill_tool,
						       .timeout_ms = e->timeout_ms + 1000,
						       .payload = e,
						       .send = e->port ? port_send : NULL,
						       .cancel = e->port ? port_cancel : NULL,
						       .result = e->port ? port_result : NULL,
						       .needs_approval = (flags & DAIMON_SKILL_NEEDS_APPROVAL) != 0,
						       .side_effecting = (flags & DAIMON_SKILL_SIDE_EFFECTS) != 0,
						       .idempotent = (flags & DAIMON_SKILL_IDEMPOTENT) != 0};
		}
	}
	/* MCP servers' tools, as SERVER.TOOL */
	for (const cJSON *s = mcp ? mcp->child : NULL; s; s = s->next) {
		const cJSON *tools = cJSON_GetObjectItemCaseSensitive(s, "tools");
		for (const cJSON *t = tools ? tools->child : NULL; t; t = t->next) {
			struct entry *e = &ts->entries[ts->nentries++];
			e->server = daimon_xstrdup(daimon_json_str(s, "name"));
			e->tool = daimon_xstrdup(daimon_json_str(t, "name"));
			e->name = daimon_xasprintf("%s.%s", e->server, e->tool);
			e->description = daimon_xstrdup(daimon_json_str(t, "description"));
			e->parameters = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(t, "inputSchema"));
			e->timeout_ms = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, "timeout_ms"));
			ts->tools[k++] = (daimon_tool){
				.name = e->name,
				.description = e->description,
				.parameters = e->parameters,
				.timeout_ms = e->timeout_ms + 1000,
				.payload = e,
				.send = port_send,
				.cancel = port_cancel,
				.result = port_result,
				.side_effecting = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "side_effecting")),
				.idempotent = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "idempotent"))};
		}
	}
	if (authoring != DAIMON_AUTHORING_OFF)
		ts->tools[k++] = (daimon_tool){
			.name = "skill_author",
			.description =
				"Write native skills in C against <daimon/skill.h>: read a skill's skill.c and "
				"tests.json, write them, test (compile + run tests: compiler errors come back), build "
				"(make it live, if the user allows).",
			.parameters = author_schema,
			.run = run_author,
			.timeout_ms = 120000,
			.payload = ts};
	cJSON_Delete(list);
	return ts;
}

const daimon_tool *daimon_skill_toolset_tools(const daimon_skill_toolset *ts)
{
	return ts->tools;
}

/* An isolated skill rebuilt: its host is let go (the calls in flight
 * finish on the old version) and the next call starts the new one. */
static int replace_host(daimon_skill_toolset *ts, daimon_rt *rt, const char *skill)
{
	for (size_t i = 0; i < ts->nentries; i++) {
		struct skillport *sp = ts->entries[i].port;
		if (!sp || strcmp(sp->skill, skill))
			continue;
		pthread_mutex_lock(&sp->mu);
		if (sp->aid && rt) {
			char *reg = daimon_xasprintf("port:skill-%s", skill);
			daimon_unregister(rt, reg);
			free(reg);
			daimon_cancel(rt, sp->aid, (int)ts->entries[i].timeout_ms + 5000);
		}
		sp->aid = 0;
		pthread_mutex_unlock(&sp->mu);
		return 1;
	}
	return 0;
}

int daimon_skill_toolset_refresh(daimon_skill_toolset *ts, daimon_rt *rt, int *added)
{
	if (added)
		*added = 0;
	cJSON *list = NULL;
	daimon_skill_list(ts->ws, &list);
	int swapped = 0, rc = 0;
	pthread_mutex_lock(&ts->ws_mu);
	for (const cJSON *s = list->child; s; s = s->next) {
		const char *skill = daimon_json_str(s, "name"), *commit = daimon_json_str(s, "commit");
		const char *was = daimon_json_str(ts->loaded, skill);
		if (!was && added)
			*added = 1; /* new since the set was made: a new set offers it */
		if (!was || !strcmp(was, commit))
			continue;
		const char *iso = daimon_json_str(s, "isolation");
		if (!(iso && !strcmp(iso, "inprocess"))) {
			if (replace_host(ts, rt, skill)) {
				cJSON_ReplaceItemInObjectCaseSensitive(ts->loaded, skill, cJSON_CreateString(commit));
				swapped++;
			}
			continue;
		}
		if (daimon_skills_load(ts->sk, daimon_json_str(s, "so"), NULL) < 0) {
			rc = -1;
			continue;
		}
		cJSON_ReplaceItemInObjectCaseSensitive(ts->loaded, skill, cJSON_CreateString(commit));
		swapped++;
	}
	pthread_mutex_unlock(&ts->ws_mu);
	cJSON_Delete(list);
	return rc < 0 ? rc : swapped;
}

void daimon_skill_toolset_free(daimon_skill_toolset *ts)
{
	if (!ts)
		return;
	for (size_t i = 0; i < ts->nentries; i++) {
		struct entry *e = &ts->entries[i];
		if (e->port && (i + 1 == ts->nentries || ts->entries[i + 1].port != e->port)) {
			/* (the last entry sharing it; the port actor goes with its runtime) */
			pthread_mutex_destroy(&e->port->mu);
			free(e->port->exe), free(e->port->skill), free(e->port);
		}
		free(e->skill), free(e->server), free(e->tool), free(e->name), free(e->description);
		cJSON_free(e->parameters);
	}
	free(ts->entries);
	free(ts->tools);
	pthread_mutex_destroy(&ts->ws_mu);
	pthread_mutex_destroy(&ts->hosts_mu);
	free(ts->home);
	cJSON_Delete(ts->loaded);
	free(ts);
}

/* ---- what skills reach through the host table: memory and search ---- */

static int svc_memory_read(const char *home, const char *target, char **text)
{
	daimon_buf b = DAIMON_BUF_INIT;
	int rc = daimon_mem_text(home, target, NULL, &b);
	*text = rc == 0 ? daimon_xstrdup(daimon_buf_cstr(&b)) : NULL;
	daimon_buf_release(&b);
	return rc;
}

static int svc_search(const char *home, const char *query, int limit, char **json_lines)
{
	daimon_store st;
	daimon_index *ix = NULL;
	if (daimon_store_open(&st, home) < 0)
		return -1;
	int rc = daimon_index_open(&ix, &st);
	daimon_search_result r;
	daimon_search_opts o = {
		.query = query, .limit = (size_t)(limit > 0 ? limit : 10), .mark_open = "", .mark_close = ""};
	if (rc == 0 && (rc = daimon_index_refresh(ix, NULL)) == 0 && (rc = daimon_search(ix, &o, &r)) == 0) {
		daimon_buf b = DAIMON_BUF_INIT;
		for (size_t i = 0; i < r.n; i++) {
			cJSON *h = cJSON_CreateObject();
			cJSON_AddStringToObject(h, "session", r.hits[i].session);
			cJSON_AddNumberToObject(h, "seq", (double)r.hits[i].seq);
			cJSON_AddStringToObject(h, "title", r.hits[i].title);
			cJSON_AddStringToObject(h, "snippet", r.hits[i].snippet);
			char *line = cJSON_PrintUnformatted(h);
			daimon_buf_addf(&b, "%s\n", line);
			cJSON_free(line);
			cJSON_Delete(h);
		}
		daimon_search_result_release(&r);
		*json_lines = daimon_xstrdup(daimon_buf_cstr(&b));
		daimon_buf_release(&b);
	}
	if (ix)
		daimon_index_close(ix);
	daimon_store_release(&st);
	return rc;
}

const daimon_skill_services daimon_skill_memory_services = {.memory_read = svc_memory_read, .search = svc_search};

int daimon_skill_env_open(daimon_skill_env *e, const char *home, daimon_mcp *mcp, const daimon_tool **tools)
{
	memset(e, 0, sizeof(*e));
	if (daimon_skillws_open(&e->ws, home, &daimon_skill_memory_services) < 0)
		return -1;
	e->sk = daimon_skills_new(home, &daimon_skill_memory_services);
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0)
		exe[n] = 0;
	daimon_settings *set = NULL;
	const char *a = NULL;
	if (daimon_settings_load(&set, home) == 0)
		daimon_settings_string(set, "skills.authoring", &a); /* (a bad one: its default) */
	daimon_authoring authoring = !a || !strcmp(a, "approve") ? DAIMON_AUTHORING_APPROVE
				     : !strcmp(a, "auto")        ? DAIMON_AUTHORING_AUTO
								 : DAIMON_AUTHORING_OFF;
	daimon_settings_free(set);
	cJSON *servers = daimon_mcp_snapshot(mcp);
	e->ts = daimon_skill_toolset_new(e->ws, e->sk, n > 0 ? exe : NULL, daimon_builtin_tools, authoring, servers);
	cJSON_Delete(servers);
	*tools = daimon_skill_toolset_tools(e->ts);
	return 0;
}

void daimon_skill_env_close(daimon_skill_env *e)
{
	daimon_skill_toolset_free(e->ts);
	daimon_skills_free(e->sk);
	daimon_skillws_close(e->ws);
	memset(e, 0, sizeof(*e));
}
