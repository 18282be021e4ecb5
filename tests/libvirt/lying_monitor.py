#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A libvirt domain whose QEMU lies about its vCPU threads through libvirt's own monitor (issue 13):
the stand-in for a QEMU compromised by its guest.

The domain's <emulator> is a wrapper (write_wrapper) that hands libvirt's monitor socket (the
listening `-chardev socket,id=charmonitor,fd=N` libvirt passes, or its path=) to this relay, then
execs the real QEMU with the monitor moved to a socket of its own, so libvirt's pid for the domain
is the real QEMU's. The relay (`lying_monitor.py serve CONTROL LIE_FILE`, a child of the test, out
of libvirt's cgroups) forwards libvirt's QMP traffic both ways; while LIE_FILE exists, the
"thread-id" values of every reply that carries them (query-cpus-fast) are replaced by the thread
ids listed in LIE_FILE. The test creates LIE_FILE only after `virsh start` returned, so libvirt's
own start-up queries (which place the vCPU threads in their cgroups) see the truth.
Prints "ready" once it listens."""
import array
import json
import os
import socket
import sys
import threading
import time

WRAPPER = r'''#!/usr/bin/python3
# Written by tests/libvirt/lying_monitor.py: hands libvirt's QMP monitor to the relay, execs QEMU.
import os, socket, sys
REAL, CONTROL, MONDIR = %r, %r, %r
args = sys.argv[1:]
for i in range(1, len(args)):
    opts = args[i].split(",")
    if args[i - 1] != "-chardev" or opts[0] != "socket" or "id=charmonitor" not in opts:
        continue
    kv = dict(o.split("=", 1) for o in opts[1:] if "=" in o)
    if "fd" in kv:
        lfd = int(kv["fd"])
    else:  # QEMU would listen on path=: listen there ourselves
        s = socket.socket(socket.AF_UNIX)
        s.bind(kv["path"])
        s.listen(4)
        lfd = s.detach()
    mine = os.path.join(MONDIR, "%%d.sock" %% os.getpid())
    c = socket.socket(socket.AF_UNIX)
    c.connect(CONTROL)
    socket.send_fds(c, [mine.encode()], [lfd])
    if c.recv(16) != b"ok":
        sys.exit("lying monitor: the relay did not take the monitor")
    c.close()
    os.close(lfd)
    args[i] = "socket,id=charmonitor,path=%%s,server=on,wait=off" %% mine
    break
os.execv(REAL, [REAL] + args)
'''


def write_wrapper(path, real_qemu, control, mondir):
    """The <emulator> of a lying domain. Without a charmonitor (libvirt's capability probe) it
    is the real QEMU; every path on the way must be readable by libvirt's qemu user."""
    with open(path, "w") as f:
        f.write(WRAPPER % (real_qemu, control, mondir))
    os.chmod(path, 0o755)


def read_lie(lie_file):
    try:
        with open(lie_file) as f:
            return [int(x) for x in f.read().split()]
    except (FileNotFoundError, ValueError):
        return None


def rewrite(line, lie_file):
    """One QMP message from QEMU: the thread ids of a reply swapped for the lie, if one is set."""
    tids = read_lie(lie_file)
    if not tids:
        return line
    try:
        msg = json.loads(line)
    except ValueError:
        return line
    ret = msg.get("return") if isinstance(msg, dict) else None
    if not isinstance(ret, list) or not any(isinstance(e, dict) and "thread-id" in e for e in ret):
        return line
    for i, e in enumerate(ret):
        if isinstance(e, dict) and "thread-id" in e:
            e["thread-id"] = tids[i % len(tids)]
    print("lied: %s" % [e.get("thread-id") for e in ret if isinstance(e, dict)], flush=True)
    return (json.dumps(msg) + "\r\n").encode()


def close_both(a, b):
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def pump_up(src, dst):
    """libvirt -> QEMU, as is."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    close_both(src, dst)


def pump_down(src, dst, lie_file):
    """QEMU -> libvirt, a line (one QMP message) at a time."""
    buf = b""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                dst.sendall(rewrite(line + b"\n", lie_file))
    except OSError:
        pass
    close_both(src, dst)


def serve_monitor(lsock, qemu_path, lie_file):
    """libvirt's monitor socket: each connection of libvirt's goes to QEMU's own socket."""
    while True:
        try:
            c, _ = lsock.accept()
        except OSError:
            return
        q = socket.socket(socket.AF_UNIX)
        deadline = time.monotonic() + 60
        while True:
            try:
                q.connect(qemu_path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    c.close()
                    q = None
                    break
                time.sleep(0.02)
        if q is None:
            continue
        threading.Thread(target=pump_up, args=(c, q), daemon=True).start()
        threading.Thread(target=pump_down, args=(q, c, lie_file), daemon=True).start()


def serve(control, lie_file):
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(control)
    os.chmod(control, 0o777)  # the wrapper runs as libvirt's qemu user
    srv.listen(8)
    print("ready", flush=True)
    while True:
        c, _ = srv.accept()
        fds = array.array("i")
        msg, anc, _, _ = c.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[:len(data) - (len(data) % fds.itemsize)])
        if len(fds) != 1 or not msg:
            c.close()
            continue
        lsock = socket.socket(fileno=fds[0])
        print("monitor of %s taken" % msg.decode(), flush=True)
        threading.Thread(target=serve_monitor, args=(lsock, msg.decode(), lie_file), daemon=True).start()
        c.sendall(b"ok")
        c.close()


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "serve":
        sys.exit("usage: lying_monitor.py serve CONTROL LIE_FILE")
    serve(sys.argv[2], sys.argv[3])
