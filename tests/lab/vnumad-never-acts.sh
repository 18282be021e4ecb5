#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A vnumad that plans and reports but never acts (--dry-run), to show that a lab test judges by
# the kernel and not by vnumad's word: with it, lab-vnumad-converge must FAIL.
#   VNUMAD=$PWD/tests/lab/vnumad-never-acts.sh meson test -C build lab-vnumad-converge
# Not a meson test of its own. The real vnumad: $VNUMAD_REAL, else the build tree's.
set -euo pipefail
exec "${VNUMAD_REAL:-$VNUMA_BUILD_ROOT/src/vnumad}" --dry-run "$@"
