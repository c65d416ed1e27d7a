/*
 * mcp-memory.h — daimon's memory as an MCP server (`daimon mcp serve`):
 * session_search, session_read, memory_read and memory, so another
 * assistant can search and read daimon's conversations and notes. The
 * protocol loop is skills/mcp.h's; the tools are the sessions' own
 * (the built-in tool table and the history projection), which is why
 * this lives here and not in skills/, which cannot reach memory.
 */
#ifndef DAIMON_SESSIONS_MCP_MEMORY_H
#define DAIMON_SESSIONS_MCP_MEMORY_H

#include "memory/store.h"

/* Answers MCP on in_fd/out_fd until end of input. */
int daimon_mcp_serve_memory(daimon_store *st, int in_fd, int out_fd);

#endif
