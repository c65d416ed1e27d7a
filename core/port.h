/*
 * port.h — a port: a child process that speaks JSON-RPC 2.0, one message
 * per line, on its stdin and stdout (an MCP server over stdio, a skill
 * host), owned by an actor — Erlang's ports, for JSON-RPC.
 *
 * The actor starts the program on the first call, writes each call as a
 * request, reads its output as the runtime reports it readable — never
 * blocking a scheduler — and answers each caller with a
 * DAIMON_MSG_JOB_DONE (work.h): status 0 and the result as JSON text, -1
 * and the error's message, -2 when the port failed (the program died, the
 * call passed its deadline — the program is then killed — or the port is
 * resting), DAIMON_ECANCELLED for a call cancelled with DAIMON_PORT_CANCEL.
 * The next call after a failure starts the program again — unless it
 * failed `intensity` times within `period_ms` (core/intensity.h): then
 * the port rests for `rest_ms` and says so. With `restart_ms`, a program
 * that went down is started again without waiting for a call (a
 * permanent child), after a delay that doubles with each failure in a row.
 *
 * What the program speaks beyond requests and responses — a handshake,
 * pings, requests of its own, progress, cancellation — is its protocol's
 * (daimon_port_protocol; MCP's is skills/mcp.h's): the port knows no
 * method by name. Without one, it is plain JSON-RPC: ready at once, every
 * request of the program's answered -32601, every notification sent on.
 *
 * With `ping_ms` (and a protocol that has a ping), an idle program (no
 * call in flight: a call has its own deadline) is sent a ping that often;
 * one that has not answered by the next is taken for hung: killed, and
 * restarted as after a crash. Notifications that are not a call's
 * progress, and "daimon/ready" each time the handshake completes, go to
 * `notify` as DAIMON_PORT_NOTE (the message's JSON text). The program's
 * stderr is written to `log_fd` (default 2), each line prefixed with its
 * name. Messages are told apart by shape (id+result/error: a response,
 * method+id: a request, method alone: a notification); ids may be 0.
 *
 * Cancelled, the port lets the calls in flight finish, then shuts the
 * program down: its stdin is closed, then after `stop_ms` SIGTERM, after
 * `stop_ms` more SIGKILL; the actor exits once the program has.
 */
#ifndef DAIMON_CORE_PORT_H
#define DAIMON_CORE_PORT_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "core/actor.h"

enum {
	DAIMON_PORT_CALL = 0x504F0001,     /* to the port: data = daimon_port_call */
	DAIMON_PORT_CANCEL = 0x504F0002,   /* to the port: data = the call's ref (uint64_t) */
	DAIMON_PORT_PROGRESS = 0x504F0003, /* to the caller: data = daimon_job_done (ref; text = the params) */
	DAIMON_PORT_NOTE = 0x504F0004,     /* to opts.notify: data = the notification as JSON text */
};

typedef struct {
	uint64_t ref;    /* the caller's, echoed in the answer */
	long timeout_ms; /* 0: 30 s */
	char method[48]; /* the request's method */
	char params[];   /* JSON text, NUL-terminated ("" for none) */
} daimon_port_call;

/* A protocol over JSON-RPC. Every member may be NULL; the hooks run in
 * the port's actor and keep no state of their own. */
typedef struct {
	const char *hello;    /* the handshake: the first request (when opts.hello gives its
			       * params); the program is ready once it succeeds */
	const char *welcomed; /* the notification that follows its success */
	const char *ping;     /* the liveness request (no params), for opts.ping_ms */
	/* A request of the program's: its result (a new item), or NULL with
	 * *code and *why set. `data` is opts.data. NULL hook: -32601 to all. */
	cJSON *(*serve)(const char *method, const cJSON *params, const char *data, int *code, const char **why);
	/* Marks a call's params (an object) so the program's progress names
	 * `ref`, the caller's. */
	void (*tag)(cJSON *params, uint64_t ref);
	/* A notification: 1 with *ref if it is progress of a call (the caller
	 * hears it as DAIMON_PORT_PROGRESS, its params the text). */
	int (*progress)(const char *method, const cJSON *params, uint64_t *ref);
	/* The notification that tells the program request `id` is cancelled
	 * (*method set; params a new item), or NULL to say nothing. */
	cJSON *(*cancelled)(int64_t id, const char **method);
} daimon_port_protocol;

typedef struct {
	const char *name;                     /* registered as "port:NAME" */
	const char *const *argv;              /* argv[0] is the program's path; NULL-terminated */
	const daimon_port_protocol *protocol; /* NULL: plain JSON-RPC */
	const char *hello;                    /* the handshake's params as JSON text; NULL: none */
	const char *data;                     /* for the protocol's hooks (copied) */
	int intensity;                        /* failures ... 0: 5 */
	long period_ms;                       /* ... within this long ... 0: 60 s */
	long rest_ms;                         /* ... and it rests this long; 0: 60 s */
	daimon_aid parent;                    /* the tree it joins (cancelled with it); 0: none */
	const char *const *env;               /* "K=V" set over the environment (NULL-terminated; may be NULL) */
	daimon_aid notify;                    /* who hears DAIMON_PORT_NOTE; 0: nobody */
	int log_fd;                           /* where the program's stderr goes; 0: 2 */
	long restart_ms;                      /* first delay before a restart; 0: at the next call */
	long stop_ms;                         /* each step of the shutdown; 0: 2 s */
	long ping_ms;                         /* a running program is pinged this often and restarted if a ping
				  * is still unanswered at the next; 0: never */
} daimon_port_opts;

/* Spawns the port actor (the program starts with the first call). */
daimon_aid daimon_port_start(daimon_rt *rt, const daimon_port_opts *o);
/* Inside a handler: asks the port; the answer comes as DAIMON_MSG_JOB_DONE. */
int daimon_port_call_send(daimon_ctx *ctx, daimon_aid port, uint64_t ref, const char *method, const char *params,
			  long timeout_ms);

#endif
