#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs a COMMAND that fails inside the lab and exits with the lab's status: registered with
# should_fail, so meson reports an error if a failing COMMAND ever looked like a success.
. "$(dirname "$0")/lib.sh"

"$LAB" run --timeout 120 -- sh -c 'echo "failing on purpose"; exit 3'
