/*
 * supervisor.h — OTP supervisors on daimon's actors.
 *
 * A supervisor is an actor that starts its children in order, links to
 * them and traps their exits, and restarts them by its strategy:
 * one_for_one (only the child that exited), one_for_all (all of them),
 * rest_for_one (it and those started after it). A child is restarted per
 * its kind: permanent always, transient only after an abnormal exit,
 * temporary never. More than max_restarts restarts within period_ms and
 * the supervisor gives up: it exits with DAIMON_EXIT_SHUTDOWN (taking its
 * children with it) and its own supervisor decides — restart intensity,
 * escalating up the tree.
 */
#ifndef DAIMON_CORE_SUPERVISOR_H
#define DAIMON_CORE_SUPERVISOR_H

#include "core/actor.h"

enum daimon_restart { DAIMON_PERMANENT, DAIMON_TRANSIENT, DAIMON_TEMPORARY };
enum daimon_strategy { DAIMON_ONE_FOR_ONE, DAIMON_ONE_FOR_ALL, DAIMON_REST_FOR_ONE };

typedef struct {
	const char *name; /* registered for the running child (may be NULL) */
	const daimon_behaviour *behaviour;
	/* A fresh state for each start (NULL: the state is `arg`). */
	void *(*make_state)(void *arg);
	void *arg;
	enum daimon_restart restart;
} daimon_child_spec;

typedef struct {
	enum daimon_strategy strategy;
	int max_restarts;  /* R restarts ... */
	int64_t period_ms; /* ... within T milliseconds, then give up */
	const daimon_child_spec *children;
	size_t nchildren;
} daimon_sup_spec;

/* Starts a supervisor (the spec is copied) and, from it, its children.
 * `parent` (may be 0) is linked: the supervisor is part of its tree. */
daimon_aid daimon_supervisor_start(daimon_rt *rt, const daimon_sup_spec *spec, daimon_aid parent);

#endif
