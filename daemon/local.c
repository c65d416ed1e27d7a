/*
 * local.c — a command's own daemon (see local.h).
 */
#include "daemon/local.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/timefmt.h"
#include "daemon/control.h"
#include "daemon/gateway.h"

struct daimon_local {
	daimon_gateway *g;
	daimon_control *ctl;
	int mcp_log;
};

int daimon_local_start(daimon_local **out, const char *home, int mcp_log)
{
	int64_t t0 = daimon_mono_ms();
	int lock = daimon_control_lock(home, DAIMON_CONTROL_LOCAL);
	if (lock < 0)
		return lock == DAIMON_EBUSY ? 0 : -1;
	daimon_local *l = daimon_xcalloc(1, sizeof(*l));
	l->mcp_log = mcp_log;
	daimon_gateway_opts o = {.resume = 0, .mcp_log = mcp_log, .local = 1};
	if (daimon_gateway_new(&l->g, home, &o) < 0) {
		close(lock);
		free(l);
		return -1;
	}
	if (daimon_control_start(&l->ctl, l->g, lock, DAIMON_CONTROL_LOCAL) < 0) {
		daimon_gateway_free(l->g);
		free(l);
		return -1;
	}
	daimon_gateway_ready(l->g, daimon_mono_ms() - t0);
	*out = l;
	return 1;
}

void daimon_local_stop(daimon_local *l)
{
	if (!l)
		return;
	daimon_control_close(l->ctl);
	/* (this command's own connection goes within moments: said only
	 * when others keep it) */
	int said = 0;
	for (int n, waited = 0; (n = daimon_control_clients(l->ctl)) > 0; waited += 20) {
		if (waited >= 1000 && !said++)
			fprintf(stderr, "daimon: %d other command%s still use%s this one (pid %d); waiting for %s\n", n,
				n == 1 ? "" : "s", n == 1 ? "s" : "", (int)getpid(), n == 1 ? "it" : "them");
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
	daimon_gateway_drain(l->g);
	daimon_gateway_free(l->g);
	daimon_control_free(l->ctl);
	if (l->mcp_log > 0)
		close(l->mcp_log);
	free(l);
}
