#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bad QMP input: vnumactl names the command and the problem, exits 1 and never crashes."""
import json
import os
import socket
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from vnumatest import Failures, ctl  # noqa: E402
from scripted_peer import ScriptedPeer, hmp_reply  # noqa: E402

ME = os.getpid()  # a real thread id, so the pid lookup of the vCPU succeeds
GOOD = {
    "query-name": '{"return": {"name": "bad"}, "id": %ID%}\r\n',
    "query-cpus-fast": '{"return": [{"cpu-index": 0, "thread-id": %d, "props": {"node-id": 0}}], "id": %%ID%%}\r\n' % ME,
    "query-memdev": '{"return": [{"id": "m0", "size": 4096, "policy": "default", "prealloc": false, "host-nodes": []}], "id": %ID%}\r\n',
    "qom-list": '{"return": [{"name": "m0", "type": "child<memory-backend-ram>"}], "id": %ID%}\r\n',
    "query-memory-devices": '{"return": [], "id": %ID%}\r\n',
}


def run(t, label, replies, expect_words, greeting=True, timeout_ms=None):
    script = dict(GOOD)
    script.update(replies)
    kwargs = {} if greeting is True else {"greeting": greeting}
    with ScriptedPeer(script, **kwargs) as peer:
        args = ["show", "--qmp", peer.path]
        if timeout_ms:
            args += ["--timeout", str(timeout_ms)]
        p = ctl(None, *args, check=False)
    print("-- %s: rc=%d stderr=%s" % (label, p.returncode, p.stderr.strip()))
    t.check(p.returncode == 1, "%s: exit status %d, expected 1" % (label, p.returncode))
    for w in expect_words:
        t.check(w in p.stderr, "%s: stderr lacks %r: %r" % (label, w, p.stderr))
    t.check("Segmentation" not in p.stderr and "AddressSanitizer" not in p.stderr, "%s: crashed" % label)


def not_qmp_server(t):
    """A socket that talks something else entirely."""
    d = tempfile.mkdtemp(prefix="vnuma-peer-")
    path = os.path.join(d, "http.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.listen(1)

    def serve():
        c, _ = s.accept()
        c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        c.close()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    p = ctl(None, "show", "--qmp", path, check=False)
    print("-- http: rc=%d stderr=%s" % (p.returncode, p.stderr.strip()))
    t.check(p.returncode == 1, "http: exit status %d" % p.returncode)
    t.check(path in p.stderr, "http: error names the socket")
    t.check("does not speak QMP" in p.stderr, "http: error says it is not QMP: %r" % p.stderr)
    s.close()
    os.unlink(path)
    os.rmdir(d)


def main():
    t = Failures()
    not_qmp_server(t)
    run(t, "silent peer", {}, ["peer.sock", "no QMP greeting within 300 ms"], greeting=None, timeout_ms=300)
    run(t, "json greeting that is not QMP", {}, ["peer.sock", "does not speak QMP"], greeting='{"hello": "world"}\r\n')
    run(t, "thread-id not a number",
        {"query-cpus-fast": '{"return": [{"cpu-index": 0, "thread-id": "x"}], "id": %ID%}\r\n'},
        ["query-cpus-fast", "thread-id"])
    run(t, "truncated reply then EOF", {"query-cpus-fast": '{"return": [{"cpu-index": 0, "thr%EOF%'},
        ["query-cpus-fast", "closed"])
    run(t, "truncated reply, peer stays", {"query-cpus-fast": '{"return": [{"cpu-index": 0, "thr'},
        ["query-cpus-fast", "no reply before the query's time budget of 300 ms ran out"], timeout_ms=300)
    many = ",".join('{"cpu-index": %d, "thread-id": %d, "props": {"node-id": 0}}' % (i, ME) for i in range(1025))
    run(t, "more vCPUs than vnumad accepts", {"query-cpus-fast": '{"return": [%s], "id": %%ID%%}\r\n' % many},
        ["query-cpus-fast", "1025 elements, more than the 1024 vnumad accepts"])
    run(t, "reply without return or error", {"query-name": '{"id": %ID%, "retrun": {}}\r\n'}, ["query-name"])
    run(t, "memdev not an array", {"query-memdev": '{"return": {"id": "m0"}, "id": %ID%}\r\n'},
        ["query-memdev", "not an array"])
    run(t, "memdev without size", {"query-memdev": '{"return": [{"id": "m0", "policy": "default"}], "id": %ID%}\r\n'},
        ["query-memdev", "m0", "size"])
    run(t, "error reply", {"query-memdev": '{"error": {"class": "GenericError", "desc": "boom"}, "id": %ID%}\r\n'},
        ["query-memdev", "GenericError", "boom"])
    run(t, "garbage instead of JSON", {"query-cpus-fast": 'this is not json\r\n'}, ["query-cpus-fast"])
    run(t, "mtree garbage", {"hmp:info mtree -f": hmp_reply("FlatView #0\r\n AS \"memory\", root: system\r\n  00zz-01 (prio 0, ram): m0\r\n")},
        ["info mtree -f", "line 3"])
    run(t, "unknown backend type", {"qom-list": '{"return": [{"name": "m0", "type": "child<memory-backend-epc>"}], "id": %ID%}\r\n'},
        ["qom-list", "m0"])
    t.done()


if __name__ == "__main__":
    main()
