/*
 * mailmsg.h — reading a mail well enough to answer it, and writing the
 * answer (mailmsg.c).
 */
#ifndef DAIMON_CHANNELS_MAILMSG_H
#define DAIMON_CHANNELS_MAILMSG_H

#include <stddef.h>

typedef struct {
	char *from;       /* the sender's address, lower case */
	char *name;       /* the sender's display name, or NULL */
	char *subject;    /* or NULL */
	char *message_id; /* "<...>", or NULL */
	char *references; /* or NULL */
	char *text;       /* the first text/plain part, decoded, trimmed */
} daimon_mail;

/* Parses the raw message; -1 when it has no usable From. */
int daimon_mail_parse(daimon_mail *out, const char *raw, size_t len);
void daimon_mail_release(daimon_mail *m);
/* The reply, headers and body, CRLF line ends (caller frees): "Re:" the
 * subject, In-Reply-To and References the original. */
char *daimon_mail_reply(const char *from, const char *to, const char *subject, const char *message_id,
			const char *references, const char *text);

#endif
