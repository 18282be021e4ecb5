# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# Sourced by every lab test. meson passes LAB (contrib/lab/lab), VNUMA_SOURCE_ROOT and
# VNUMA_BUILD_ROOT in the environment. Prints the test's wall time when it ends, skips
# (exit 77) only when the lab cannot run at all on this machine.
set -euo pipefail

: "${LAB:?LAB must name contrib/lab/lab}"
: "${VNUMA_SOURCE_ROOT:?}"
: "${VNUMA_BUILD_ROOT:?}"
LAB_TEST_NAME=$(basename "$0" .sh)
LAB_TEST_T0=$EPOCHREALTIME

lab_test_end() {
        local rc=$? t1=$EPOCHREALTIME
        LC_ALL=C printf '%s: wall time %.1f s (exit %d)\n' "$LAB_TEST_NAME" \
                "$(awk -v a="$LAB_TEST_T0" -v b="$t1" 'BEGIN { print b - a }')" "$rc"
        [ -n "${LAB_TEST_TMP:-}" ] && rm -rf "$LAB_TEST_TMP"
        exit "$rc"
}
trap lab_test_end EXIT

if ! command -v qemu-system-x86_64 >/dev/null; then
        echo "SKIP: qemu-system-x86_64 is not installed, the lab cannot run"
        exit 77
fi

# Scratch space on the build machine, outside /tmp's usual churn but visible in the lab
# (the lab's root is the build machine's root).
LAB_TEST_TMP=$(mktemp -d "$VNUMA_BUILD_ROOT/lab-test.XXXXXX")

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

note() {
        echo "== $*"
}

# lab_run OUTFILE LAB-OPTIONS... -- COMMAND...: runs the lab, tees its output into OUTFILE
# and returns the lab's exit status.
lab_run() {
        local out=$1 rc
        shift
        set +e
        "$LAB" run "$@" | tee "$out"
        rc=${PIPESTATUS[0]}
        set -e
        return "$rc"
}

# lab_check_kernel OUTFILE: the lab that wrote OUTFILE booted the kernel asked for, judged by
# the `lab: kernel $(uname -r)` line `lab run` prints inside, against the package
# contrib/lab/kernels pins for VNUMA_LAB_KERNEL (or its first line): a test named -k612 that
# silently booted 6.1 would prove nothing about 6.12.
lab_check_kernel() {
        local out=$1 kernels=$VNUMA_SOURCE_ROOT/contrib/lab/kernels series pkg got
        series=${VNUMA_LAB_KERNEL:-$(awk '!/^#/ && NF == 2 { print $1; exit }' "$kernels")}
        pkg=$(awk -v s="$series" '!/^#/ && NF == 2 && $1 == s { print $2; exit }' "$kernels")
        [ -n "$pkg" ] || fail "no kernel series '$series' in $kernels"
        got=$(tr -d '\r' <"$out" | sed -n 's/^lab: kernel \([^ ,]*\),.*/\1/p' | head -n1)
        [ "$got" = "${pkg#linux-image-}" ] ||
                fail "the lab ran kernel '${got:-none}', expected ${pkg#linux-image-} (series $series)"
        echo "kernel: $got (series $series)"
}
