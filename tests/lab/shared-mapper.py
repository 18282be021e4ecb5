#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Lab helper for inside-shared-backends.sh: a second process on a QEMU's guest RAM, the way a
vhost-user back end maps it, and one move_pages(2) call straight to the kernel.

    shared-mapper.py map QEMU_PID SIZE OUT
        opens QEMU's memfd of SIZE bytes through /proc/QEMU_PID/fd/N, maps it MAP_SHARED, reads
        every page (so each is mapped here too), writes "START END" of the mapping to OUT, then
        sleeps until killed
    shared-mapper.py move-one PID ADDR NODE FLAGS
        move_pages(PID, 1, [ADDR], [NODE], status, FLAGS); prints the page's status (a node, or
        a negative errno such as -13 for EACCES)"""
import ctypes
import mmap
import os
import signal
import sys
import time

SYS_MOVE_PAGES = 279  # x86_64


def find_memfd(pid, size):
    found = {}  # one file may sit behind several fds (a dup): tell files apart by inode
    for fd in os.listdir("/proc/%d/fd" % pid):
        path = "/proc/%d/fd/%s" % (pid, fd)
        try:
            target = os.readlink(path)
            st = os.stat(path)
        except OSError:
            continue
        if target.startswith("/memfd:") and st.st_size == size:
            found.setdefault((st.st_dev, st.st_ino), path)
    if len(found) != 1:
        sys.exit("shared-mapper: expected one memfd of %d bytes in /proc/%d/fd, found %s" %
                 (size, pid, sorted(found.values())))
    return next(iter(found.values()))


def cmd_map(pid, size, out):
    fd = os.open(find_memfd(pid, size), os.O_RDONLY)
    m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for off in range(0, size, page):
        total += m[off]  # a read fault maps QEMU's page here: it is now mapped twice
    with open("/proc/self/maps") as f:
        spans = [line.split()[0] for line in f if "/memfd:" in line]
    spans = [(int(a, 16), int(b, 16)) for a, b in (s.split("-") for s in spans)]
    spans = [s for s in spans if s[1] - s[0] == size]
    if len(spans) != 1:
        sys.exit("shared-mapper: cannot find my own mapping of the memfd: %s" % spans)
    with open(out + ".tmp", "w") as f:
        f.write("%d %d\n" % spans[0])
    os.rename(out + ".tmp", out)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    while True:
        time.sleep(3600)


def cmd_move_one(pid, addr, node, flags):
    libc = ctypes.CDLL(None, use_errno=True)
    pages = (ctypes.c_void_p * 1)(addr)
    nodes = (ctypes.c_int * 1)(node)
    status = (ctypes.c_int * 1)(-999)
    r = libc.syscall(SYS_MOVE_PAGES, ctypes.c_long(pid), ctypes.c_ulong(1), pages, nodes, status,
                     ctypes.c_int(flags))
    if r < 0:
        sys.exit("shared-mapper: move_pages: %s" % os.strerror(ctypes.get_errno()))
    print(status[0])


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "map":
        cmd_map(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) == 6 and sys.argv[1] == "move-one":
        cmd_move_one(int(sys.argv[2]), int(sys.argv[3], 0), int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
