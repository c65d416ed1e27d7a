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
 * At open the file is rewritten with just what is still pending and the
 * last mark; a torn last line (a crash mid-write) is dropped.
 */
#ifndef DAIMON_CHANNELS_JOURNAL_H
#define DAIMON_CHANNELS_JOURNAL_H

#include <cjson/cJSON.h>

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

#endif
