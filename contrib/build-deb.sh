#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the Debian package from a clean copy of this tree (its tracked files as they are in the
# working tree: no build directories, nothing untracked) and leaves vnumad_*.deb in OUTDIR.
# `ninja -C BUILD deb` runs it with OUTDIR=BUILD/deb, where tests/lab/test-systemd-unit.sh looks.
# The unit suite is not run (nocheck): meson test runs it; DEB_BUILD_OPTIONS adds to that.
#
# Usage: contrib/build-deb.sh OUTDIR
set -euo pipefail
out=${1:?usage: build-deb.sh OUTDIR}
src=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
command -v dpkg-buildpackage >/dev/null || { echo "build-deb: dpkg-buildpackage is not installed (dpkg-dev)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vnumad-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/vnumad"
# Tracked files that still exist (a file deleted in the working tree is not in the copy).
(cd "$src" && git ls-files -z --cached | while IFS= read -r -d '' f; do
        [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"
done | tar --null -T - -cf -) | tar -xf - -C "$tmp/vnumad"
(cd "$tmp/vnumad" && DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -b -us -uc) >"$tmp/build.log" 2>&1 || {
        tail -n 40 "$tmp/build.log" >&2
        echo "build-deb: dpkg-buildpackage failed" >&2
        exit 1
}
mkdir -p "$out"
rm -f "$out"/vnumad_*.deb "$out"/vnumad-*.deb
cp "$tmp"/*.deb "$out"/
ls -l "$out"/*.deb
