#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A libvirt domain whose QEMU lies about its vCPU threads through libvirt's own monitor (issue 13):
the stand-in for a QEMU compromised by its guest.

The domain's <emulator> is a wrapper (write_wrapper) that hands libvirt's monitor socket (the
listening `-chardev socket,id=charmonitor,fd=N` libvirt passes, or its path=) to this relay, then
execs the real QEMU with the monitor moved to a socket of its own, so libvirt's pid for the domain
is the real QEMU's. The relay (`lying_monitor.py serve CONTROL LIE_FILE`, a child of the test, out
of libvirt's cgroups) forwards libvirt's QMP traffic to that QEMU and back. Once LIE_FILE names
another QEMU's QMP socket, every command libvirt sends from then on (vnumad's, through
virDomainQemuMonitorCommand) is answered by that other, innocent QEMU: its vCPU threads, its
memory backends, its addresses, a consistent lie a compromised QEMU could tell. The innocent's
events are dropped; the real QEMU's still reach libvirt. The test writes LIE_FILE only after
`virsh start` returned, so libvirt's own start-up queries (which place the vCPU threads in their
cgroups) see the truth. Prints "ready" once it listens."""
import array
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
    """The QMP socket of the QEMU to answer for the real one, or None (tell the truth)."""
    try:
        with open(lie_file) as f:
            return f.read().strip() or None
    except FileNotFoundError:
        return None


class Lines:
    """QMP messages (one a line) from a socket."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def __iter__(self):
        while True:
            while b"\n" not in self.buf:
                try:
                    data = self.sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    return
                self.buf += data
            line, self.buf = self.buf.split(b"\n", 1)
            yield line + b"\n"


class Session:
    """One connection of libvirt's: to the real QEMU, or, once lying, to the innocent one."""

    def __init__(self, libvirt, qemu, lie_file):
        self.libvirt, self.qemu, self.lie_file = libvirt, qemu, lie_file
        self.innocent = None
        self.lock = threading.Lock()

    def to_libvirt(self, line):
        with self.lock:
            self.libvirt.sendall(line)

    def target(self):
        path = read_lie(self.lie_file)
        if path is None:
            return self.qemu
        if self.innocent is None:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            lines = iter(Lines(s))
            next(lines)  # the greeting
            s.sendall(b'{"execute": "qmp_capabilities"}\r\n')
            while b'"return"' not in next(lines):
                pass
            threading.Thread(target=self.down, args=(lines, True), daemon=True).start()
            self.innocent = s
            print("now answering with %s" % path, flush=True)
        return self.innocent

    def up(self):
        """libvirt -> QEMU, a message at a time, to whichever QEMU answers now."""
        try:
            for line in Lines(self.libvirt):
                if b'"query-cpus-fast"' in line and read_lie(self.lie_file):
                    print("query-cpus-fast answered by the innocent QEMU", flush=True)
                self.target().sendall(line)
        except (OSError, StopIteration):
            pass
        self.close()

    def down(self, lines, innocent):
        try:
            for line in lines:
                if innocent and b'"event"' in line:
                    continue
                self.to_libvirt(line)
        except OSError:
            pass
        if not innocent:
            self.close()

    def close(self):
        for s in (self.libvirt, self.qemu, self.innocent):
            try:
                if s:
                    s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


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
        sess = Session(c, q, lie_file)
        threading.Thread(target=sess.up, daemon=True).start()
        threading.Thread(target=sess.down, args=(iter(Lines(q)), False), daemon=True).start()


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
