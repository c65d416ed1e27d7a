/*
 * mcp-host.c — see mcp.h: daimon as an MCP host (the client side), MCP as
 * a port's protocol and the "mcp" actor that runs the configured servers.
 */
#include "skills/mcp.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/jsonutil.h"
#include "core/port.h"
#include "core/settings.h"
#include "core/timefmt.h"
#include "core/work.h"

#define LIST_TIMEOUT_MS 30000

struct server {
	char *name;
	daimon_aid port;
	long timeout_ms;
	int side_effecting, idempotent; /* -1: as the tool's annotations say */
	enum { S_STARTING, S_READY, S_FAILED } state;
	char error[256];
	cJSON *tools;   /* the last complete list */
	cJSON *listing; /* the list being read (pages so far); NULL: none */
	int relist;     /* list again once this listing ends */
	uint32_t seq;   /* of the listing in flight */
	int settled;    /* listed or failed at least once */
};

struct daimon_mcp {
	daimon_rt *rt;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct server *s;
	int n;
	daimon_aid actor;
	void (*on_change)(void *arg);
	void *change_arg;
	cJSON *conf; /* the servers' settings, until the actor has started them */
	int log_fd;
};

int daimon_mcp_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n < 1 || n > 32)
		return 0;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-')
			return 0;
	return 1;
}

/* mcp.servers, a copy (an empty object when there is none). */
static cJSON *servers_of(const daimon_settings *set)
{
	const cJSON *s = daimon_settings_json(set, "mcp.servers");
	return cJSON_IsObject(s) ? cJSON_Duplicate(s, 1) : cJSON_CreateObject();
}

int daimon_mcp_config(cJSON **servers, const char *home)
{
	daimon_settings *set;
	*servers = NULL;
	if (daimon_settings_load(&set, home) < 0)
		return -1;
	*servers = servers_of(set);
	daimon_settings_free(set);
	return 0;
}

/* A server's setting `field`, its path in the settings table. */
static const char *server_path(char *buf, size_t len, const char *name, const char *field)
{
	snprintf(buf, len, "mcp.servers.%s.%s", name, field);
	return buf;
}

/* A flag the server's settings may leave out: -1 then (the tools'
 * annotations say). */
static int server_flag(const daimon_settings *set, const char *name, const char *field, int *out)
{
	char path[96];
	*out = -1;
	server_path(path, sizeof(path), name, field);
	return daimon_settings_has(set, path) ? daimon_settings_bool(set, path, out) : 0;
}

/* One server's settings, each read through the settings table, so a
 * value of the wrong type or out of range leaves this server out, saying
 * which and why, and costs the others nothing. */
static int server_settings(const daimon_settings *set, const char *name, struct server *sv)
{
	char path[96];
	const char *cmd;
	int64_t timeout_s;
	if (!daimon_mcp_name_ok(name))
		return daimon_error("it needs a name of letters, digits and '-'");
	if (daimon_settings_string(set, server_path(path, sizeof(path), name, "command"), &cmd) < 0)
		return -1;
	if (!cmd || !*cmd)
		return daimon_error("it has no command (%s)", path);
	static const char *const lists[] = {"args", "env", "roots"};
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		if (daimon_settings_has(set, server_path(path, sizeof(path), name, lists[i])) &&
		    !daimon_settings_json(set, path))
			return -1;
	if (daimon_settings_int(set, server_path(path, sizeof(path), name, "timeout_s"), &timeout_s) < 0 ||
	    server_flag(set, name, "side_effecting", &sv->side_effecting) < 0 ||
	    server_flag(set, name, "idempotent", &sv->idempotent) < 0)
		return -1;
	sv->timeout_ms = (long)timeout_s * 1000;
	return 0;
}

char *daimon_mcp_call_params(const char *tool, const cJSON *args, const char *idempotency_key)
{
	cJSON *p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "name", tool);
	cJSON_AddItemToObject(p, "arguments", args ? cJSON_Duplicate(args, 1) : cJSON_CreateObject());
	if (idempotency_key && *idempotency_key)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "_meta"), "daimon/idempotencyKey", idempotency_key);
	char *text = cJSON_PrintUnformatted(p);
	cJSON_Delete(p);
	return text;
}

int daimon_mcp_result_text(const char *result, daimon_buf *out)
{
	cJSON *r = cJSON_Parse(result);
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(r, "content");
	int first = 1;
	for (const cJSON *c = content ? content->child : NULL; c; c = c->next) {
		const char *type = daimon_json_str(c, "type"), *text = daimon_json_str(c, "text");
		if (!first)
			daimon_buf_addc(out, '\n');
		first = 0;
		if (text)
			daimon_buf_adds(out, text);
		else /* an image, a resource: said, not shown */
			daimon_buf_addf(out, "[%s content]", type ? type : "unknown");
	}
	const cJSON *structured = cJSON_GetObjectItemCaseSensitive(r, "structuredContent");
	if (first && structured)
		daimon_json_print(out, structured);
	int is_error = !r || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "isError"));
	if (!r)
		daimon_buf_adds(out, "the server's answer is not JSON");
	cJSON_Delete(r);
	return is_error;
}

/* ---- MCP as a port's protocol ---- */

/* The program's requests: ping, and roots/list from the port's data (the
 * roots as a JSON array; none: []). */
static cJSON *mcp_serve_request(const char *method, const cJSON *params, const char *data, int *code, const char **why)
{
	(void)params;
	if (!strcmp(method, "ping"))
		return cJSON_CreateObject();
	if (!strcmp(method, "roots/list")) {
		cJSON *res = cJSON_CreateObject(), *roots = data ? cJSON_Parse(data) : NULL;
		cJSON_AddItemToObject(res, "roots", roots ? roots : cJSON_CreateArray());
		return res;
	}
	*code = -32601, *why = "method not found";
	return NULL;
}

/* The caller's ref is the progress token, so progress finds its way back. */
static void mcp_tag(cJSON *params, uint64_t ref)
{
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(params, "_meta");
	if (!meta)
		meta = cJSON_AddObjectToObject(params, "_meta");
	cJSON_AddNumberToObject(meta, "progressToken", (double)ref);
}

static int mcp_progress(const char *method, const cJSON *params, uint64_t *ref)
{
	const cJSON *token = cJSON_GetObjectItemCaseSensitive(params, "progressToken");
	if (strcmp(method, "notifications/progress") || !cJSON_IsNumber(token))
		return 0;
	*ref = (uint64_t)token->valuedouble;
	return 1;
}

static cJSON *mcp_cancelled(int64_t id, const char **method)
{
	cJSON *p = cJSON_CreateObject();
	cJSON_AddNumberToObject(p, "requestId", (double)id);
	cJSON_AddStringToObject(p, "reason", "cancelled by daimon");
	*method = "notifications/cancelled";
	return p;
}

const daimon_port_protocol daimon_mcp_protocol = {.hello = "initialize",
						  .welcomed = "notifications/initialized",
						  .ping = "ping",
						  .serve = mcp_serve_request,
						  .tag = mcp_tag,
						  .progress = mcp_progress,
						  .cancelled = mcp_cancelled};

/* ---- the "mcp" actor ---- */

static uint64_t ref_of(int server, uint32_t seq)
{
	return ((uint64_t)(unsigned)server << 32) | seq;
}

static void list(daimon_ctx *ctx, daimon_mcp *m, int i, const char *cursor)
{
	struct server *sv = &m->s[i];
	char *params = NULL;
	if (cursor) {
		cJSON *p = cJSON_CreateObject();
		cJSON_AddStringToObject(p, "cursor", cursor);
		params = cJSON_PrintUnformatted(p);
		cJSON_Delete(p);
	} else {
		cJSON_Delete(sv->listing);
		sv->listing = cJSON_CreateArray();
		sv->relist = 0;
	}
	sv->seq++;
	daimon_port_call_send(ctx, sv->port, ref_of(i, sv->seq), "tools/list", params ? params : "{}", LIST_TIMEOUT_MS);
	cJSON_free(params);
}

static int server_of(daimon_mcp *m, daimon_aid port)
{
	for (int i = 0; i < m->n; i++)
		if (m->s[i].port == port)
			return i;
	return -1;
}

static void settle(daimon_mcp *m, struct server *sv)
{
	sv->settled = 1;
	pthread_cond_broadcast(&m->cv);
}

static void listed(daimon_ctx *ctx, daimon_mcp *m, int i, const daimon_job_done *d)
{
	struct server *sv = &m->s[i];
	if (!sv->listing || (uint32_t)d->ref != sv->seq)
		return; /* an old listing's */
	if (d->status != 0) {
		pthread_mutex_lock(&m->mu);
		sv->state = S_FAILED;
		snprintf(sv->error, sizeof(sv->error), "%.*s", (int)d->len, d->text);
		cJSON_Delete(sv->listing);
		sv->listing = NULL;
		settle(m, sv);
		pthread_mutex_unlock(&m->mu);
		return;
	}
	cJSON *r = cJSON_ParseWithLength(d->text, d->len);
	const cJSON *tools = cJSON_GetObjectItemCaseSensitive(r, "tools");
	for (const cJSON *t = cJSON_IsArray(tools) ? tools->child : NULL; t; t = t->next) {
		const char *name = daimon_json_str(t, "name");
		if (!name)
			continue;
		const cJSON *ann = cJSON_GetObjectItemCaseSensitive(t, "annotations");
		const cJSON *schema = cJSON_GetObjectItemCaseSensitive(t, "inputSchema");
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", name);
		cJSON_AddStringToObject(o, "description",
					daimon_json_str(t, "description") ? daimon_json_str(t, "description") : "");
		cJSON_AddItemToObject(o, "inputSchema",
				      cJSON_IsObject(schema) ? cJSON_Duplicate(schema, 1)
							     : cJSON_Parse("{\"type\":\"object\"}"));
		/* MCP's defaults: not read-only (it may change the world), not idempotent */
		int fx = sv->side_effecting >= 0 ? sv->side_effecting
						 : !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ann, "readOnlyHint"));
		int idem = sv->idempotent >= 0 ? sv->idempotent
					       : cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ann, "idempotentHint"));
		cJSON_AddBoolToObject(o, "side_effecting", fx);
		cJSON_AddBoolToObject(o, "idempotent", idem);
		cJSON_AddItemToArray(sv->listing, o);
	}
	const char *next = daimon_json_str(r, "nextCursor");
	if (next && *next && cJSON_GetArraySize(sv->listing) < 10000) {
		list(ctx, m, i, next);
		cJSON_Delete(r);
		return;
	}
	cJSON_Delete(r);
	pthread_mutex_lock(&m->mu);
	int same = sv->tools && cJSON_Compare(sv->tools, sv->listing, 1);
	cJSON_Delete(sv->tools);
	sv->tools = sv->listing;
	sv->listing = NULL;
	sv->state = S_READY;
	sv->error[0] = 0;
	settle(m, sv);
	void (*fn)(void *) = same ? NULL : m->on_change; /* (a list_changed that changed nothing) */
	void *arg = m->change_arg;
	int again = sv->relist;
	pthread_mutex_unlock(&m->mu);
	if (fn)
		fn(arg);
	if (again)
		list(ctx, m, i, NULL);
}

static void noted(daimon_ctx *ctx, daimon_mcp *m, int i, const char *text)
{
	struct server *sv = &m->s[i];
	cJSON *n = cJSON_Parse(text);
	const char *method = daimon_json_str(n, "method");
	if (method && (!strcmp(method, "notifications/tools/list_changed") || !strcmp(method, "daimon/ready"))) {
		/* (a ready after the first means the server came back: its tools may differ) */
		if (!strcmp(method, "daimon/ready") && !sv->settled)
			; /* the first listing is on its way */
		else if (sv->listing)
			sv->relist = 1;
		else
			list(ctx, m, i, NULL);
	} else if (method && !strcmp(method, "notifications/message")) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(n, "params");
		char *data = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(p, "data"));
		dprintf(m->log_fd > 0 ? m->log_fd : 2, "daimon: mcp-%s: %s: %s\n", sv->name,
			daimon_json_str(p, "level") ? daimon_json_str(p, "level") : "log", data ? data : "");
		cJSON_free(data);
	}
	cJSON_Delete(n);
}

static int mcp_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	daimon_mcp *mcp = state;
	if (m->type == DAIMON_MSG_JOB_DONE && m->len >= sizeof(daimon_job_done)) {
		const daimon_job_done *d = m->data;
		int k = (int)(d->ref >> 32);
		if (k >= 0 && k < mcp->n)
			listed(ctx, mcp, k, d);
	} else if (m->type == DAIMON_PORT_NOTE && m->len) {
		int i = server_of(mcp, m->from);
		if (i >= 0)
			noted(ctx, mcp, i, m->data);
	}
	return DAIMON_CONTINUE;
}

/* roots: ["/path", …] as MCP roots [{"uri":"file:///path","name":"path"}] */
static char *roots_json(const cJSON *roots)
{
	cJSON *a = cJSON_CreateArray();
	for (const cJSON *r = cJSON_IsArray(roots) ? roots->child : NULL; r; r = r->next) {
		if (!cJSON_IsString(r))
			continue;
		cJSON *o = cJSON_CreateObject();
		char *uri = strstr(r->valuestring, "://") ? daimon_xstrdup(r->valuestring)
							  : daimon_xasprintf("file://%s", r->valuestring);
		cJSON_AddStringToObject(o, "uri", uri);
		const char *base = strrchr(r->valuestring, '/');
		cJSON_AddStringToObject(o, "name", base && base[1] ? base + 1 : r->valuestring);
		cJSON_AddItemToArray(a, o);
		free(uri);
	}
	char *text = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	return text;
}

static const daimon_behaviour mcp_behaviour;

static daimon_aid start_port(daimon_rt *rt, daimon_aid parent, daimon_aid notify, const char *name, const cJSON *conf,
			     int log_fd)
{
	const char *cmd = daimon_json_str(conf, "command");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(conf, "args");
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(conf, "env");
	int nargs = cJSON_IsArray(args) ? cJSON_GetArraySize(args) : 0,
	    nenv = cJSON_IsObject(env) ? cJSON_GetArraySize(env) : 0;
	const char **argv = daimon_xcalloc((size_t)nargs + 2, sizeof(char *));
	char **envp = daimon_xcalloc((size_t)nenv + 1, sizeof(char *));
	int k = 0;
	argv[k++] = cmd;
	for (const cJSON *a = nargs ? args->child : NULL; a; a = a->next)
		if (cJSON_IsString(a))
			argv[k++] = a->valuestring;
	k = 0;
	for (const cJSON *e = nenv ? env->child : NULL; e; e = e->next)
		if (cJSON_IsString(e))
			envp[k++] = daimon_xasprintf("%s=%s", e->string, e->valuestring);
	char *roots = roots_json(cJSON_GetObjectItemCaseSensitive(conf, "roots"));
	char *port = daimon_xasprintf("mcp-%s", name);
	/* Roots are offered only when there are some: a server told of them
	 * asks for them, and one that asks as its stdin closes waits for an
	 * answer that cannot come (then SIGTERM ends it, 2 s later). */
	daimon_port_opts o = {
		.name = port,
		.argv = argv,
		.env = (const char *const *)envp,
		.protocol = &daimon_mcp_protocol,
		.hello = strcmp(roots, "[]") ? DAIMON_MCP_HELLO_ROOTS : DAIMON_MCP_HELLO,
		.data = roots,
		.notify = notify,
		.parent = parent,
		.log_fd = log_fd,
		.restart_ms = 250,
		.ping_ms = 30000,
	};
	daimon_aid id = daimon_port_start(rt, &o);
	for (int i = 0; i < nenv; i++)
		free(envp[i]);
	free(envp);
	free(argv);
	free(roots);
	free(port);
	return id;
}

/* The actor starts its ports (its children) and lists their tools. */
static int mcp_init(daimon_ctx *ctx, void *state)
{
	daimon_mcp *m = state;
	int k = 0;
	for (const cJSON *c = m->conf->child; c; c = c->next)
		if (k < m->n && !strcmp(c->string, m->s[k].name)) {
			daimon_aid port = start_port(daimon_ctx_rt(ctx), daimon_self(ctx), daimon_self(ctx), c->string,
						     c, m->log_fd);
			pthread_mutex_lock(&m->mu);
			m->s[k].port = port;
			pthread_mutex_unlock(&m->mu);
			list(ctx, m, k++, NULL); /* (starts the server) */
		}
	cJSON_Delete(m->conf);
	m->conf = NULL;
	daimon_set_state_label(ctx, "supervising");
	return DAIMON_CONTINUE;
}

daimon_mcp *daimon_mcp_start(daimon_rt *rt, const char *home, const char *only, int log_fd)
{
	daimon_settings *set;
	if (daimon_settings_load(&set, home) < 0)
		return NULL;
	cJSON *servers = servers_of(set);
	daimon_mcp *m = daimon_xcalloc(1, sizeof(*m));
	m->rt = rt;
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	m->s = daimon_xcalloc((size_t)cJSON_GetArraySize(servers) + 1, sizeof(*m->s));
	for (const cJSON *c = servers->child; c; c = c->next) {
		if (only && strcmp(c->string, only))
			continue;
		struct server *sv = &m->s[m->n];
		if (server_settings(set, c->string, sv) < 0) {
			fprintf(stderr, "daimon: MCP server '%s' is left out: %s\n", c->string, daimon_error_last());
			continue;
		}
		sv->name = daimon_xstrdup(c->string);
		m->n++;
	}
	daimon_settings_free(set);
	m->conf = servers;
	m->log_fd = log_fd;
	daimon_spawn_opts so = {.behaviour = &mcp_behaviour, .state = m};
	m->actor = daimon_spawn(rt, &so);
	daimon_register(rt, "mcp", m->actor);
	return m;
}

int daimon_mcp_wait(daimon_mcp *m, long timeout_ms)
{
	if (!m)
		return 1;
	struct timespec until;
	daimon_realtime_after(&until, timeout_ms);
	pthread_mutex_lock(&m->mu);
	int all = 0;
	for (;;) {
		all = 1;
		for (int i = 0; i < m->n; i++)
			all &= m->s[i].settled;
		if (all || pthread_cond_timedwait(&m->cv, &m->mu, &until))
			break;
	}
	pthread_mutex_unlock(&m->mu);
	return all;
}

cJSON *daimon_mcp_snapshot(daimon_mcp *m)
{
	cJSON *a = cJSON_CreateArray();
	if (!m)
		return a;
	pthread_mutex_lock(&m->mu);
	for (int i = 0; i < m->n; i++) {
		struct server *sv = &m->s[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", sv->name);
		cJSON_AddStringToObject(o, "state",
					sv->state == S_READY    ? "ready"
					: sv->state == S_FAILED ? "failed"
								: "starting");
		if (sv->error[0])
			cJSON_AddStringToObject(o, "error", sv->error);
		cJSON_AddNumberToObject(o, "timeout_ms", (double)sv->timeout_ms);
		cJSON_AddItemToObject(o, "tools", sv->tools ? cJSON_Duplicate(sv->tools, 1) : cJSON_CreateArray());
		cJSON_AddItemToArray(a, o);
	}
	pthread_mutex_unlock(&m->mu);
	return a;
}

void daimon_mcp_on_change(daimon_mcp *m, void (*fn)(void *arg), void *arg)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	m->on_change = fn;
	m->change_arg = arg;
	pthread_mutex_unlock(&m->mu);
}

daimon_aid daimon_mcp_port(daimon_rt *rt, const char *server)
{
	char *reg = daimon_xasprintf("port:mcp-%s", server);
	daimon_aid id = daimon_whereis(rt, reg);
	free(reg);
	return id;
}

void daimon_mcp_stop(daimon_mcp *m)
{
	if (!m)
		return;
	daimon_mcp_on_change(m, NULL, NULL);
	/* each port: stdin closed, SIGTERM after 2 s, SIGKILL after 2 more */
	daimon_aid *ports = daimon_xcalloc((size_t)m->n + 1, sizeof(daimon_aid));
	pthread_mutex_lock(&m->mu);
	for (int i = 0; i < m->n; i++)
		ports[i] = m->s[i].port;
	pthread_mutex_unlock(&m->mu);
	for (int i = 0; i < m->n; i++)
		if (ports[i])
			daimon_cancel(m->rt, ports[i], 6000);
	for (int tries = 0; tries < 600; tries++) {
		int alive = 0;
		for (int i = 0; i < m->n; i++)
			alive += ports[i] && daimon_alive(m->rt, ports[i]);
		if (!alive)
			break;
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	free(ports);
	daimon_cancel(m->rt, m->actor, 1000);
	for (int tries = 0; tries < 100 && daimon_alive(m->rt, m->actor); tries++) {
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < m->n; i++) {
		free(m->s[i].name);
		cJSON_Delete(m->s[i].tools);
		cJSON_Delete(m->s[i].listing);
	}
	free(m->s);
	cJSON_Delete(m->conf);
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cv);
	free(m);
}

static const daimon_behaviour mcp_behaviour = {.name = "mcp", .init = mcp_init, .handle = mcp_handle};
