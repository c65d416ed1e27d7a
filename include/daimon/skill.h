/*
 * daimon/skill.h — the one header a daimon skill needs.
 *
 * A skill is C (or C++) compiled into a shared object that exports one
 * symbol, daimon_skill_entry, returning a descriptor: what the skill is,
 * the tools it offers the model, and three optional hooks (init,
 * save_state, fini). daimon loads it with dlopen, calls its tools from
 * its worker threads (a tool may run on several threads at once), and
 * swaps in a new version while calls are in flight: the new version's
 * init gets whatever the old one saved with save_state.
 *
 * The host table passed to init and to every tool is how a skill talks
 * back: the result of a call, logging, the cancellation flag, progress,
 * a small key-value store of its own, HTTP through daimon, read access to
 * memory and search. It only ever grows at its end; check `size` before
 * using a member added after your ABI version.
 *
 * Build: `daimon skill build NAME` compiles with the flags in
 * skill.pc (next to this header), e.g.
 *   cc -std=c11 -O2 -fPIC -shared -Wall -Wextra -I<dir> skill.c -o skill.so
 *
 * Example:
 *   #include <daimon/skill.h>
 *
 *   static int greet(daimon_skill_ctx *ctx, const char *args)
 *   {
 *           const daimon_skill_host *h = daimon_skill_host_of(ctx);
 *           char *name = h->json_str(args, "name");
 *           h->replyf(ctx, "Hello, %s!", name ? name : "you");
 *           h->free(name);
 *           return 0;
 *   }
 *
 *   static const daimon_skill_tool tools[] = {
 *           {"greet", "Greets someone.",
 *            "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}}}", 0, greet},
 *   };
 *
 *   DAIMON_SKILL(.name = "hello", .version = "1", .description = "Says hello.",
 *                .tools = tools, .ntools = 1);
 */
#ifndef DAIMON_SKILL_H
#define DAIMON_SKILL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI this header describes. A skill built against a newer ABI than
 * the host knows is refused; an older one is served as it was.
 *   1  the first
 *   2  the descriptor says its tools' size (tool_size), so a tool can grow */
#define DAIMON_SKILL_ABI 2

/* One call (or init, save_state, fini): opaque, valid until the hook returns. */
typedef struct daimon_skill_ctx daimon_skill_ctx;

/* Tool flags. */
enum {
	DAIMON_SKILL_SIDE_EFFECTS = 1 << 0,  /* changes the world (sends, writes, pays) */
	DAIMON_SKILL_IDEMPOTENT = 1 << 1,    /* safe to run again with the same idempotency key */
	DAIMON_SKILL_NEEDS_APPROVAL = 1 << 2 /* the user approves each call */
};

enum { DAIMON_SKILL_DEBUG = 0, DAIMON_SKILL_INFO = 1, DAIMON_SKILL_WARN = 2, DAIMON_SKILL_ERROR = 3 };

/* A tool. New members are added at the end only: daimon reads a skill's
 * tools by the size it was built with (daimon_skill.tool_size), and a
 * member the skill did not have is 0. */
typedef struct daimon_skill_tool {
	const char *name;        /* [a-z0-9_]; the model sees SKILL.TOOL */
	const char *description; /* one line */
	const char *parameters;  /* JSON Schema of the arguments, checked before the call */
	unsigned flags;          /* DAIMON_SKILL_* */
	/* Runs the tool with its arguments (a JSON object, as text). The result
	 * is what the tool wrote with reply/replyf; return 0, or < 0 for a
	 * failed call (the text written then says why). */
	int (*run)(daimon_skill_ctx *ctx, const char *args_json);
} daimon_skill_tool;

typedef struct daimon_skill_host {
	uint32_t abi;  /* DAIMON_SKILL_ABI of the host */
	uint32_t size; /* sizeof(daimon_skill_host) of the host */

	/* The result of the call: appended as written. */
	int (*reply)(daimon_skill_ctx *ctx, const char *text, size_t len);
	int (*replyf)(daimon_skill_ctx *ctx, const char *fmt, ...)
#if defined(__GNUC__)
		__attribute__((format(printf, 2, 3)))
#endif
		;
	/* To daimon's log, tagged with the skill's name. */
	void (*log)(daimon_skill_ctx *ctx, int level, const char *fmt, ...)
#if defined(__GNUC__)
		__attribute__((format(printf, 3, 4)))
#endif
		;
	/* Non-zero once the call is cancelled or past its deadline: return soon. */
	int (*cancelled)(daimon_skill_ctx *ctx);
	/* How far a long call is (shown to the user). */
	void (*progress)(daimon_skill_ctx *ctx, double done, double total, const char *message);

	/* Memory from these functions is the host's: release it with free. */
	void *(*alloc)(size_t size);
	void (*free)(void *p);
	/* The string field `key` of the JSON object `json`, or NULL. */
	char *(*json_str)(const char *json, const char *key);
	/* The number field `key` of the JSON object `json`, or `fallback`. */
	double (*json_num)(const char *json, const char *key, double fallback);

	/* A small key-value store of the skill's own, kept across versions and
	 * restarts. get: 0 and *value (host memory, NUL-terminated) or < 0. */
	int (*kv_get)(daimon_skill_ctx *ctx, const char *key, char **value, size_t *len);
	int (*kv_set)(daimon_skill_ctx *ctx, const char *key, const void *value, size_t len);

	/* HTTP through daimon: 0 and the status and body (host memory), or < 0. */
	int (*http)(daimon_skill_ctx *ctx, const char *method, const char *url, const char *const *headers,
		    const void *body, size_t body_len, long *status, char **response, size_t *response_len);
	/* Read access to memory: "memory", "user" or "soul" (host memory). */
	int (*memory_read)(daimon_skill_ctx *ctx, const char *target, char **text);
	/* Search every conversation: the hits as JSON lines (host memory). */
	int (*search)(daimon_skill_ctx *ctx, const char *query, int limit, char **json_lines);

	/* For save_state: the state the next version's init will get. */
	int (*save)(daimon_skill_ctx *ctx, const void *state, size_t len);
	/* The idempotency key of a side-effecting call ("" when none). */
	const char *(*idempotency_key)(daimon_skill_ctx *ctx);
	/* New members are added here, at the end, only. */
} daimon_skill_host;

typedef struct daimon_skill {
	uint32_t abi;  /* DAIMON_SKILL_ABI the skill was built against */
	uint32_t size; /* sizeof(daimon_skill) */
	const char *name;
	const char *version;
	const char *description;
	const daimon_skill_tool *tools;
	size_t ntools;
	/* Once per loaded version, before any call: `state` is what the
	 * version before saved (NULL and 0 if none). 0, or < 0 to refuse to load. */
	int (*init)(daimon_skill_ctx *ctx, const void *state, size_t state_len);
	/* Before this version is replaced: host->save(ctx, ...) what the next
	 * one should get. Calls may still run on this version while and after
	 * it saves (a swap never makes a caller wait); what they change then is
	 * not handed on, so keep what must not be lost in kv_set. May be NULL. */
	int (*save_state)(daimon_skill_ctx *ctx);
	/* When no call holds this version any more. May be NULL. */
	void (*fini)(daimon_skill_ctx *ctx);
	/* ABI 2: sizeof(daimon_skill_tool) as the skill was built (DAIMON_SKILL
	 * sets it; an ABI 1 skill's tools are the first ABI's). */
	uint32_t tool_size;
} daimon_skill;

/* The host table, from any context (a context starts with a pointer to it). */
static inline const daimon_skill_host *daimon_skill_host_of(daimon_skill_ctx *ctx)
{
	return *(const daimon_skill_host *const *)(const void *)ctx;
}

/* The entry symbol every skill exports. */
#define DAIMON_SKILL_ENTRY_SYMBOL "daimon_skill_entry"
typedef const daimon_skill *(*daimon_skill_entry_fn)(void);

#if defined(__GNUC__)
#define DAIMON_SKILL_EXPORT __attribute__((visibility("default")))
#else
#define DAIMON_SKILL_EXPORT
#endif

/* Declares the descriptor and the entry symbol (C; in C++, write the
 * entry function returning a filled-in daimon_skill yourself, tool_size
 * and all). */
#define DAIMON_SKILL(...)                                                                                          \
	static const daimon_skill daimon_skill_descriptor_ = {DAIMON_SKILL_ABI, sizeof(daimon_skill), __VA_ARGS__, \
							      .tool_size = sizeof(daimon_skill_tool)};             \
	DAIMON_SKILL_EXPORT const daimon_skill *daimon_skill_entry(void);                                          \
	DAIMON_SKILL_EXPORT const daimon_skill *daimon_skill_entry(void)                                           \
	{                                                                                                          \
		return &daimon_skill_descriptor_;                                                                  \
	}                                                                                                          \
	extern const daimon_skill *daimon_skill_entry(void) /* (takes the caller's semicolon) */

#ifdef __cplusplus
}
#endif

#endif
