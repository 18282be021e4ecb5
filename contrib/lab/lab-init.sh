#!/bin/busybox sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Stage 1 of the lab host, /init of its busybox initramfs. Loads the virtio/9p/overlay
# modules, mounts the build machine's root read-only over 9p under a tmpfs-backed overlay,
# and switches to stage 2 (lab-stage2.sh, read from that root), or with lab.init=systemd to the
# root's systemd after lab-systemd-setup.sh (beside stage 2) wrote the lab's units into the
# overlay. proc, sysfs and devtmpfs
# are unmounted before switch_root: mounting them only afterwards is what lets stage 2
# write /proc/sysrq-trigger (see LAB-NOTES.md).

/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

fail() {
        echo "lab-init: $*"
        echo o >/proc/sysrq-trigger
        sleep 30
}

for m in $(cat /lib/modules/order); do
        insmod "/lib/modules/$m.ko" || fail "insmod $m failed"
done

stage2=
init=stage2
for arg in $(cat /proc/cmdline); do
        case "$arg" in
        lab.stage2=*) stage2=${arg#lab.stage2=} ;;
        lab.init=*) init=${arg#lab.init=} ;;
        esac
done
[ -n "$stage2" ] || fail "no lab.stage2= on the kernel command line"

mkdir -p /lower /rw /newroot
# cache=loose: the host root does not change under a run, and it makes exec and path
# lookups several times faster than uncached 9p.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /lower ||
        fail "cannot mount the host root over 9p"
mount -t tmpfs -o mode=0755 lab-rw /rw || fail "cannot mount the overlay's tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work lab-root /newroot ||
        fail "cannot mount the overlay root"
[ -x "/newroot$stage2" ] || fail "stage 2 $stage2 is not executable in the host root"

next=$stage2
if [ "$init" = systemd ]; then
        labdir=${stage2%/*}
        sh "/newroot$labdir/lab-systemd-setup.sh" /newroot "$labdir" || fail "lab-systemd-setup.sh failed"
        next=/lib/systemd/systemd
        [ -x "/newroot$next" ] || fail "no $next in the host root"
fi

umount /proc /sys
umount -l /dev
exec switch_root /newroot "$next"
