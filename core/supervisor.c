/*
 * supervisor.c — see supervisor.h. The supervisor is an ordinary actor
 * that traps exits; everything it knows is in its state, and it only ever
 * acts in its own turn, so a restart can never race with another.
 */
#include "core/supervisor.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/intensity.h"
#include "core/timefmt.h"

struct sup {
	daimon_sup_spec spec;
	daimon_child_spec *children;
	daimon_aid *running;       /* current id of each child, 0 when not running */
	daimon_intensity restarts; /* more than max_restarts within period_ms: give up */
};

enum { SUP_START = 0 };

static void start_child(daimon_ctx *ctx, struct sup *s, size_t i)
{
	const daimon_child_spec *c = &s->children[i];
	daimon_spawn_opts o = {
		.behaviour = c->behaviour,
		.state = c->make_state ? c->make_state(c->arg) : c->arg,
		.flags = DAIMON_SPAWN_LINK | DAIMON_SPAWN_CHILD,
	};
	daimon_rt *rt = daimon_ctx_rt(ctx);
	s->running[i] = daimon_spawn(rt, &o);
	if (c->name && s->running[i])
		daimon_register(rt, c->name, s->running[i]);
}

static void stop_child(daimon_ctx *ctx, struct sup *s, size_t i)
{
	if (!s->running[i])
		return;
	daimon_rt *rt = daimon_ctx_rt(ctx);
	if (s->children[i].name)
		daimon_unregister(rt, s->children[i].name);
	/* Its exit signal comes back from an id no longer running: ignored. */
	daimon_kill(rt, s->running[i]);
	s->running[i] = 0;
}

static int restartable(const daimon_child_spec *c, int64_t reason)
{
	switch (c->restart) {
	case DAIMON_PERMANENT:
		return 1;
	case DAIMON_TRANSIENT:
		return reason != DAIMON_EXIT_NORMAL && reason != DAIMON_EXIT_SHUTDOWN;
	default:
		return 0;
	}
}

static int sup_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct sup *s = state;
	if (m->type == SUP_START) {
		daimon_set_state_label(ctx, "supervising");
		for (size_t i = 0; i < s->spec.nchildren; i++)
			start_child(ctx, s, i);
		return DAIMON_CONTINUE;
	}
	if (m->type != DAIMON_MSG_EXIT)
		return DAIMON_CONTINUE;
	if (m->from == daimon_parent(ctx))
		return m->arg == DAIMON_EXIT_NORMAL ? DAIMON_CONTINUE : (int)m->arg;
	size_t i = 0;
	while (i < s->spec.nchildren && s->running[i] != m->from)
		i++;
	if (i == s->spec.nchildren)
		return DAIMON_CONTINUE; /* a child this supervisor stopped itself */
	s->running[i] = 0;
	if (s->children[i].name)
		daimon_unregister(daimon_ctx_rt(ctx), s->children[i].name);
	if (!restartable(&s->children[i], m->arg))
		return DAIMON_CONTINUE;
	if (daimon_intensity_record(&s->restarts, daimon_mono_ms()))
		return DAIMON_EXIT_SHUTDOWN; /* escalate: the parent decides */
	size_t from = i, to = i + 1;
	if (s->spec.strategy == DAIMON_ONE_FOR_ALL)
		from = 0, to = s->spec.nchildren;
	else if (s->spec.strategy == DAIMON_REST_FOR_ONE)
		to = s->spec.nchildren;
	for (size_t k = to; k-- > from;) /* stop in reverse start order */
		stop_child(ctx, s, k);
	for (size_t k = from; k < to; k++)
		start_child(ctx, s, k);
	return DAIMON_CONTINUE;
}

static void sup_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)reason;
	struct sup *s = state;
	for (size_t i = s->spec.nchildren; i-- > 0;)
		stop_child(ctx, s, i);
	free(s->children);
	free(s->running);
	daimon_intensity_release(&s->restarts);
	free(s);
}

static const daimon_behaviour sup_behaviour = {
	.name = "supervisor",
	.handle = sup_handle,
	.terminate = sup_terminate,
};

daimon_aid daimon_supervisor_start(daimon_rt *rt, const daimon_sup_spec *spec, daimon_aid parent)
{
	struct sup *s = daimon_xcalloc(1, sizeof(*s));
	s->spec = *spec;
	if (s->spec.max_restarts < 0)
		s->spec.max_restarts = 0;
	s->children = daimon_xcalloc(spec->nchildren ? spec->nchildren : 1, sizeof(*s->children));
	if (spec->nchildren)
		memcpy(s->children, spec->children, spec->nchildren * sizeof(*s->children));
	s->running = daimon_xcalloc(spec->nchildren ? spec->nchildren : 1, sizeof(*s->running));
	daimon_intensity_init(&s->restarts, s->spec.max_restarts + 1, s->spec.period_ms);
	daimon_spawn_opts o = {
		.behaviour = &sup_behaviour,
		.state = s,
		.flags = DAIMON_SPAWN_TRAP_EXIT | (parent ? DAIMON_SPAWN_LINK | DAIMON_SPAWN_CHILD : 0),
		.parent = parent,
	};
	daimon_aid id = daimon_spawn(rt, &o);
	if (!id) {
		free(s->children);
		free(s->running);
		daimon_intensity_release(&s->restarts);
		free(s);
		return 0;
	}
	daimon_send(rt, id, SUP_START, NULL, 0);
	return id;
}
