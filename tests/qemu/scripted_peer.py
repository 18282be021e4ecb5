# SPDX-License-Identifier: LGPL-2.1-or-later
"""A scripted QMP peer that injects malformed or hostile replies (the only fake QEMU the tests use)."""
import json
import os
import socket
import tempfile
import threading
import time

GREETING = '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}\r\n'


class ScriptedPeer:
    """replies: command name -> raw reply text with "%ID%" standing for the request's id
    (or a callable(request) returning raw text, or None to close the connection); a reply
    ending in "%EOF%" is sent without that marker and the connection is closed after it.
    A callable may also return a Stream: its chunks are sent one after another, with its
    pause in between, for as long as the other end reads (a huge or a never-ending reply).
    greeting: raw text sent on connect (None: send nothing). path: where to listen (default:
    a fresh temporary directory). sent_per_session: bytes of replies each connection took
    before it ended, filled as sessions end (what the socket, not the client, says)."""

    def __init__(self, replies, greeting=GREETING, path=None):
        self.dir = None if path else tempfile.mkdtemp(prefix="vnuma-peer-")
        self.path = path or os.path.join(self.dir, "peer.sock")
        self.sent_per_session = []
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
                self.sent = 0
                self._session(conn)
                self.sent_per_session.append(self.sent)

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
                if isinstance(reply, Stream):
                    if not reply.send(conn, self, json.dumps(req.get("id"))):
                        return
                    continue
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
            if self.dir:
                os.rmdir(self.dir)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def hmp_reply(text):
    return '{"return": %s, "id": %%ID%%}\r\n' % json.dumps(text)


class Stream:
    """A reply sent in chunks: head (with "%ID%"), then count chunks of body (None: forever),
    pause seconds apart. Ends when the other end stops reading (closes the connection)."""

    def __init__(self, head, body, count=None, pause=0.0):
        self.head, self.body, self.count, self.pause = head, body, count, pause

    def send(self, conn, peer, req_id):
        """True if everything was sent, False once the other end went away."""
        try:
            data = self.head.replace("%ID%", req_id).encode()
            conn.sendall(data)
            peer.sent += len(data)
            body = self.body.encode()
            n = 0
            while self.count is None or n < self.count:
                conn.sendall(body)
                peer.sent += len(body)
                n += 1
                if self.pause:
                    time.sleep(self.pause)
            return True
        except OSError:
            return False
