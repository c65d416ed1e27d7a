/*
 * channels.c — starting the configured channels under one supervisor
 * (one_for_one: a crashing channel is restarted alone), and what the
 * channels share.
 */
#include "gateway/channels.h"

#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"

static const daimon_channel_kind *const kinds[] = {&daimon_channel_web, &daimon_channel_telegram, &daimon_channel_mail, NULL};

struct daimon_channels {
	daimon_gateway *g;
	daimon_aid sup;
	void *conf[8];
	daimon_child_spec specs[8];
	size_t n;
};

int daimon_channels_start(daimon_channels **out, daimon_gateway *g)
{
	daimon_channels *c = daimon_xcalloc(1, sizeof(*c));
	c->g = g;
	cJSON *cfg = NULL;
	if (daimon_config_load(&cfg, g->store.home) < 0) {
		free(c);
		return -1;
	}
	const cJSON *chans = cJSON_GetObjectItemCaseSensitive(cfg, "channels");
	for (size_t i = 0; kinds[i]; i++) {
		void *conf = NULL;
		int on = kinds[i]->configure(g, cJSON_GetObjectItemCaseSensitive(chans, kinds[i]->name), &conf);
		if (on < 0) {
			cJSON_Delete(cfg);
			daimon_channels_free(c);
			return -1;
		}
		if (!on)
			continue;
		c->conf[c->n] = conf;
		c->specs[c->n] = (daimon_child_spec){.name = kinds[i]->name,
						     .behaviour = kinds[i]->behaviour,
						     .make_state = kinds[i]->make_state,
						     .arg = conf,
						     .restart = DAIMON_PERMANENT};
		daimon_gateway_channel_state(g, kinds[i]->name, "starting", NULL);
		c->n++;
	}
	cJSON_Delete(cfg);
	if (c->n) {
		daimon_sup_spec spec = {.strategy = DAIMON_ONE_FOR_ONE,
					.max_restarts = 10,
					.period_ms = 60000,
					.children = c->specs,
					.nchildren = c->n};
		c->sup = daimon_supervisor_start(g->rt, &spec, 0);
		if (!c->sup) {
			daimon_channels_free(c);
			return -1;
		}
		daimon_register(g->rt, "channels", c->sup);
	}
	*out = c;
	return 0;
}

void daimon_channels_stop(daimon_channels *c)
{
	if (c && c->sup)
		daimon_cancel(c->g->rt, c->sup, 2000);
}

void daimon_channels_free(daimon_channels *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		for (size_t k = 0; kinds[k]; k++)
			if (!strcmp(kinds[k]->name, c->specs[i].name))
				kinds[k]->conf_free(c->conf[i]);
	free(c);
}

size_t daimon_channel_split(const char *text, size_t len, size_t limit)
{
	if (len <= limit)
		return len;
	size_t cut = 0;
	static const char *const breaks[] = {"\n\n", "\n", " "};
	for (int b = 0; b < 3 && !cut; b++) {
		size_t bl = strlen(breaks[b]);
		for (size_t i = limit - bl + 1; i > limit / 2; i--)
			if (!memcmp(text + i - 1, breaks[b], bl)) {
				cut = i - 1 + bl;
				break;
			}
	}
	if (!cut) {
		cut = limit;
		while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80) /* not inside a character */
			cut--;
	}
	return cut;
}
