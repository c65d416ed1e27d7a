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

/* Whether the receiving server vouches for `from` (an address): its
 * Authentication-Results header — the one with authserv-id `authserv`,
 * or with none given the topmost (the last hop's) — says dmarc=pass for
 * the From domain, or dkim=pass (header.d/header.i) or spf=pass
 * (smtp.mailfrom) for it or a domain it belongs to. Headers of other
 * servers, which a sender can write, count for nothing. */
int daimon_mail_authenticated(const char *raw, size_t len, const char *from, const char *authserv);

#endif
