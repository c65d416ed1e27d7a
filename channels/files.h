/*
 * files.h — what people send besides text, kept where the tools and the
 * model can find it: $DAIMON_HOME/inbox/YYYY-MM-DD/<id>-<name>.
 *
 * A channel saves each file there before the message goes to its session
 * (the session names pictures by that path in its log, session.h), so a
 * message taken again after a crash lands on the same file.
 */
#ifndef DAIMON_CHANNELS_FILES_H
#define DAIMON_CHANNELS_FILES_H

#include <stddef.h>

/* What the bytes are when they are a picture models take ("image/png",
 * JPEG, GIF, WebP, by their first bytes), or NULL. */
const char *daimon_image_type(const void *data, size_t len);
/* The extension of such a type (".png"), or "". */
const char *daimon_image_ext(const char *mime);
/* Saves `len` bytes as inbox/DAY/ID-NAME (NAME made safe: letters,
 * digits, '.', '-', '_'; `ext` added when it has none), written whole
 * or not at all, mode 0600; `rel` gets the path under $DAIMON_HOME. */
int daimon_file_keep(const char *home, const char *id, const char *name, const char *ext, const void *data, size_t len,
		     char *rel, size_t size);

#endif
