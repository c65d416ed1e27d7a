/*
 * host.h — the skill host: an isolated skill in a process of its own,
 * speaking MCP (JSON-RPC 2.0, one message per line) on stdin and stdout,
 * so any MCP client can use it and daimon supervises it like any other
 * port.
 *
 * This is the server side (`daimon skill serve NAME`): it loads the skill
 * and answers initialize, ping, tools/list and tools/call (-32601 for
 * anything else), with progress notifications for a call that carries a
 * progressToken. daimon's side is a port of the runtime (core/port.h):
 * a host that crashes, hangs past a call's deadline (it is killed) or runs
 * out of its memory limit costs the call in progress, and the next call
 * starts a new one, within a restart intensity.
 */
#ifndef DAIMON_SKILLS_HOST_H
#define DAIMON_SKILLS_HOST_H

#include <stddef.h>

#include "core/buf.h"
#include "skills/skills.h"

/* Serves the skill in `so_path` on in_fd/out_fd until end of input. */
int daimon_skill_serve(const char *so_path, const char *home, const daimon_skill_services *svc, int in_fd, int out_fd);

#endif
