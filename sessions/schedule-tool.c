/*
 * schedule-tool.c — the schedule tool: the model makes, lists and
 * changes jobs through the daemon's scheduler actor.
 *
 * An actor tool (tools.h): spawned for the call, it hands the arguments
 * with the calling conversation's key to "scheduler" as a request
 * (memory/schedule.h) and gives the answer back as the call's result.
 * The scheduler checks everything (times, intervals, targets); its
 * refusals are the result, so the model can correct itself.
 */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/jsonutil.h"
#include "core/work.h"
#include "memory/schedule.h"
#include "sessions/tools.h"

const char daimon_schedule_tool_description[] =
	"Reminders and recurring tasks that run by themselves: create one (a message delivered as it is, or with kind "
	"prompt a task you carry out then, whose answer is sent to the user), list, show, update, pause, resume or "
	"cancel them, or see their history. Times are ISO 8601 in the user's time zone (current_time tells it), "
	"or \"in\" a duration (90s, 10m, 2h), or \"every\" a duration, or a 5-field \"cron\" expression. By default "
	"it is delivered where this conversation is; \"to\" sends it elsewhere (telegram:CHAT).";

const char daimon_schedule_tool_schema[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"action\":{\"enum\":[\"create\",\"list\",\"show\",\"update\",\"pause\",\"resume\",\"cancel\",\"history\"]},"
	"\"text\":{\"type\":\"string\"},\"kind\":{\"enum\":[\"message\",\"prompt\"]},"
	"\"at\":{\"type\":\"string\"},\"in\":{\"type\":\"string\"},\"every\":{\"type\":\"string\"},"
	"\"cron\":{\"type\":\"string\"},\"to\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"},"
	"\"urgent\":{\"type\":\"boolean\"},\"id\":{\"type\":\"string\"}},\"required\":[\"action\"]}";

struct call {
	uint64_t ref;
	cJSON *req;
};

static int call_init(daimon_ctx *ctx, void *state)
{
	struct call *c = state;
	daimon_rt *rt = daimon_ctx_rt(ctx);
	daimon_aid to = daimon_whereis(rt, "scheduler");
	char *text = cJSON_PrintUnformatted(c->req);
	int rc = to ? daimon_job_send(rt, 0, to, DAIMON_SCHEDULE_REQUEST, 1, 0, text, strlen(text)) : -1;
	cJSON_free(text);
	if (rc < 0) {
		static const char why[] = "the scheduler is not running: schedules work in the daemon (daimon serve)";
		daimon_job_reply(rt, 0, daimon_parent(ctx), c->ref, -1, why, sizeof(why) - 1);
		return DAIMON_STOP(DAIMON_EXIT_NORMAL);
	}
	return DAIMON_CONTINUE;
}

static int call_handle(daimon_ctx *ctx, void *state, const daimon_msg *m)
{
	struct call *c = state;
	if (m->type != DAIMON_MSG_JOB_DONE)
		return DAIMON_CONTINUE;
	const daimon_job_done *d = m->data;
	daimon_job_reply(daimon_ctx_rt(ctx), 0, daimon_parent(ctx), c->ref, d->status, d->text, d->len);
	return DAIMON_STOP(DAIMON_EXIT_NORMAL);
}

static void call_terminate(daimon_ctx *ctx, void *state, int reason)
{
	(void)ctx, (void)reason;
	struct call *c = state;
	cJSON_Delete(c->req);
	free(c);
}

static const daimon_behaviour call_behaviour = {
	.name = "schedule", .init = call_init, .handle = call_handle, .terminate = call_terminate};

daimon_aid daimon_schedule_tool_spawn(daimon_ctx *ctx, const cJSON *args, uint64_t ref, const daimon_tool_host *host)
{
	struct call *c = daimon_xcalloc(1, sizeof(*c));
	c->ref = ref;
	c->req = cJSON_Duplicate(args, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(c->req, "key"); /* (the model does not choose the conversation) */
	cJSON_AddStringToObject(c->req, "key", host->key ? host->key : "");
	daimon_spawn_opts o = {.behaviour = &call_behaviour, .state = c, .flags = DAIMON_SPAWN_CHILD};
	daimon_aid id = daimon_spawn(daimon_ctx_rt(ctx), &o);
	if (!id) {
		cJSON_Delete(c->req);
		free(c);
	}
	return id;
}
