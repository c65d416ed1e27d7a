/*
 * fsutil.h — small file-system helpers with the durability rules daimon
 * needs everywhere: whole writes that survive EINTR and short writes, and
 * atomic replacement (temp file + fsync + rename + fsync of the directory)
 * so a crash leaves either the old file or the new one, never half of each.
 */
#ifndef DAIMON_CORE_FSUTIL_H
#define DAIMON_CORE_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "core/buf.h"

/* Creates `path` and its missing parents with `mode`. Existing dirs are fine. */
int daimon_mkdir_p(const char *path, mode_t mode);
/* write(2) until all of `len` is written; -1 with errno on failure. */
int daimon_write_all(int fd, const void *data, size_t len);
/* pread(2) until `len` bytes or end of file; returns bytes read or -1. */
ssize_t daimon_pread_all(int fd, void *data, size_t len, off_t off);
/* Reads the whole file into `out` (appending). */
int daimon_read_file(daimon_buf *out, const char *path);
/* Atomically replaces `path` with `data` (mode for a new file). */
int daimon_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Creates `path` with `data` only if it does not exist yet: 1 created, 0 existed. */
int daimon_write_file_new(const char *path, const void *data, size_t len, mode_t mode);
/* fsync(2) of the directory holding entries just created or renamed. */
int daimon_fsync_dir(const char *dir);
/* The same for the directory that holds `path`. */
int daimon_fsync_parent(const char *path);

#endif
