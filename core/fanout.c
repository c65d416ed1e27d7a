/*
 * fanout.c — see fanout.h.
 */
#include "core/fanout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/work.h"

struct item {
	enum { WAITING, RUNNING, SETTLED } state;
	daimon_aid actor;
	uint64_t timer, monitor;
	daimon_fanout_result r;
};

struct fanout {
	daimon_fanout_opts o;
	struct item *items;
	size_t settled;
	int running;
};

static void settle(daimon_ctx *ctx, struct fanout *f, size_t i, int status, const char *text)
{
	struct item *it = &f->items[i];
	if (it->state == RUNNING)
		f->running--;
	it->state = SETTLED;
	it->r.status = status;
	it->r.text = daimon_xstrdup(text);
	if (it->timer)
		daimon_timer_cancel(ctx, it->timer);
	it->timer = 0;
	f->settled++;
	if (f->o.item && !daimon_cancelling(ctx))
		f->o.item(ctx, i, &it->r, f->o.arg);
}

/* Starts items while there is room; 1 once all have settled. Being
 * cancelled, it starts nothing and reports nothing: it is going away. */
static int pump(daimon_ctx *ctx, struct fanout *f)
{
	if (daimon_cancelling(ctx))
		return 0;
	for (size_t i = 0; i < f->o.n && f->running < f->o.max_parallel; i++) {
		struct item *it = &f->items[i];
		if (it->state != WAITING)
			continue;
		it->state = RUNNING;
		f->running++;
		if (!(it->actor = f->o.start(ctx, i, f->o.arg))) {
			settle(ctx, f, i, -1, daimon_error_last());
			continue;
		}
		it->monitor = daimon_monitor(ctx, it->actor);
		if (f->o.timeout_ms > 0)
			it->timer = daimon_timer_start(ctx, f->o.timeout_ms, 0);
	}
	if (f->settled < f->o.n)
		return 0;
	if (f->o.finish) {
		daimon_fanout_result *all = daimon_xcalloc(f->o.n + 1, sizeof(*all));
		for (size_t i = 0; i < f->o.n; i++)
			all[i] = f->items[i].r;
		f->o.finish(ctx, all, f->o.n, f->o.arg);
		free(all);
	}
	return 1;
}

static int fanout_init(daimon_ctx *ctx, void *state)
{
	daimon_set_op(ctx, "fanning out");
	return pump(ctx, state) ? DAIMON_EXIT_NORMAL : DAIMON_CONTINUE;
}

static int fanout_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct fanout *f = state;
	for (size_t i = 0; i < f->o.n; i++) {
		struct item *it = &f->items[i];
		if (it->state != RUNNING)
			continue;
		if (m->type == DAIMON_MSG_JOB_DONE && ((const daimon_job_done *)m->data)->ref == i &&
		    m->from == it->actor) {
			const daimon_job_done *d = m->data;
			settle(ctx, f, i, d->status, d->text);
		} else if (m->type == DAIMON_MSG_TIMER && m->ref == it->timer) {
			char why[64];
			snprintf(why, sizeof(why), "no answer within %.1f s", (double)f->o.timeout_ms / 1000);
			it->timer = 0;
			daimon_cancel(daimon_ctx_rt(ctx), it->actor, 1000);
			settle(ctx, f, i, DAIMON_ETIMEDOUT, why);
		} else if (m->type == DAIMON_MSG_DOWN && m->ref == it->monitor) {
			char why[64];
			snprintf(why, sizeof(why), "stopped without a result (exit %lld)", (long long)m->arg);
			settle(ctx, f, i, -1, why);
		} else {
			continue;
		}
		return pump(ctx, f) ? DAIMON_EXIT_NORMAL : DAIMON_CONTINUE;
	}
	return DAIMON_CONTINUE;
}

static void fanout_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)ctx, (void)reason;
	struct fanout *f = state;
	for (size_t i = 0; i < f->o.n; i++)
		free(f->items[i].r.text);
	free(f->items);
	if (f->o.free_arg)
		f->o.free_arg(f->o.arg);
	free(f);
}

static const daimon_behaviour fanout_behaviour = {
	.name = "fanout",
	.init = fanout_init,
	.handle = fanout_handle,
	.terminate = fanout_terminate,
};

daimon_aid daimon_fanout_spawn(daimon_rt *rt, const daimon_fanout_opts *o, int flags)
{
	struct fanout *f = daimon_xcalloc(1, sizeof(*f));
	f->o = *o;
	if (f->o.max_parallel <= 0)
		f->o.max_parallel = 4;
	f->items = daimon_xcalloc(o->n + 1, sizeof(*f->items));
	daimon_spawn_opts so = {.behaviour = &fanout_behaviour, .state = f, .flags = flags};
	daimon_aid id = daimon_spawn(rt, &so);
	if (!id)
		fanout_terminate(NULL, f, 0);
	return id;
}
