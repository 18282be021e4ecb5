#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The README's first command. Installs missing Debian packages, builds vnumad, boots a
# 2-node lab (a real multi-node kernel under QEMU TCG, contrib/lab/lab), starts two guests
# whose cells sit on the wrong host nodes and prints `vnumactl show`; then runs vnumad and
# prints a locality timeline, the "after" view and the reasons for what vnumad did.
# Usage: contrib/demo.sh   (as root; build dir: $VNUMA_DEMO_BUILD, default build-demo)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. contrib/deps.sh

[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (it installs packages and boots the lab)" >&2; exit 1; }
ensure_packages $VNUMA_BUILD_PACKAGES $VNUMA_RUNTIME_PACKAGES

build=${VNUMA_DEMO_BUILD:-build-demo}
echo "==> building in $build"
if [ -d "$build" ]; then
        meson setup --reconfigure "$build" >/dev/null
else
        meson setup "$build" >/dev/null
fi
ninja -C "$build" src/vnumactl src/vnumad tests/lab/guest-workload >/dev/null

echo "==> preparing the lab (first run downloads the kernel into ${VNUMA_LAB_CACHE:-/var/cache/vnumad-lab})"
initrd=$(contrib/lab/lab guest-initrd --workload "$build/tests/lab/guest-workload")

echo "==> booting a 2-node lab"
exec contrib/lab/lab run --nodes 2 --cpus-per-node 2 --mem-per-node 2G --timeout 900 \
        --env VNUMA_BUILD_ROOT="$top/$build" --env SCN_GUEST_INITRD="$initrd" -- \
        bash "$top/contrib/lab/demo-inside.sh"
