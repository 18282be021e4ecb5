#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# meson install script: copy the example config to the config directory unless a file is
# already there (an edited config survives a re-install). $1: installed example, $2: config dir.
set -eu
example="${DESTDIR:-}$1"
dest="${DESTDIR:-}$2/vnumad.conf"
if [ -e "$dest" ] || [ -L "$dest" ]; then
        echo "Keeping $dest (the example is $1)."
else
        install -D -m 0644 "$example" "$dest"
        echo "Installing $dest"
fi
