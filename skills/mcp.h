/*
 * mcp.h — daimon as an MCP host: tools in any language, each MCP server a
 * supervised child process speaking JSON-RPC over stdio (core/port.h).
 *
 * The servers are configured in config.json:
 *
 *   "mcp": {"servers": {"NAME": {"command": "node", "args": ["server.js"],
 *            "env": {"K": "V"}, "roots": ["/home/me/notes"],
 *            "timeout_s": 60, "side_effecting": false, "idempotent": false}}}
 *
 * Each runs as a port ("port:mcp-NAME") under one actor, "mcp", which
 * starts them all, lists their tools (following nextCursor), lists again
 * when a server says notifications/tools/list_changed or comes back after
 * a crash, and keeps what it found for the sessions: their tools are
 * offered as NAME.TOOL. A server that crashes is started again with a
 * growing delay, within a restart intensity. Whether a tool changes the
 * world and may be run twice comes from its annotations (readOnlyHint,
 * idempotentHint) unless the server's settings say otherwise.
 */
#ifndef DAIMON_SKILLS_MCP_H
#define DAIMON_SKILLS_MCP_H

#include <cjson/cJSON.h>

#include "core/actor.h"
#include "core/buf.h"
#include "core/port.h"

#define DAIMON_MCP_VERSION "2025-11-25"

/* MCP as a port's protocol (core/port.h): the initialize handshake, pings,
 * roots/list answered from the port's data (a JSON array of roots),
 * progress by progressToken, notifications/cancelled. */
extern const daimon_port_protocol daimon_mcp_protocol;
/* initialize's params, daimon as the client (with roots: it offers them). */
#define DAIMON_MCP_HELLO                                                       \
	"{\"protocolVersion\":\"" DAIMON_MCP_VERSION "\",\"capabilities\":{}," \
	"\"clientInfo\":{\"name\":\"daimon\",\"version\":\"" DAIMON_VERSION "\"}}"
#define DAIMON_MCP_HELLO_ROOTS                                                             \
	"{\"protocolVersion\":\"" DAIMON_MCP_VERSION "\",\"capabilities\":{\"roots\":{}}," \
	"\"clientInfo\":{\"name\":\"daimon\",\"version\":\"" DAIMON_VERSION "\"}}"

typedef struct daimon_mcp daimon_mcp;

/* config.json's "mcp"."servers" (an empty object when there is none). */
int daimon_mcp_config(cJSON **servers, const char *home);
/* Whether NAME may name a server: letters, digits and '-', 1 to 32. */
int daimon_mcp_name_ok(const char *name);

/* Starts the configured servers in `rt` (all, or the one named `only`);
 * their stderr goes to log_fd (0: daimon's stderr). NULL only if
 * config.json cannot be read. */
daimon_mcp *daimon_mcp_start(daimon_rt *rt, const char *home, const char *only, int log_fd);
/* Waits until every server has listed its tools or failed (at most
 * timeout_ms); 1 if all did. */
int daimon_mcp_wait(daimon_mcp *m, long timeout_ms);
/* What is known now: [{"name","state","error","tools":[{"name",
 * "description","inputSchema","side_effecting","idempotent"}],
 * "timeout_ms"}] (caller frees). */
cJSON *daimon_mcp_snapshot(daimon_mcp *m);
/* Called (from the "mcp" actor) after a server's tools change. */
void daimon_mcp_on_change(daimon_mcp *m, void (*fn)(void *arg), void *arg);
/* Shuts the servers down (stdin closed, then SIGTERM, then SIGKILL) and
 * waits for them, then frees. */
void daimon_mcp_stop(daimon_mcp *m);

/* The port of a server, by name (0 if none). */
daimon_aid daimon_mcp_port(daimon_rt *rt, const char *server);
/* tools/call params {"name","arguments","_meta"} as JSON text (caller
 * frees); the idempotency key (may be NULL) goes in _meta. */
char *daimon_mcp_call_params(const char *tool, const cJSON *args, const char *idempotency_key);
/* A tools/call result: its text content into `out`; 1 if it is an error. */
int daimon_mcp_result_text(const char *result, daimon_buf *out);

/* ---- the server side: MCP over stdio, one request at a time ---- */

typedef struct {
	const char *name;         /* serverInfo.name */
	const char *instructions; /* may be NULL */
	/* The tools/list "tools" array (caller frees). */
	cJSON *(*tools)(void *arg);
	/* Runs a tool: its text into `out`; 0, or < 0 for an error result.
	 * `key` is the caller's idempotency key ("" when none); progress (for
	 * a call that asked for it) may be called as it goes. */
	int (*call)(void *arg, const char *tool, const cJSON *args, const char *key, daimon_buf *out,
		    void (*progress)(void *pp, double done, double total, const char *message), void *pp);
	void *arg;
} daimon_mcp_server;

/* Answers initialize, ping, tools/list and tools/call on in_fd/out_fd
 * until end of input (-32601 for other requests, -32700 for a line that
 * is not JSON). */
int daimon_mcp_serve(const daimon_mcp_server *srv, int in_fd, int out_fd);
/* The idempotency key a tools/call carries in params._meta (or NULL). */
const char *daimon_mcp_meta_key(const cJSON *params);

#endif
