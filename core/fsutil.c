/*
 * fsutil.c — see fsutil.h.
 */
#include "core/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

int daimon_mkdir_p(const char *path, mode_t mode)
{
	char *p = daimon_xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			int rc = daimon_error_errno("cannot create directory '%s'", p);
			free(p);
			return rc;
		}
		*s = '/';
	}
	int rc = 0;
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		rc = daimon_error_errno("cannot create directory '%s'", p);
	free(p);
	return rc;
}

int daimon_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t daimon_pread_all(int fd, void *data, size_t len, off_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, (char *)data + done, len - done, off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int daimon_read_file(daimon_buf *out, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return daimon_error_code(errno == ENOENT ? DAIMON_ENOTFOUND : DAIMON_ERROR, "cannot open '%s': %s",
					 path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) == 0 && st.st_size > 0)
		daimon_buf_grow(out, (size_t)st.st_size + 1); /* one allocation for the usual case */
	for (;;) {
		daimon_buf_grow(out, 4096);
		ssize_t n = read(fd, out->ptr + out->len, out->cap - out->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int rc = daimon_error_errno("cannot read '%s'", path);
			close(fd);
			return rc;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		out->ptr[out->len] = '\0';
	}
	close(fd);
	return 0;
}

int daimon_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return daimon_error_errno("cannot open directory '%s'", dir);
	int rc = fsync(fd) < 0 ? daimon_error_errno("cannot sync directory '%s'", dir) : 0;
	close(fd);
	return rc;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return daimon_xstrdup(".");
	if (slash == path)
		return daimon_xstrdup("/");
	return daimon_xstrndup(path, (size_t)(slash - path));
}

/* Writes `data` to a new temporary file beside `path` and syncs it; the
 * caller renames or links it into place. Returns the temporary name
 * (caller frees and unlinks) or NULL with the error set. */
static char *write_temp(const char *path, const void *data, size_t len, mode_t mode)
{
	char *tmp = daimon_xasprintf("%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		daimon_error_errno("cannot create '%s'", tmp);
		free(tmp);
		return NULL;
	}
	if (daimon_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		daimon_error_errno("cannot write '%s'", tmp);
		close(fd);
		unlink(tmp);
		free(tmp);
		return NULL;
	}
	close(fd);
	return tmp;
}

int daimon_fsync_parent(const char *path)
{
	char *dir = dir_of(path);
	int rc = daimon_fsync_dir(dir);
	free(dir);
	return rc;
}

int daimon_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char *tmp = write_temp(path, data, len, mode);
	if (!tmp)
		return -1;
	int rc = 0;
	if (rename(tmp, path) < 0) {
		rc = daimon_error_errno("cannot rename '%s' to '%s'", tmp, path);
		unlink(tmp);
	} else {
		rc = daimon_fsync_parent(path);
	}
	free(tmp);
	return rc;
}

int daimon_write_file_new(const char *path, const void *data, size_t len, mode_t mode)
{
	struct stat st;
	if (lstat(path, &st) == 0)
		return 0;
	/* Link the finished temp file into place: never a half-written file
	 * under the real name, and never over one the user already has. */
	char *tmp = write_temp(path, data, len, mode);
	if (!tmp)
		return -1;
	int rc = 1;
	if (link(tmp, path) < 0)
		rc = errno == EEXIST ? 0 : daimon_error_errno("cannot create '%s'", path);
	unlink(tmp);
	free(tmp);
	return rc;
}
