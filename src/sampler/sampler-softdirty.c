/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clear_refs and pagemap bit 55: which pages a process wrote since the last clear. */
#include "sampler-softdirty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vnuma/basic/fileio.h"
#include "vnuma/basic/macro.h"

#define PAGEMAP_BATCH 4096 /* entries per pread: 32 KiB, 16 MiB of 4 KiB pages */

uint64_t pagemap_count_soft_dirty(const uint64_t *entries, size_t n)
{
        uint64_t dirty = 0;

        for (size_t i = 0; i < n; i++)
                dirty += (entries[i] & PAGEMAP_SOFT_DIRTY) != 0;
        return dirty;
}

int soft_dirty_count(int pagemap_fd, uint64_t start, uint64_t length, uint64_t *ret_pages)
{
        const uint64_t base = (uint64_t)sysconf(_SC_PAGESIZE);
        uint64_t entries[PAGEMAP_BATCH], n, dirty = 0;

        if (start % base || length % base)
                return -EINVAL;
        n = length / base;
        for (uint64_t done = 0; done < n;) {
                size_t batch = (size_t)MIN(n - done, (uint64_t)PAGEMAP_BATCH);
                int r = pagemap_read(pagemap_fd, start + done * base, batch, base, entries);

                if (r < 0)
                        return r;
                dirty += pagemap_count_soft_dirty(entries, batch);
                done += batch;
        }
        *ret_pages = dirty;
        return 0;
}

static int open_proc_file(const char *procfs_root, const char *pid_dir, const char *name, int flags,
                          int *ret_fd)
{
        _cleanup_free_ char *path = NULL;
        char rel[64];
        int fd, r;

        snprintf(rel, sizeof(rel), "/%s/%s", pid_dir, name);
        r = path_join_root(procfs_root ?: "/proc", rel, &path);
        if (r < 0)
                return r;
        fd = open(path, flags | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        *ret_fd = fd;
        return 0;
}

int soft_dirty_open_pagemap(const char *procfs_root, pid_t pid, int *ret_fd)
{
        char dir[16];

        snprintf(dir, sizeof(dir), "%d", (int)pid);
        return open_proc_file(procfs_root, dir, "pagemap", O_RDONLY, ret_fd);
}

static int clear_refs_in(const char *procfs_root, const char *pid_dir)
{
        _cleanup_close_ int fd = -1;
        int r;

        r = open_proc_file(procfs_root, pid_dir, "clear_refs", O_WRONLY, &fd);
        if (r < 0)
                return r;
        if (write(fd, "4", 1) != 1)
                return negative_errno();
        return 0;
}

int soft_dirty_clear(const char *procfs_root, pid_t pid)
{
        char dir[16];

        snprintf(dir, sizeof(dir), "%d", (int)pid);
        return clear_refs_in(procfs_root, dir);
}

static int self_dirty(int fd, volatile char *page, bool *ret)
{
        uint64_t e;
        off_t off = (off_t)((uintptr_t)page / (uint64_t)sysconf(_SC_PAGESIZE) * sizeof(e));

        if (pread(fd, &e, sizeof(e), off) != (ssize_t)sizeof(e))
                return -EIO;
        *ret = (e & PAGEMAP_SOFT_DIRTY) != 0;
        return 0;
}

int soft_dirty_probe(const char *procfs_root, bool *ret_works)
{
        const size_t size = (size_t)sysconf(_SC_PAGESIZE);
        _cleanup_close_ int fd = -1;
        bool first = false, cleared = true, again = false;
        volatile char *page;
        int r;

        r = open_proc_file(procfs_root, "self", "pagemap", O_RDONLY, &fd);
        if (r < 0)
                return r;
        page = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED)
                return negative_errno();
        page[0] = 1;
        r = self_dirty(fd, page, &first);
        if (r >= 0)
                r = clear_refs_in(procfs_root, "self");
        if (r >= 0)
                r = self_dirty(fd, page, &cleared);
        if (r >= 0) {
                page[0] = 2;
                r = self_dirty(fd, page, &again);
        }
        munmap((void *)page, size);
        if (r < 0)
                return r;
        *ret_works = first && !cleared && again;
        return 0;
}
