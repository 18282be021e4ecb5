/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pages behind a NUMA-hinting pte, made visible to move_pages again.
 *
 * Kernel NUMA balancing makes ptes PROT_NONE to take a hinting fault on the next access. From
 * 6.0 (474098edac26) to 6.4 (d74943a2f3cd restored the old behaviour) follow_page() refuses such
 * a pte, so move_pages answers -ENOENT for a page that is there, as for one never touched, and
 * cannot move it. With balancing on, every page the guest has not touched since the last scan
 * is one of these: a cold cell could never move.
 *
 * A read through process_vm_readv (GUP without FOLL_FORCE) takes the hinting fault as the guest
 * would, and the fault restores the pte. The read runs on a CPU of the destination node: on that
 * fault the kernel may migrate the page itself, towards the node of the CPU that touched it
 * (mpol_misplaced with MPOL_F_MORON), so it can only go where vnumad is taking it. */
#include <errno.h>
#include <numa.h>
#include <sched.h>
#include <sys/uio.h>

#include "actuator-internal.h"
#include "vnuma/basic/macro.h"

#define UNHINT_IOV_MAX 1024 /* UIO_MAXIOV */

/* Reads one byte of each page; a page that cannot be read is skipped (the next query says what it
 * is). Returns the pages read. */
static size_t read_one_byte_each(pid_t pid, void *const *pages, size_t n)
{
        struct iovec local[UNHINT_IOV_MAX], remote[UNHINT_IOV_MAX];
        char sink;
        size_t read_ok = 0;

        for (size_t off = 0; off < n;) {
                size_t cnt = MIN(n - off, (size_t)UNHINT_IOV_MAX);
                ssize_t got;

                for (size_t j = 0; j < cnt; j++) {
                        local[j] = (struct iovec){.iov_base = &sink, .iov_len = 1};
                        remote[j] = (struct iovec){.iov_base = pages[off + j], .iov_len = 1};
                }
                /* It stops at the first page it cannot read and returns the bytes read before it. */
                got = process_vm_readv(pid, local, cnt, remote, cnt, 0);
                if (got < 0) {
                        if (errno == ESRCH || errno == EPERM)
                                break;
                        got = 0;
                }
                read_ok += (size_t)got;
                off += (size_t)got + ((size_t)got < cnt); /* skip the page that failed */
        }
        return read_ok;
}

size_t actuator_unhint_pages(pid_t pid, int node, void *const *pages, size_t n)
{
        cpu_set_t saved;
        bool moved_here;
        size_t touched;

        if (n == 0)
                return 0;
        /* Best effort: where this thread may not run on the node (a cpuset), the kernel's
         * two-stage filter still keeps a page a first touch reaches where it is. */
        moved_here = sched_getaffinity(0, sizeof(saved), &saved) == 0 && numa_run_on_node(node) == 0;
        touched = read_one_byte_each(pid, pages, n);
        if (moved_here)
                (void)sched_setaffinity(0, sizeof(saved), &saved);
        return touched;
}
