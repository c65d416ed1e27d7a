/*
 * journal.h — a channel's inbox journal: how a message a channel took
 * from its peer is neither lost nor answered twice across a crash.
 *
 * The order: the message is written here and synced ("in"), only then is
 * it acknowledged to the peer (Telegram's offset moves past it, the mail
 * is marked seen), then it goes to its session with its id (the session
 * logs the id with it and answers a repeat from its log); once the reply
 * is sent, "out" is written. After a restart every "in" without an "out"
 * goes to its session again: a message the session never logged is
 * answered now, one it answered is answered from the log, not by the
 * model again.
 *
 * Format: $DAIMON_HOME/channels/<name>.jsonl, one JSON object per line:
 *   {"in":ID,"chat":C,"sender":S,"text":T,...} taken from the peer (ID: text;
 *                                             what else the channel needs to
 *                                             answer, such as a mail's subject)
 *   {"out":ID}                                its reply was sent
 *   {"mark":M}                                the peer's position (Telegram's
 *                                             next offset), kept across restarts
 *   {"chat":C,"use":KEY}                      chat C talks in conversation KEY
 *                                             now (Telegram's /new, /sessions);
 *                                             the last of each chat is kept
 * At open the file is rewritten with just what is still pending and the
 * last mark; a torn last line (a crash mid-write) is dropped.
 *
 * Writing it syncs the disk, and the access check beside it locks a
 * file: both happen on the work pool (daimon_inbox_take in a job,
 * daimon_journal_out_later), never in a channel's handler. A journal is
 * safe to use from several threads and lives until its last job is over.
 */
#ifndef DAIMON_CHANNELS_JOURNAL_H
#define DAIMON_CHANNELS_JOURNAL_H

#include <cjson/cJSON.h>

#include "core/actor.h"

typedef struct daimon_journal daimon_journal;

/* Opens (creates) the journal of channel `name`; *pending gets the "in"
 * records with no "out" (a JSON array, caller deletes), *mark the last
 * mark (0 if none). */
int daimon_journal_open(daimon_journal **out, const char *home, const char *name, cJSON **pending, double *mark);
/* Stage a record: a message taken, its reply sent, the peer's mark... */
int daimon_journal_in(daimon_journal *j, const char *id, const char *chat, const char *sender, const char *text,
		      const cJSON *extra);
int daimon_journal_out(daimon_journal *j, const char *id);
int daimon_journal_mark(daimon_journal *j, double mark);
/* ...and make what is staged durable: one write, one fdatasync. */
int daimon_journal_commit(daimon_journal *j);
void daimon_journal_close(daimon_journal *j);
/* A job that uses the journal pins it until it is over: it is freed
 * when its channel has closed it and no job holds it any more. */
void daimon_journal_pin(daimon_journal *j);
void daimon_journal_unpin(daimon_journal *j);

/* A batch of messages taken from a peer, for a worker thread: each
 * candidate ({"id","chat","sender","name","text"} and fields of the
 * channel's own, journaled with it) passes `channel`'s access check or
 * not, and those allowed are journaled "in" — with `mark` when it is
 * above 0 — in one commit. Returns {"taken":[the allowed candidates],
 * "pairing":[{"id","chat","sender","code"}: senders given a new pairing
 * code]}, or NULL (last error) when the commit failed: nothing may be
 * acknowledged to the peer then. */
cJSON *daimon_inbox_take(daimon_journal *j, const char *home, const char *channel, const cJSON *candidates,
			 double mark);
/* Journals "out" for `id` (its reply was sent) on the work pool; a
 * failure is said on stderr (the reply is sent again after a restart,
 * and answered from the session's log). */
void daimon_journal_out_later(daimon_rt *rt, daimon_journal *j, const char *id);
/* The same, and in the same commit that `chat` talks in `key` now. */
void daimon_journal_out_use_later(daimon_rt *rt, daimon_journal *j, const char *id, const char *chat, const char *key);
/* The conversation of each chat that is not its own first one, as the
 * journal had it at open: {chat: key} (the caller's). */
cJSON *daimon_journal_uses(daimon_journal *j);

#endif
