/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/host/pagemap.h"

#include <errno.h>
#include <sys/types.h>
#include <unistd.h>

#include "vnuma/basic/macro.h"

int pagemap_read(int fd, uint64_t start, size_t n, uint64_t page_size, uint64_t *entries)
{
        const uint64_t base = (uint64_t)sysconf(_SC_PAGESIZE);

        if (fd < 0)
                return -EBADF;
        if (page_size == base) {
                size_t want = n * sizeof(uint64_t);
                ssize_t got = pread(fd, entries, want, (off_t)(start / base * sizeof(uint64_t)));

                if (got < 0)
                        return negative_errno();
                return (size_t)got == want ? 0 : -EIO;
        }
        for (size_t i = 0; i < n; i++) {
                off_t off = (off_t)((start + i * page_size) / base * sizeof(uint64_t));
                ssize_t got = pread(fd, &entries[i], sizeof(uint64_t), off);

                if (got < 0)
                        return negative_errno();
                if (got != sizeof(uint64_t))
                        return -EIO;
        }
        return 0;
}
