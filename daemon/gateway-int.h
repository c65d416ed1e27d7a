/*
 * gateway-int.h — the daemon's state, for the daemon's own files
 * (gateway.c, sessions.c, control.c); everything above them
 * gets it through gateway.h.
 */
#ifndef DAIMON_DAEMON_GATEWAY_INT_H
#define DAIMON_DAEMON_GATEWAY_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/config.h"
#include "daemon/gateway.h"
#include "memory/store.h"
#include "sessions/skilltools.h"

/* A channel's health, for `daimon status` and `daimon ps`. */
typedef struct {
	char name[32];
	char state[16];  /* starting, running, failed, stopped */
	char error[200]; /* why it last failed, or "" */
	int restarts;
} daimon_channel_status;

#define DAIMON_GATEWAY_CHANNELS 8

struct daimon_gateway {
	daimon_rt *rt;
	daimon_store store;
	daimon_aid http;
	daimon_aid sessions;  /* the conversations' actor (daemon/sessions.h) */
	daimon_aid scheduler; /* the jobs' actor (daemon/schedule.h) */
	/* What it last said of them, for `daimon status` (under mu). */
	struct {
		int jobs, delivering, failing;
		int nnext;
		struct {
			char id[12];
			int64_t at;
			char text[80];
		} next[3];
	} schedule;
	struct daimon_budget *budget; /* model.daily_budget, for every session */
	/* what it counts (sub-agents not counted): live, hibernated of them, in a turn */
	_Atomic long sessions_live, sessions_asleep, sessions_busy;
	/* The skills sessions start with: a skill built while the daemon runs
	 * makes a new set; the old ones stay (sessions hold their tools)
	 * until the gateway goes. */
	struct daimon_gateway_skills *skills;
	daimon_tools_live tools;
	pthread_mutex_t tools_mu; /* one new set is made at a time (each from what is newest) */
	int tools_made;           /* the first set was made (under mu): changes make new ones */
	/* The MCP servers (their tools join the skills'; a new list makes a
	 * new set) and their settings as started, to see a reload change them. */
	daimon_mcp *mcp;
	char *mcp_conf;
	int mcp_log, local;
	int64_t started_ms;   /* CLOCK_MONOTONIC */
	int64_t ready_ms;     /* how long start-up took */
	long stop_timeout_ms; /* running turns get this long at a stop, then are cancelled */
	pthread_mutex_t mu;   /* what follows */
	pthread_cond_t cv;
	/* The model settings sessions start with; a reload makes new ones
	 * and keeps the old (sessions hold a pointer) until the gateway goes. */
	struct daimon_gateway_settings *settings;
	int stopping;
	daimon_channel_status channels[DAIMON_GATEWAY_CHANNELS];
	int nchannels;
	daimon_channel_host channel_host; /* what the channels get of it */
};

#endif
