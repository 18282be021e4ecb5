# SPDX-License-Identifier: LGPL-2.1-or-later
"""A scripted QMP peer that injects malformed replies (the only fake QEMU the tests use)."""
import json
import os
import socket
import tempfile
import threading

GREETING = '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}\r\n'


class ScriptedPeer:
    """replies: command name -> raw reply text with "%ID%" standing for the request's id
    (or a callable(request) returning raw text, or None to close the connection); a reply
    ending in "%EOF%" is sent without that marker and the connection is closed after it.
    greeting: raw text sent on connect (None: send nothing)."""

    def __init__(self, replies, greeting=GREETING):
        self.dir = tempfile.mkdtemp(prefix="vnuma-peer-")
        self.path = os.path.join(self.dir, "peer.sock")
        self.replies = dict(replies)
        self.replies.setdefault("qmp_capabilities", '{"return": {}, "id": %ID%}\r\n')
        self.greeting = greeting
        self.seen = []
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(self.path)
        self.sock.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self._session(conn)

    def _session(self, conn):
        if self.greeting is not None:
            conn.sendall(self.greeting.encode())
        buf = b""
        dec = json.JSONDecoder()
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while True:
                text = buf.decode(errors="replace").lstrip()
                if not text:
                    buf = b""
                    break
                try:
                    req, end = dec.raw_decode(text)
                except ValueError:
                    break
                buf = text[end:].encode()
                name = req.get("execute")
                if name == "human-monitor-command":
                    name = "hmp:" + req["arguments"]["command-line"]
                self.seen.append(name)
                reply = self.replies.get(name, '{"error": {"class": "CommandNotFound", "desc": "no script"}, "id": %ID%}\r\n')
                if callable(reply):
                    reply = reply(req)
                if reply is None:
                    conn.shutdown(socket.SHUT_RDWR)
                    return
                close = reply.endswith("%EOF%")
                reply = reply[:-5] if close else reply
                conn.sendall(reply.replace("%ID%", json.dumps(req.get("id"))).encode())
                if close:
                    conn.shutdown(socket.SHUT_RDWR)
                    return

    def close(self):
        self.sock.close()
        try:
            os.unlink(self.path)
            os.rmdir(self.dir)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def hmp_reply(text):
    return '{"return": %s, "id": %%ID%%}\r\n' % json.dumps(text)
