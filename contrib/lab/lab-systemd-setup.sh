#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Run by stage 1 (busybox sh) for `lab run --init systemd`, before it switches to systemd:
# writes into the overlay (its writes land in the tmpfs upper dir, the host root is untouched)
# the units that run the lab command, and masks what has no place in a lab. No generator: the
# files are plain units in /etc/systemd/system, which systemd reads like a host's own.
#
# Usage: lab-systemd-setup.sh ROOT LAB_DIR   (ROOT: the overlay, e.g. /newroot)
set -eu
root=$1
labdir=$2
etc=$root/etc/systemd/system
mkdir -p "$etc"

# systemd.unit=lab.target on the kernel command line: basic.target (sysinit, sockets, journald,
# D-Bus) and the command. multi-user.target and what the build machine enabled there (getty,
# libvirtd, numad, postgresql, ...) are not started; a unit the command starts can still pull
# them (vnumad's Wants=libvirtd.service starts libvirtd, as on a host).
cat >"$etc/lab.target" <<EOF
[Unit]
Description=lab: the lab command
Requires=basic.target
Wants=lab-command.service
After=basic.target lab-command.service
AllowIsolate=yes
EOF

# Type=exec: the boot finishes when the command starts (systemd-analyze time works inside), and
# no start timeout applies to a command that runs for minutes.
cat >"$etc/lab-command.service" <<EOF
[Unit]
Description=lab: run the command of lab run
After=basic.target systemd-journald.socket dbus.socket

[Service]
Type=exec
ExecStart=/bin/bash $labdir/lab-systemd-command.sh
StandardInput=null
StandardOutput=journal+console
StandardError=journal+console
EOF

# Masked: timers (apt-daily, man-db, fstrim, ... would fire at once: their stamps are old),
# the clock sync (no network), module loading (the build machine's /lib/modules is not the lab
# kernel's; stage 1 loaded what the lab needs), pstore, the /etc update jobs (the build machine
# has no /etc/.updated, so ConditionNeedsUpdate= would run sysusers, ldconfig, hwdb on every
# boot), the consoles' gettys, and the build machine's services enabled for multi-user.target,
# should anything isolate to it.
for u in timers.target systemd-timesyncd.service systemd-modules-load.service systemd-pstore.service \
        systemd-sysusers.service ldconfig.service systemd-hwdb-update.service \
        systemd-journal-catalog-update.service systemd-update-done.service \
        getty.target getty@.service serial-getty@.service console-getty.service \
        systemd-networkd-wait-online.service NetworkManager-wait-online.service \
        numad.service postgresql.service libvirt-guests.service e2scrub_reap.service; do
        ln -sf /dev/null "$etc/$u"
done

# The build machine may be a container: with /.dockerenv in its root, systemd thinks it runs in
# one too, and a containerized systemd ignores the kernel command line (systemd.unit=) and skips
# much of a host's boot. The lab is a VM.
rm -f "$root/.dockerenv" "$root/run/.containerenv"

# tmpfiles.d/tmp.conf empties /tmp at boot: on the overlay that is a whiteout for every file of the
# build machine's /tmp, over 9p (84 s for 21,000 files). The host's /tmp stays visible instead.
mkdir -p "$root/etc/tmpfiles.d"
ln -sf /dev/null "$root/etc/tmpfiles.d/tmp.conf"

# The build machine's machine-id would make the lab's journal look like the host's; an empty one
# would make this a first boot (preset-all, firstboot). A fresh one per run.
tr -d '-' </proc/sys/kernel/random/uuid >"$root/etc/machine-id"
echo lab >"$root/etc/hostname"
# The build machine's fstab names its own disks; the lab's mounts are stage 1's.
echo "# lab: no mounts (lab-systemd-setup.sh)" >"$root/etc/fstab"
