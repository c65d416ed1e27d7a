/*
 * test_fanout.c — the runtime's fan-out: items that answer, fail, run out
 * of time or crash each settle as such; no more run at once than the
 * bound; each is reported as it settles and all in order at the end; a
 * cancelled fan-out cancels the items still running.
 */
#include <stdatomic.h>
#include <unistd.h>

#include "core/actor.h"
#include "core/error.h"
#include "core/fanout.h"
#include "core/work.h"
#include "tests/test.h"

/* An item: after `delay_ms` it answers (mode 0), fails (1), crashes (2);
 * mode 3 never answers. */
struct item {
	int mode, delay_ms;
	size_t index;
	_Atomic int *running, *peak, *cancelled;
};

static int item_init(daimon_ctx *ctx, void *state)
{
	struct item *it = state;
	int now = atomic_fetch_add(it->running, 1) + 1;
	for (int p = atomic_load(it->peak); now > p && !atomic_compare_exchange_weak(it->peak, &p, now);)
		;
	daimon_timer_start(ctx, it->delay_ms, 0);
	return DAIMON_CONTINUE;
}

static int item_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct item *it = state;
	if (m->type != DAIMON_MSG_TIMER || it->mode == 3)
		return DAIMON_CONTINUE;
	if (it->mode == 2)
		return DAIMON_EXIT_CRASHED;
	const char *text = it->mode == 0 ? "answer" : "it went wrong";
	daimon_job_reply(daimon_ctx_rt(ctx), 0, daimon_parent(ctx), it->index, it->mode == 0 ? 0 : -1, text,
			 strlen(text));
	return DAIMON_EXIT_NORMAL;
}

static int item_cancel(daimon_ctx *ctx, void *state)
{
	(void)ctx;
	struct item *it = state;
	atomic_fetch_add(it->cancelled, 1);
	return DAIMON_EXIT_CANCELLED;
}

static void item_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)ctx, (void)reason;
	struct item *it = state;
	atomic_fetch_sub(it->running, 1);
	free(it);
}

static const daimon_behaviour item_b = {.name = "item",
					.init = item_init,
					.handle = item_handle,
					.on_cancel = item_cancel,
					.terminate = item_terminate};

struct run {
	const int *modes;
	_Atomic int running, peak, cancelled, finished;
	int order[16], norder;
	int status[16];
	char text[16][64];
};

static daimon_aid start(daimon_ctx *ctx, size_t i, void *arg)
{
	struct run *r = arg;
	struct item *it = calloc(1, sizeof(*it));
	it->mode = r->modes[i];
	it->delay_ms = 20 + 10 * (int)i;
	it->index = i;
	it->running = &r->running, it->peak = &r->peak, it->cancelled = &r->cancelled;
	daimon_spawn_opts o = {.behaviour = &item_b, .state = it, .flags = DAIMON_SPAWN_CHILD};
	return daimon_spawn(daimon_ctx_rt(ctx), &o);
}

static void item_settled(daimon_ctx *ctx, size_t i, const daimon_fanout_result *res, void *arg)
{
	(void)ctx, (void)res;
	struct run *r = arg;
	r->order[r->norder++] = (int)i;
}

static void finish(daimon_ctx *ctx, const daimon_fanout_result *res, size_t n, void *arg)
{
	(void)ctx;
	struct run *r = arg;
	for (size_t i = 0; i < n; i++) {
		r->status[i] = res[i].status;
		snprintf(r->text[i], sizeof(r->text[i]), "%s", res[i].text);
	}
	atomic_store(&r->finished, 1);
}

static void test_fanout__each_item_settles_as_it_went_within_the_bound(void)
{
	static const int modes[] = {0, 1, 3, 2, 0, 0};
	struct run r = {.modes = modes};
	daimon_rt *rt;
	daimon_rt_new(&rt, NULL);
	daimon_fanout_opts o = {.n = 6,
				.max_parallel = 2,
				.timeout_ms = 300,
				.start = start,
				.item = item_settled,
				.finish = finish,
				.arg = &r};
	CHECK(daimon_fanout_spawn(rt, &o, 0));
	EVENTUALLY(atomic_load(&r.finished));
	CHECK_INT(r.status[0], 0);
	CHECK_STR(r.text[0], "answer");
	CHECK_INT(r.status[1], -1);
	CHECK_STR(r.text[1], "it went wrong");
	CHECK_INT(r.status[2], DAIMON_ETIMEDOUT);
	CHECK_STR(r.text[2], "no answer within 0.3 s");
	CHECK_INT(r.status[3], -1);
	CHECK_CONTAINS(r.text[3], "stopped without a result");
	CHECK_INT(r.status[4], 0);
	CHECK_INT(r.status[5], 0);
	CHECK_INT(atomic_load(&r.peak), 2); /* never more than the bound */
	CHECK_INT(r.norder, 6);
	CHECK_INT(r.order[5], 2);                   /* the late one settled last, at its deadline */
	EVENTUALLY(atomic_load(&r.cancelled) == 1); /* and was cancelled */
	daimon_rt_free(rt);
}

static void test_fanout__cancelling_it_cancels_the_items_running(void)
{
	static const int modes[] = {3, 3, 3};
	struct run r = {.modes = modes};
	daimon_rt *rt;
	daimon_rt_new(&rt, NULL);
	daimon_fanout_opts o = {.n = 3, .max_parallel = 3, .start = start, .finish = finish, .arg = &r};
	daimon_aid f = daimon_fanout_spawn(rt, &o, 0);
	EVENTUALLY(atomic_load(&r.running) == 3);
	daimon_cancel(rt, f, 1000);
	EVENTUALLY(atomic_load(&r.cancelled) == 3);
	EVENTUALLY(atomic_load(&r.running) == 0);
	CHECK(!atomic_load(&r.finished));
	daimon_rt_free(rt);
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		TEST_CASE(test_fanout__each_item_settles_as_it_went_within_the_bound),
		TEST_CASE(test_fanout__cancelling_it_cancels_the_items_running),
		{0},
	};
	return test_main(argc, argv, cases);
}
