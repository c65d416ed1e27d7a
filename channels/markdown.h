/*
 * markdown.h — the model's markdown (GitHub's: tables, strikethrough,
 * autolinks, task lists) made fit for where it is read, by cmark-gfm.
 *
 * Whatever the model writes is outside text: raw HTML in it is shown as
 * text, never run; links keep only http, https and mailto targets;
 * images become links (a page that loaded them would tell their server
 * what the conversation put in their address).
 */
#ifndef DAIMON_CHANNELS_MARKDOWN_H
#define DAIMON_CHANNELS_MARKDOWN_H

#include <stddef.h>

/* HTML for a page (safe to put in innerHTML). The caller frees it. */
char *daimon_md_html(const char *md, size_t len);

/* Telegram's HTML (parse_mode "HTML") in messages of at most `limit`
 * bytes each, split between blocks, a code block too long for one split
 * into closed parts. *parts (count returned) and each are the caller's. */
size_t daimon_md_telegram(const char *md, size_t len, size_t limit, char ***parts);

/* For a terminal: bold, italics, code and headings by ANSI escapes
 * (`color` 0: plain text), lists and tables laid out, control characters
 * from the text never written raw. The caller frees it. */
char *daimon_md_terminal(const char *md, size_t len, int color);

#endif
