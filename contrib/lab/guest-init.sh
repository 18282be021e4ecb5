#!/bin/busybox sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# /init of a nested guest's initramfs (lab guest-initrd): runs the static guest workload,
# configured by the vnw.* words of the kernel command line, with its output on the serial
# console; powers off when it ends.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

echo "guest-init: up after $(cut -d' ' -f1 /proc/uptime) s, $(grep -c ^processor /proc/cpuinfo) vCPUs, nodes $(cat /sys/devices/system/node/online)"
/bin/guest-workload
echo "guest-init: the workload exited with status $?"
poweroff -f
