/*
 * access.h — who may talk to the assistant through a channel.
 *
 * Deny by default. A sender reaches the model when its id is on the
 * channel's allowlist — config.json "channels": {"telegram": {"allow":
 * ["42"]}} — or was paired. Pairing ("pairing": true on the channel, the
 * default for Telegram and mail): an unknown sender is given a short code
 * (8 characters from an alphabet without look-alikes, valid for an hour,
 * at most 3 pending per channel) and nothing it sends reaches the model
 * until the owner runs `daimon pairing approve CODE`. Five wrong codes
 * lock approving for an hour (someone guessing).
 *
 * $DAIMON_HOME/access.json holds the paired senders, the pending codes
 * and the lock; it is changed under an flock on access.lock, re-read
 * under it, written to a temporary file, synced and renamed.
 *   {"paired": {"telegram": {"42": {"name": "Ana", "since": MS}}},
 *    "pending": [{"code", "channel", "sender", "name", "created", "expires"}],
 *    "bad_attempts": N, "locked_until": MS}
 */
#ifndef DAIMON_CHANNELS_ACCESS_H
#define DAIMON_CHANNELS_ACCESS_H

#include <stddef.h>

#include <cjson/cJSON.h>

typedef enum {
	DAIMON_ACCESS_ALLOW = 0,
	DAIMON_ACCESS_PAIRING, /* not yet: `code` is the sender's pending code */
	DAIMON_ACCESS_DENY,    /* not allowed and no code (pairing off, or 3 pending) */
} daimon_access;

#define DAIMON_PAIRING_CODE_LEN 8
#define DAIMON_PAIRING_MAX_PENDING 3
#define DAIMON_PAIRING_TTL_MS (3600 * 1000LL)
#define DAIMON_PAIRING_MAX_BAD 5

/* Whether `sender` (`name` for the owner to recognize, may be NULL) may
 * talk through `channel`; a new code is made for an unknown sender when
 * the channel pairs, and *fresh is set when it was made just now (the
 * sender is told once). < 0 on an I/O error (last error). */
int daimon_access_check(const char *home, const char *channel, const char *sender, const char *name,
			char code[DAIMON_PAIRING_CODE_LEN + 1], int *fresh);
/* The pending codes (unexpired) as a JSON array (caller deletes). */
int daimon_access_pending(const char *home, cJSON **out);
/* Approves `code`: its sender is paired ("channel:sender" in `who`). A
 * wrong code counts towards the lock. */
int daimon_access_approve(const char *home, const char *code, char *who, size_t size);

#endif
