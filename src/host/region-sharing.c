/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which pages of a guest region vnumad may move for every process that maps them. The answer comes
 * from the kernel's smaps, so a QEMU cannot talk vnumad into moving a host file's page cache by
 * calling it guest RAM with share=on. */
#include "vnuma/host/region-sharing.h"

#include <errno.h>
#include <string.h>

#include "vnuma/basic/macro.h"

static bool deleted(const char *path)
{
        static const char suffix[] = " (deleted)";
        size_t n = strlen(path);

        return n >= sizeof(suffix) - 1 && streq(path + n - (sizeof(suffix) - 1), suffix);
}

enum region_sharing proc_map_sharing(const struct proc_map *p, uint64_t base_page_size)
{
        const char *path = p->path;

        if (p->perms[3] != 's')
                return REGION_PRIVATE;
        if (base_page_size > 0 && p->kernel_page_size > base_page_size)
                return REGION_SHARED_MEMORY; /* only hugetlbfs has a larger KernelPageSize */
        if (!path)
                return REGION_SHARED_FILE; /* the kernel names every shared mapping; be careful */
        /* memfd_create() files are unlinked from birth; the kernel prints them so. */
        if (startswith(path, "/memfd:") && deleted(path))
                return REGION_SHARED_MEMORY;
        if (startswith(path, "/dev/shm/"))
                return REGION_SHARED_MEMORY;
        return REGION_SHARED_FILE;
}

/* Rank by how little the class lets vnumad move. */
static int rank(enum region_sharing s)
{
        switch (s) {
        case REGION_SHARED_MEMORY:
                return 0;
        case REGION_PRIVATE:
                return 1;
        default:
                return 2;
        }
}

int proc_maps_sharing(const struct proc_maps *m, uint64_t start, uint64_t end, uint64_t base_page_size,
                      enum region_sharing *ret)
{
        enum region_sharing worst = REGION_SHARED_MEMORY;
        uint64_t pos = start;

        if (end <= start)
                return -EINVAL;
        for (size_t i = 0; i < m->n_maps && pos < end; i++) {
                const struct proc_map *p = &m->maps[i];
                enum region_sharing s;

                if (p->end <= pos)
                        continue;
                if (p->start > pos)
                        return -ENOENT;
                s = proc_map_sharing(p, base_page_size);
                if (rank(s) > rank(worst))
                        worst = s;
                pos = p->end;
        }
        if (pos < end)
                return -ENOENT;
        *ret = worst;
        return 0;
}
