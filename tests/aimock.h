/*
 * aimock.h — the real model-API mock (@copilotkit/aimock, installed in
 * tests/peers by scripts/setup.sh) started for a test on a free port of
 * 127.0.0.1, with fixtures the test writes.
 */
#ifndef DAIMON_TESTS_AIMOCK_H
#define DAIMON_TESTS_AIMOCK_H

#include <sys/types.h>

#include "core/buf.h"

struct aimock {
	pid_t pid;
	int port;
	char dir[64];
	char url[64]; /* "http://127.0.0.1:PORT" */
};

/* Starts aimock with `fixtures` (the JSON of a fixture file), answering in
 * `chunk`-character chunks `latency_ms` apart. 0 ok, -1 (said why) if not. */
int aimock_start(struct aimock *m, const char *fixtures, int chunk, int latency_ms);
/* The same in aimock's strict mode: a request no fixture matches, or one
 * that breaks the API's rules aimock checks (Anthropic's thinking blocks
 * on a tool loop), is answered with an error. */
int aimock_start_strict(struct aimock *m, const char *fixtures, int chunk, int latency_ms);
void aimock_stop(struct aimock *m);
/* A blocking GET of the mock (health, journal): the HTTP status. */
long aimock_get(const struct aimock *m, const char *path, daimon_buf *out);

#endif
