/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Reading files below a root directory. Every sysfs/proc/cgroup reader goes through these,
 * so tests can point the root at a fixture tree under tests/data/. */

#include <stddef.h>
#include <sys/types.h>

/* "root" + "/" + "path", with root NULL or "" meaning "/". */
int path_join_root(const char *root, const char *path, char **ret);

/* Whole file, NUL-terminated. ret_size may be NULL. Fails with -EFBIG past max_size. */
int read_full_file_at(const char *root, const char *path, size_t max_size, char **ret, size_t *ret_size);

/* First line without its trailing newline. */
int read_one_line_at(const char *root, const char *path, char **ret);

/* Replaces path with data as one step: written to a temporary file in path's directory (so the
 * rename stays on one file system), fsync'ed, given mode (not the umask's), renamed over path.
 * A reader sees the old file or the new one, never a part. The temporary file is removed when a
 * step fails. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);
