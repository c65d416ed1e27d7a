/*
 * A daimon skill. Edit, then `daimon skill build NAME` (or keep
 * `daimon skill watch NAME` running): it compiles, runs tests.json, and
 * swaps the new version in. Everything a skill can use is in
 * <daimon/skill.h>.
 */
#include <daimon/skill.h>

/* greet: {"name": "Ana"} -> "Hello, Ana!" */
static int greet(daimon_skill_ctx *ctx, const char *args)
{
	const daimon_skill_host *h = daimon_skill_host_of(ctx);
	char *name = h->json_str(args, "name");
	if (!name || !*name) {
		h->free(name);
		h->replyf(ctx, "say whom to greet");
		return -1;
	}
	h->replyf(ctx, "Hello, %s!", name);
	h->free(name);
	return 0;
}

static const daimon_skill_tool tools[] = {
	{"greet", "Greets someone by name.",
	 "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"]}", 0, greet},
};

DAIMON_SKILL(.name = "@NAME@", .version = "1", .description = "A new skill: greets people.", .tools = tools,
	     .ntools = sizeof(tools) / sizeof(tools[0]));
