/*
 * skills.c — see skills.h.
 *
 * A version slot goes FREE -> FILLING (a loader claimed it) -> LIVE (it is
 * or was current) -> DRAINING (replaced; calls may still hold it) ->
 * FINALIZING (the last holder, or the swapper, won the right to close it)
 * -> FREE. `refs` counts the calls holding the version; a caller that
 * pinned a version just as it was replaced sees `current` moved, lets go,
 * and tries again, so it never runs code that is being closed.
 */
#include "skills/skills.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <daimon/skill.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/home.h"
#include "core/http.h"
#include "core/jsonutil.h"

#define SKILL_SLOTS 4
#define MAX_SKILLS 256

enum { SLOT_FREE, SLOT_FILLING, SLOT_LIVE, SLOT_DRAINING, SLOT_FINALIZING };

struct skill;

struct version {
	_Atomic int state;
	_Atomic uint32_t refs;
	void *dl;
	int fd; /* its memfd, open while it is loaded (see open_copy); -1: none */
	const daimon_skill *d;
	daimon_skill_tool *tools; /* d's tools as this host's struct (copy_tools) */
	struct skill *skill;
};

struct skill {
	char name[64];
	_Atomic(struct version *) current;
	struct version slots[SKILL_SLOTS];
	pthread_mutex_t swap_mu;
	daimon_skills *owner;
};

struct daimon_skills {
	char *home;
	daimon_skill_services svc;
	pthread_mutex_t mu; /* the table of skills (not the calls) */
	struct skill *skills[MAX_SKILLS];
	_Atomic int n;
	_Atomic uint64_t copies;
};

/* What the skill's hooks get: the host table first (skill.h's contract). */
struct daimon_skill_ctx {
	const daimon_skill_host *host;
	struct skill *skill;
	daimon_buf *out;
	daimon_buf *saved;
	const daimon_skill_call_opts *opts;
};

/* ---- the host table ---- */

static int h_reply(daimon_skill_ctx *ctx, const char *text, size_t len)
{
	if (!ctx->out)
		return -1;
	daimon_buf_add(ctx->out, text, len);
	return 0;
}

static int h_replyf(daimon_skill_ctx *ctx, const char *fmt, ...)
{
	if (!ctx->out)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	daimon_buf_add(ctx->out, s, (size_t)n);
	free(s);
	return 0;
}

static void h_log(daimon_skill_ctx *ctx, int level, const char *fmt, ...)
{
	static const char *const names[] = {"debug", "info", "warning", "error"};
	if (level < DAIMON_SKILL_INFO && !getenv("DAIMON_DEBUG"))
		return;
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) >= 0)
		fprintf(stderr, "daimon: skill %s: %s: %s\n", ctx->skill->name,
			names[level < 0 || level > 3 ? 1 : level], s);
	va_end(ap);
	free(s);
}

static int h_cancelled(daimon_skill_ctx *ctx)
{
	return ctx->opts && ctx->opts->cancelled && atomic_load(ctx->opts->cancelled);
}

static void h_progress(daimon_skill_ctx *ctx, double done, double total, const char *message)
{
	if (ctx->opts && ctx->opts->progress)
		ctx->opts->progress(ctx->opts->payload, done, total, message);
}

static void *h_alloc(size_t n)
{
	return malloc(n ? n : 1);
}

static void h_free(void *p)
{
	free(p);
}

static char *h_json_str(const char *json, const char *key)
{
	cJSON *j = cJSON_Parse(json ? json : "");
	const char *v = daimon_json_str(j, key);
	char *out = v ? strdup(v) : NULL;
	cJSON_Delete(j);
	return out;
}

static double h_json_num(const char *json, const char *key, double fallback)
{
	cJSON *j = cJSON_Parse(json ? json : "");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	double out = cJSON_IsNumber(v) ? v->valuedouble : fallback;
	cJSON_Delete(j);
	return out;
}

/* $DAIMON_HOME/skills/.kv/<skill>/<key>, the key made safe for a file name. */
static char *kv_path(daimon_skill_ctx *ctx, const char *key)
{
	const char *home = ctx->skill->owner->home;
	if (!home || !key || !*key || strlen(key) > 200)
		return NULL;
	char *safe = strdup(key);
	for (char *p = safe; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '_'))
			*p = '_';
	char *path = daimon_xasprintf("%s/skills/.kv/%s/%s", home, ctx->skill->name, safe);
	free(safe);
	return path;
}

static int h_kv_get(daimon_skill_ctx *ctx, const char *key, char **value, size_t *len)
{
	char *path = kv_path(ctx, key);
	daimon_buf b = DAIMON_BUF_INIT;
	int rc = path ? daimon_read_file(&b, path) : -1;
	free(path);
	if (rc < 0) {
		daimon_buf_release(&b);
		return -1;
	}
	if (len)
		*len = b.len;
	*value = b.ptr ? daimon_buf_detach(&b) : strdup("");
	return 0;
}

static int h_kv_set(daimon_skill_ctx *ctx, const char *key, const void *value, size_t len)
{
	char *path = kv_path(ctx, key);
	if (!path)
		return -1;
	char *dir = strdup(path);
	*strrchr(dir, '/') = 0;
	int rc = daimon_mkdir_p(dir, 0700);
	if (rc == 0)
		rc = daimon_write_file_atomic(path, value, len, 0600);
	free(dir);
	free(path);
	return rc;
}

/* Blocking, with a deadline: a tool runs on the work pool, never on a scheduler. */
static int h_http(daimon_skill_ctx *ctx, const char *method, const char *url, const char *const *headers,
		  const void *body, size_t body_len, long *status, char **response, size_t *response_len)
{
	(void)ctx;
	daimon_buf b = DAIMON_BUF_INIT;
	long st;
	if (daimon_http_fetch(method, url, headers, body, body_len, 60000, &st, &b) < 0) {
		daimon_buf_release(&b);
		return -1;
	}
	if (status)
		*status = st;
	if (response_len)
		*response_len = b.len;
	if (response)
		*response = b.ptr ? daimon_buf_detach(&b) : strdup("");
	daimon_buf_release(&b);
	return 0;
}

/* Memory and search are the upper layers', given to daimon_skills_new. */
static int h_memory_read(daimon_skill_ctx *ctx, const char *target, char **text)
{
	const daimon_skills *sk = ctx->skill->owner;
	return sk->svc.memory_read && sk->home ? sk->svc.memory_read(sk->home, target, text) : -1;
}

static int h_search(daimon_skill_ctx *ctx, const char *query, int limit, char **json_lines)
{
	const daimon_skills *sk = ctx->skill->owner;
	return sk->svc.search && sk->home ? sk->svc.search(sk->home, query, limit, json_lines) : -1;
}

static int h_save(daimon_skill_ctx *ctx, const void *state, size_t len)
{
	if (!ctx->saved)
		return -1;
	daimon_buf_clear(ctx->saved);
	daimon_buf_add(ctx->saved, state, len);
	return 0;
}

static const char *h_idempotency_key(daimon_skill_ctx *ctx)
{
	return ctx->opts && ctx->opts->idempotency_key ? ctx->opts->idempotency_key : "";
}

static const daimon_skill_host host_table = {
	.abi = DAIMON_SKILL_ABI,
	.size = sizeof(daimon_skill_host),
	.reply = h_reply,
	.replyf = h_replyf,
	.log = h_log,
	.cancelled = h_cancelled,
	.progress = h_progress,
	.alloc = h_alloc,
	.free = h_free,
	.json_str = h_json_str,
	.json_num = h_json_num,
	.kv_get = h_kv_get,
	.kv_set = h_kv_set,
	.http = h_http,
	.memory_read = h_memory_read,
	.search = h_search,
	.save = h_save,
	.idempotency_key = h_idempotency_key,
};

/* ---- versions ---- */

/* Unloads a copy open_copy made. */
static void close_copy(void *dl, int fd)
{
	dlclose(dl);
	if (fd >= 0)
		close(fd);
}

static void finalize(struct version *v)
{
	int draining = SLOT_DRAINING;
	if (!atomic_compare_exchange_strong(&v->state, &draining, SLOT_FINALIZING))
		return; /* someone else closes it */
	if (v->d->fini) {
		daimon_skill_ctx ctx = {.host = &host_table, .skill = v->skill};
		v->d->fini(&ctx);
	}
	close_copy(v->dl, v->fd);
	free(v->tools);
	v->dl = NULL;
	v->fd = -1;
	v->d = NULL;
	v->tools = NULL;
	atomic_store(&v->state, SLOT_FREE);
}

/* No longer current: closed now if nothing holds it, else by the next
 * sweep after its last call (never by a caller: dlclose takes the
 * loader's lock and unmaps, a millisecond a call should not pay). */
static void retire(struct version *old)
{
	if (!old)
		return;
	atomic_store(&old->state, SLOT_DRAINING);
	if (atomic_load(&old->refs) == 0)
		finalize(old);
}

/* Closes the versions whose last call has ended (under swap_mu). */
static void sweep(struct skill *s)
{
	for (int i = 0; i < SKILL_SLOTS; i++)
		if (atomic_load(&s->slots[i].state) == SLOT_DRAINING && atomic_load(&s->slots[i].refs) == 0)
			finalize(&s->slots[i]);
}

static struct version *pin(struct skill *s)
{
	for (;;) {
		struct version *v = atomic_load(&s->current);
		if (!v)
			return NULL;
		atomic_fetch_add(&v->refs, 1);
		if (atomic_load(&s->current) == v)
			return v;
		/* replaced meanwhile: let go and take the new one */
		atomic_fetch_sub(&v->refs, 1);
	}
}

static void unpin(struct version *v)
{
	atomic_fetch_sub(&v->refs, 1); /* (a drained version is closed by a sweep) */
}

daimon_skills *daimon_skills_new(const char *home, const daimon_skill_services *svc)
{
	daimon_skills *sk = daimon_xcalloc(1, sizeof(*sk));
	sk->home = home ? daimon_xstrdup(home) : NULL;
	if (svc)
		sk->svc = *svc;
	pthread_mutex_init(&sk->mu, NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return sk;
}

static struct skill *find(daimon_skills *sk, const char *name)
{
	int n = atomic_load(&sk->n);
	for (int i = 0; i < n; i++)
		if (!strcmp(sk->skills[i]->name, name))
			return sk->skills[i];
	return NULL;
}

/* Touches every page a loaded object maps, here on the loading thread:
 * the first calls into a new version then take no page faults — a fault
 * waits for the process's memory-map lock, which the next dlopen or the
 * dlclose of an old version may hold just then. */
struct prefault {
	uintptr_t base;
};

static int prefault_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	const struct prefault *p = arg;
	if (info->dlpi_addr != p->base)
		return 0;
	long page = sysconf(_SC_PAGESIZE);
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		const volatile char *at = (const volatile char *)(info->dlpi_addr + ph->p_vaddr);
		for (size_t off = 0; off < ph->p_memsz; off += (size_t)page)
			(void)at[off];
	}
	return 1;
}

static void prefault(void *dl)
{
	struct link_map *lm = NULL;
	if (dlinfo(dl, RTLD_DI_LINKMAP, &lm) == 0 && lm) {
		struct prefault p = {.base = (uintptr_t)lm->l_addr};
		dl_iterate_phdr(prefault_object, &p);
	}
}

/* Opens a copy of `so_path` of its own, so a file rebuilt in place is a
 * new object to dlopen, never the mapping of the old one. The copy is a
 * memfd — in memory, no file system work (and no writeback threads
 * taking a core from the callers) — or, where there are none, a
 * uniquely named file in $TMPDIR, unlinked once loaded. */
static void *open_copy(daimon_skills *sk, const char *so_path, int *fd_out)
{
	*fd_out = -1;
	daimon_buf data = DAIMON_BUF_INIT;
	if (daimon_read_file(&data, so_path) < 0)
		return NULL;
	void *dl = NULL;
	int mfd = memfd_create("daimon-skill", MFD_CLOEXEC);
	if (mfd >= 0 && daimon_write_all(mfd, data.ptr, data.len) == 0) {
		/* The memfd stays open as long as the object is loaded: the
		 * loader knows objects by their path too, and a closed fd's
		 * number, reused, would name the old object again. */
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
		dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (dl) {
			prefault(dl);
			*fd_out = mfd;
		} else {
			daimon_error("cannot load '%s': %s", so_path, dlerror());
			close(mfd);
		}
		daimon_buf_release(&data);
		return dl;
	}
	if (mfd >= 0)
		close(mfd);
	const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char *copy = daimon_xasprintf("%s/daimon-skill-%d-%llu.so", tmp, (int)getpid(),
				      (unsigned long long)atomic_fetch_add(&sk->copies, 1));
	/* (no fsync: the copy only has to outlive the dlopen below) */
	int fd = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
	if (fd < 0 || daimon_write_all(fd, data.ptr, data.len) < 0) {
		daimon_error_errno("cannot copy '%s' to load it", so_path);
	} else {
		close(fd);
		fd = -1;
		dl = dlopen(copy, RTLD_NOW | RTLD_LOCAL);
		if (!dl)
			daimon_error("cannot load '%s': %s", so_path, dlerror());
		else
			prefault(dl);
	}
	if (fd >= 0)
		close(fd);
	unlink(copy); /* the mapping stays */
	free(copy);
	daimon_buf_release(&data);
	return dl;
}

int daimon_skill_name_ok(const char *name, size_t max)
{
	size_t n = name ? strlen(name) : 0;
	return n && n <= max && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* The first ABI's tool: name to run, nothing after. */
#define ABI1_TOOL_SIZE (offsetof(daimon_skill_tool, run) + sizeof(void (*)(void)))

/* The skill's tools copied into this host's struct, read by the size the
 * skill was built with: members it does not have are 0, members this
 * host does not know are left. NULL (and the reason) if that size is
 * not one a tool can have. */
static daimon_skill_tool *copy_tools(const daimon_skill *d, const char *so_path)
{
	size_t size = ABI1_TOOL_SIZE;
	if (d->abi >= 2)
		size = d->tool_size;
	if (size < ABI1_TOOL_SIZE || size % sizeof(void *)) {
		daimon_error("'%s': its tools' size (%zu bytes) is not a tool's", so_path, size);
		return NULL;
	}
	daimon_skill_tool *tools = daimon_xcalloc(d->ntools ? d->ntools : 1, sizeof(*tools));
	for (size_t i = 0; i < d->ntools; i++)
		memcpy(&tools[i], (const char *)d->tools + i * size, size < sizeof(*tools) ? size : sizeof(*tools));
	return tools;
}

static int check_descriptor(const daimon_skill *d, const char *so_path, daimon_skill_tool **tools)
{
	*tools = NULL;
	if (!d)
		return daimon_error("'%s': daimon_skill_entry returned nothing", so_path);
	if (d->abi == 0 || d->abi > DAIMON_SKILL_ABI)
		return daimon_error("'%s' was built for skill ABI %u; this daimon knows up to %d", so_path, d->abi,
				    DAIMON_SKILL_ABI);
	size_t need = d->abi >= 2 ? offsetof(daimon_skill, tool_size) + sizeof(d->tool_size)
				  : offsetof(daimon_skill, fini) + sizeof(d->fini);
	if (d->size < need)
		return daimon_error("'%s': its descriptor is too small (%u bytes)", so_path, d->size);
	if (!daimon_skill_name_ok(d->name, 63))
		return daimon_error("'%s': the skill's name must be 1-63 of [a-z0-9_]", so_path);
	if (!(*tools = copy_tools(d, so_path)))
		return -1;
	for (size_t i = 0; i < d->ntools; i++) {
		const daimon_skill_tool *t = &(*tools)[i];
		if (!daimon_skill_name_ok(t->name, (size_t)-1) || !t->run)
			return daimon_error("'%s': tool %zu needs a name of [a-z0-9_] and a run function", so_path, i);
		cJSON *schema = cJSON_Parse(t->parameters ? t->parameters : "");
		int ok = cJSON_IsObject(schema);
		cJSON_Delete(schema);
		if (!ok) {
			daimon_error("'%s': the parameters of %s are not a JSON Schema object", so_path, t->name);
			free(*tools);
			*tools = NULL;
			return -1;
		}
	}
	return 0;
}

int daimon_skills_load(daimon_skills *sk, const char *so_path, char name_out[64])
{
	int fd;
	void *dl = open_copy(sk, so_path, &fd);
	if (!dl)
		return -1;
	daimon_skill_entry_fn entry = (daimon_skill_entry_fn)dlsym(dl, DAIMON_SKILL_ENTRY_SYMBOL);
	const daimon_skill *d = entry ? entry() : NULL;
	daimon_skill_tool *tools = NULL;
	int rc = entry ? check_descriptor(d, so_path, &tools)
		       : daimon_error("'%s' exports no %s", so_path, DAIMON_SKILL_ENTRY_SYMBOL);
	if (rc < 0) {
		close_copy(dl, fd);
		return rc;
	}
	pthread_mutex_lock(&sk->mu);
	struct skill *s = find(sk, d->name);
	if (!s && atomic_load(&sk->n) == MAX_SKILLS) {
		pthread_mutex_unlock(&sk->mu);
		close_copy(dl, fd);
		free(tools);
		return daimon_error("too many skills (at most %d)", MAX_SKILLS);
	}
	if (!s) {
		s = daimon_xcalloc(1, sizeof(*s));
		snprintf(s->name, sizeof(s->name), "%s", d->name);
		s->owner = sk;
		pthread_mutex_init(&s->swap_mu, NULL);
		for (int i = 0; i < SKILL_SLOTS; i++)
			s->slots[i].skill = s;
		sk->skills[atomic_load(&sk->n)] = s;
		atomic_fetch_add(&sk->n, 1);
	}
	pthread_mutex_unlock(&sk->mu);
	if (name_out)
		snprintf(name_out, 64, "%s", d->name);

	pthread_mutex_lock(&s->swap_mu);
	sweep(s);
	struct version *v = NULL;
	for (int i = 0; i < SKILL_SLOTS && !v; i++) {
		int fr = SLOT_FREE;
		if (atomic_compare_exchange_strong(&s->slots[i].state, &fr, SLOT_FILLING))
			v = &s->slots[i];
	}
	if (!v) {
		pthread_mutex_unlock(&s->swap_mu);
		close_copy(dl, fd);
		free(tools);
		return daimon_error("%d versions of %s are still held by calls; try again when they end", SKILL_SLOTS,
				    d->name);
	}
	/* The state the current version hands on, then the new one's init. */
	struct version *old = pin(s);
	daimon_buf saved = DAIMON_BUF_INIT;
	if (old && old->d->save_state) {
		daimon_skill_ctx ctx = {.host = &host_table, .skill = s, .saved = &saved};
		old->d->save_state(&ctx);
	}
	if (old)
		unpin(old);
	if (d->init) {
		daimon_skill_ctx ctx = {.host = &host_table, .skill = s};
		if (d->init(&ctx, saved.len ? saved.ptr : NULL, saved.len) < 0)
			rc = daimon_error("%s %s refused to start (its init failed); the version before stays", d->name,
					  d->version ? d->version : "");
	}
	daimon_buf_release(&saved);
	if (rc < 0) {
		close_copy(dl, fd);
		free(tools);
		atomic_store(&v->state, SLOT_FREE);
		pthread_mutex_unlock(&s->swap_mu);
		return rc;
	}
	v->dl = dl;
	v->fd = fd;
	v->d = d;
	v->tools = tools;
	atomic_store(&v->state, SLOT_LIVE);
	retire(atomic_exchange(&s->current, v)); /* published */
	pthread_mutex_unlock(&s->swap_mu);
	return 0;
}

int daimon_skills_unload(daimon_skills *sk, const char *name)
{
	pthread_mutex_lock(&sk->mu);
	struct skill *s = find(sk, name);
	pthread_mutex_unlock(&sk->mu);
	if (!s)
		return daimon_error_code(DAIMON_ENOTFOUND, "no skill '%s' is loaded", name);
	pthread_mutex_lock(&s->swap_mu);
	retire(atomic_exchange(&s->current, NULL));
	sweep(s);
	pthread_mutex_unlock(&s->swap_mu);
	return 0;
}

int daimon_skills_call(daimon_skills *sk, const char *skill, const char *tool, const char *args, daimon_buf *out,
		       const daimon_skill_call_opts *opts)
{
	struct skill *s = find(sk, skill);
	struct version *v = s ? pin(s) : NULL;
	if (!v) {
		daimon_buf_addf(out, "no skill '%s' is loaded", skill);
		return DAIMON_ENOTFOUND;
	}
	const daimon_skill_tool *t = NULL;
	for (size_t i = 0; i < v->d->ntools && !t; i++)
		if (!strcmp(v->tools[i].name, tool))
			t = &v->tools[i];
	int rc;
	if (!t) {
		daimon_buf_addf(out, "skill %s has no tool '%s'", skill, tool);
		rc = DAIMON_ENOTFOUND;
	} else {
		daimon_skill_ctx ctx = {.host = &host_table, .skill = s, .out = out, .opts = opts};
		rc = t->run(&ctx, args && *args ? args : "{}") < 0 ? -1 : 0;
	}
	unpin(v);
	return rc;
}

char *daimon_skills_describe(daimon_skills *sk)
{
	cJSON *a = cJSON_CreateArray();
	int n = atomic_load(&sk->n);
	for (int i = 0; i < n; i++) {
		struct version *v = pin(sk->skills[i]);
		if (!v)
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", v->d->name);
		cJSON_AddStringToObject(o, "version", v->d->version ? v->d->version : "");
		cJSON_AddStringToObject(o, "description", v->d->description ? v->d->description : "");
		cJSON *tools = cJSON_AddArrayToObject(o, "tools");
		for (size_t k = 0; k < v->d->ntools; k++) {
			const daimon_skill_tool *t = &v->tools[k];
			cJSON *to = cJSON_CreateObject();
			cJSON_AddStringToObject(to, "name", t->name);
			cJSON_AddStringToObject(to, "description", t->description ? t->description : "");
			cJSON *p = cJSON_Parse(t->parameters);
			cJSON_AddItemToObject(to, "parameters", p ? p : cJSON_CreateObject());
			cJSON_AddNumberToObject(to, "flags", t->flags);
			cJSON_AddItemToArray(tools, to);
		}
		cJSON_AddItemToArray(a, o);
		unpin(v);
	}
	char *text = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	return text;
}

int daimon_skills_live_versions(daimon_skills *sk, const char *name)
{
	struct skill *s = find(sk, name);
	int n = 0;
	if (s) {
		pthread_mutex_lock(&s->swap_mu);
		sweep(s);
		pthread_mutex_unlock(&s->swap_mu);
	}
	for (int i = 0; s && i < SKILL_SLOTS; i++) {
		int st = atomic_load(&s->slots[i].state);
		n += st == SLOT_LIVE || st == SLOT_DRAINING;
	}
	return n;
}

void daimon_skills_free(daimon_skills *sk)
{
	if (!sk)
		return;
	int n = atomic_load(&sk->n);
	for (int i = 0; i < n; i++) /* (all first: unloading one looks through the others) */
		daimon_skills_unload(sk, sk->skills[i]->name);
	for (int i = 0; i < n; i++) {
		pthread_mutex_destroy(&sk->skills[i]->swap_mu);
		free(sk->skills[i]);
	}
	pthread_mutex_destroy(&sk->mu);
	free(sk->home);
	free(sk);
}
