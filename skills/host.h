/*
 * host.h — the skill host: an isolated skill in a process of its own,
 * speaking MCP (JSON-RPC 2.0, one message per line) on stdin and stdout,
 * so any MCP client can use it and daimon supervises it like any other
 * port.
 *
 * The server side (`daimon skill serve NAME`) loads the skill and answers
 * initialize, ping, tools/list and tools/call (-32601 for anything else).
 * The client side starts it, keeps it, and calls its tools with a
 * deadline: a host that crashes, hangs past the deadline (it is killed)
 * or runs out of its memory limit costs the call in progress, and the
 * next call starts a new one — unless it failed five times within a
 * minute: then it rests for a minute (a supervisor's restart intensity),
 * and calls say so.
 */
#ifndef DAIMON_SKILLS_HOST_H
#define DAIMON_SKILLS_HOST_H

#include <stddef.h>

#include "core/buf.h"

/* Serves the skill in `so_path` on in_fd/out_fd until end of input. */
int daimon_skill_serve(const char *so_path, const char *home, int in_fd, int out_fd);

typedef struct daimon_skill_hostp daimon_skill_hostp;

/* A host for skill `name` run as `exe skill serve NAME --memory-mb N`
 * (exe: the daimon binary); started at the first call. */
daimon_skill_hostp *daimon_skill_hostp_new(const char *exe, const char *name, size_t memory_mb);
/* 0 answered, -1 the tool failed, -2 the host failed (crash, deadline,
 * memory): the text in `out` says which. The host's progress
 * notifications go to `progress` (may be NULL). One call at a time per
 * host. */
int daimon_skill_hostp_call(daimon_skill_hostp *h, const char *tool, const char *args_json, long timeout_ms,
			    void (*progress)(void *payload, double done, double total, const char *message),
			    void *payload, daimon_buf *out);
/* Closes its stdin, then SIGTERM, then SIGKILL, each after a moment. */
void daimon_skill_hostp_free(daimon_skill_hostp *h);

#endif
