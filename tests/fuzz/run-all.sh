#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs every libFuzzer target of a -Dfuzzing=true build for RUNS executions each (default 10 M),
# two at a time, each on a scratch copy of its seed corpus (tests/fuzz/corpus/NAME is not
# touched). Prints per target the executions done, the time and the final coverage line; exits
# 1 when one crashed, leaked or timed out (its crash file is kept in OUT). Names after OUT
# (config, metadata, ...) pick targets; FUZZ_JOBS sets how many run at once.
#
# Usage: tests/fuzz/run-all.sh BUILD_DIR [RUNS] [OUT] [TARGET...]
set -uo pipefail
build=${1:?usage: run-all.sh BUILD_DIR [RUNS] [OUT] [TARGET...]}
runs=${2:-10000000}
out=${3:-$(mktemp -d /tmp/vnuma-fuzz.XXXXXX)}
shift $(($# < 3 ? $# : 3))
src=$(cd "$(dirname "$0")/../.." && pwd)
jobs=${FUZZ_JOBS:-2}
mkdir -p "$out"

targets=()
if [ $# -gt 0 ]; then
        for name in "$@"; do
                [ -x "$build/tests/fuzz/fuzz-$name" ] ||
                        { echo "run-all: no target fuzz-$name in $build/tests/fuzz" >&2; exit 2; }
                targets+=("fuzz-$name")
        done
fi
for f in "$build"/tests/fuzz/fuzz-*; do
        [ $# -eq 0 ] && [ -x "$f" ] && [ -f "$f" ] && targets+=("$(basename "$f")")
done
[ ${#targets[@]} -gt 0 ] || { echo "run-all: no fuzz targets in $build/tests/fuzz (build with -Dfuzzing=true)" >&2; exit 2; }
echo "run-all: ${#targets[@]} targets, $runs executions each, logs and crash files in $out"

run_one() { # target
        local t=$1 name=${1#fuzz-} start rc
        rm -rf "$out/$name.corpus"
        cp -r "$src/tests/fuzz/corpus/$name" "$out/$name.corpus"
        start=$SECONDS
        "$build/tests/fuzz/$t" -runs="$runs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
                -artifact_prefix="$out/$name-" "$out/$name.corpus" >"$out/$name.log" 2>&1
        rc=$?
        printf '%-26s exit %d, %s executions in %d s; %s\n' "$t" "$rc" \
                "$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$name.log" | tail -1)" \
                "$((SECONDS - start))" "$(grep -E '^#[0-9]+[[:space:]]+DONE' "$out/$name.log" | tail -1 | cut -c1-90)"
        return $rc
}

failed=0
pids=()
for t in "${targets[@]}"; do
        run_one "$t" &
        pids+=($!)
        if [ ${#pids[@]} -ge $jobs ]; then
                wait "${pids[0]}" || failed=1
                pids=("${pids[@]:1}")
        fi
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
[ $failed -eq 0 ] && echo "run-all: every target ran $runs executions without a finding" ||
        echo "run-all: a target failed; see $out"
exit $failed
