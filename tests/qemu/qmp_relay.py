#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A relay socket in front of a real QMP socket, run as a process of its own: it stands in for a
compromised QEMU that answers for another, innocent one. Usage: qmp_relay.py LISTEN TARGET.
Prints "ready" once it listens."""
import os
import socket
import sys
import threading


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    listen, target = sys.argv[1], sys.argv[2]
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(listen)
    srv.listen(4)
    print("ready", flush=True)
    while True:
        c, _ = srv.accept()
        t = socket.socket(socket.AF_UNIX)
        try:
            t.connect(target)
        except OSError:
            c.close()
            continue
        threading.Thread(target=pump, args=(c, t), daemon=True).start()
        threading.Thread(target=pump, args=(t, c), daemon=True).start()


if __name__ == "__main__":
    os.umask(0o077)
    main()
