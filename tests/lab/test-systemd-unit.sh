#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian package's vnumad.service under a real systemd: boots a lab with systemd as PID 1
# (lab run --init systemd) and runs inside-systemd-unit.sh there, which installs the .deb and
# drives the unit. Passes when the scenario printed a line starting with PASS.
#
# The .deb: $VNUMA_DEB, else BUILD/deb/vnumad_*.deb as `ninja -C BUILD deb` (contrib/build-deb.sh)
# leaves it. Skips (77) without one: building the package takes minutes, not for every test run.
# A .deb whose unit is not this tree's vnumad.service.in is stale and fails the test.
. "$(dirname "$0")/lib.sh"

here=$(dirname "$(readlink -f "$0")")
deb=${VNUMA_DEB:-}
if [ -z "$deb" ]; then
        deb=$(ls -t "$VNUMA_BUILD_ROOT"/deb/vnumad_*.deb 2>/dev/null | head -n1) || true
fi
if [ -z "$deb" ] || [ ! -f "$deb" ]; then
        echo "SKIP: no vnumad .deb: build one with 'ninja -C $VNUMA_BUILD_ROOT deb' or set VNUMA_DEB=PATH"
        exit 77
fi
deb=$(readlink -f "$deb")
note "package $deb: $(dpkg-deb -f "$deb" Package Version | tr '\n' ' ')($(stat -c %y "$deb" | cut -d. -f1))"

# The unit in the package against this tree's template, with the package's paths.
unit_path=$(dpkg-deb -c "$deb" | awk '$NF ~ /\/systemd\/system\/vnumad\.service$/ { print $NF }')
[ -n "$unit_path" ] || fail "$deb has no vnumad.service"
sed -e 's|@sbindir@|/usr/sbin|g' -e 's|@sysconfdir@|/etc|g' \
        "$VNUMA_SOURCE_ROOT/contrib/systemd/vnumad.service.in" >"$LAB_TEST_TMP/expected.service"
dpkg-deb --fsys-tarfile "$deb" | tar -xOf - "$unit_path" >"$LAB_TEST_TMP/packaged.service"
diff -u "$LAB_TEST_TMP/expected.service" "$LAB_TEST_TMP/packaged.service" ||
        fail "$deb is stale: its unit is not contrib/systemd/vnumad.service.in (rebuild: ninja -C $VNUMA_BUILD_ROOT deb)"

out=$LAB_TEST_TMP/out
lab_run "$out" --init systemd "$@" --env VNUMA_DEB="$deb" -- bash "$here/inside-systemd-unit.sh" ||
        fail "the check inside the lab failed (status $?)"
grep -q '^PASS' "$out" || fail "no PASS line from inside the lab"
