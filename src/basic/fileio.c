/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/basic/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vnuma/basic/macro.h"

int path_join_root(const char *root, const char *path, char **ret)
{
        char *s;

        if (!root || !*root || streq(root, "/"))
                root = "";
        while (*path == '/')
                path++;
        if (asprintf(&s, "%s/%s", root, path) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int read_full_file_at(const char *root, const char *path, size_t max_size, char **ret, size_t *ret_size)
{
        _cleanup_free_ char *full = NULL, *buf = NULL;
        _cleanup_close_ int fd = -1;
        size_t size = 0, alloc = 4096;
        int r;

        r = path_join_root(root, path, &full);
        if (r < 0)
                return r;
        fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        buf = malloc(alloc);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n;

                if (size + 1 >= alloc) {
                        char *nb;

                        if (alloc > max_size + 1)
                                return -EFBIG;
                        alloc *= 2;
                        nb = realloc(buf, alloc);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                }
                n = read(fd, buf + size, alloc - size - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                size += (size_t)n;
                if (size > max_size)
                        return -EFBIG;
        }
        buf[size] = '\0';
        if (ret_size)
                *ret_size = size;
        *ret = TAKE_PTR(buf);
        return 0;
}

int read_one_line_at(const char *root, const char *path, char **ret)
{
        char *buf, *nl;
        int r;

        r = read_full_file_at(root, path, 1 << 20, &buf, NULL);
        if (r < 0)
                return r;
        nl = strchr(buf, '\n');
        if (nl)
                *nl = '\0';
        *ret = buf;
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode)
{
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -1;
        const char *p = data;
        int r;

        /* A dot file beside the target (node_exporter's textfile collector reads *.prom only),
         * named with a random suffix and created exclusively, so no one else's file is reused. */
        const char *slash = strrchr(path, '/');
        for (unsigned attempt = 0; fd < 0; attempt++) {
                uint64_t suffix;

                if (getrandom(&suffix, sizeof(suffix), 0) != (ssize_t)sizeof(suffix))
                        return -EIO;
                free(tmp);
                tmp = NULL;
                if (asprintf(&tmp, "%.*s.%s.%016" PRIx64, slash ? (int)(slash - path + 1) : 0, path,
                             slash ? slash + 1 : path, suffix) < 0)
                        return -ENOMEM;
                fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                if (fd < 0 && (errno != EEXIST || attempt >= 16))
                        return negative_errno();
        }
        for (size_t done = 0; done < size;) {
                ssize_t n = write(fd, p + done, size - done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = negative_errno();
                        goto fail;
                }
                done += (size_t)n;
        }
        if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
                r = negative_errno();
                goto fail;
        }
        if (rename(tmp, path) < 0) {
                r = negative_errno();
                goto fail;
        }
        return 0;
fail:
        (void)unlink(tmp);
        return r;
}
