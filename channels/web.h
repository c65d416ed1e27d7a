/*
 * web.h — what the rest of daimon needs of the web chat (web.c): its
 * token and its address, for `daimon web` and `daimon init`.
 */
#ifndef DAIMON_CHANNELS_WEB_H
#define DAIMON_CHANNELS_WEB_H

/* The web chat's access token (64 hex digits) from $DAIMON_HOME/web-token,
 * made there (0600) if there is none. */
int daimon_web_token(const char *home, char out[65]);
#endif
