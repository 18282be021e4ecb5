#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Stage 2 of the lab host: PID 1 on the overlay root (the build machine's root, read-only
# over 9p, with writes going to a tmpfs). Mounts the API filesystems, a writable /run and
# cgroup v1 hierarchies the way the build machine has them, then runs the COMMAND that
# `lab run` left in the per-run share (/run/lab/cmd.sh) with its output on the second
# serial port, writes its exit status into the share and powers off.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

poweroff_now() {
        echo o >/proc/sysrq-trigger
        sleep 60
}

fail() {
        echo "lab-stage2: $*" >/dev/console
        poweroff_now
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/null >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm /dev/mqueue /dev/hugepages
mount -t devpts -o gid=5,mode=620,ptmxmode=000 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t mqueue mqueue /dev/mqueue
mount -t hugetlbfs hugetlbfs /dev/hugepages
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/lock /run/lab
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null

# cgroup v1, like the build machine (libvirt places domains under /machine there).
mount -t tmpfs -o mode=0755 cgroup /sys/fs/cgroup
for c in cpuset cpu cpuacct memory devices freezer blkio pids; do
        mkdir -p "/sys/fs/cgroup/$c"
        mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c" || echo "lab-stage2: no cgroup controller $c"
done
mkdir -p /sys/fs/cgroup/unified
mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified

mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 labrun /run/lab || fail "cannot mount the run share"

hostname lab
ip link set lo up 2>/dev/null

# shellcheck source=contrib/lab/lab-command.sh
. "$(dirname "$0")/lab-command.sh"
lab_run_command lab-stage2
