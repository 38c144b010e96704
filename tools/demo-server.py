#!/usr/bin/env python3
"""demo-server.py - the loopback HTTP server of tools/demo, which counts its own
connections. Each request is answered after DELAY seconds; a connection counts
from its accept until the client closes it. Before counting a new connection,
every open one is checked for the client's close, which on loopback is queued
before the next client can even connect, so the count is exact.

Usage: demo-server.py PORTFILE MAXFILE [DELAY]
Listens on 127.0.0.1 on a free port, writes the port to PORTFILE, and keeps
the most connections seen at once in MAXFILE. Runs until killed."""
import os
import selectors
import socket
import sys
import time


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.request = b""
        self.due = None        # when to answer, once the request is in
        self.answered = False


def write_atomic(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    # a rename, so the demo never reads a half-written file
    os.replace(path + ".tmp", path)


def main():
    portfile, maxfile = sys.argv[1], sys.argv[2]
    delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.8
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    conns = {}
    most = 0
    write_atomic(maxfile, "0\n")
    write_atomic(portfile, "%d\n" % listener.getsockname()[1])

    def close(c):
        sel.unregister(c.sock)
        c.sock.close()
        del conns[c.sock]

    def read(c):
        """Reads what the client sent; False once it has closed."""
        try:
            data = c.sock.recv(4096)
        except BlockingIOError:
            return True
        except ConnectionError:
            return False
        if not data:
            return False
        if c.due is None:
            c.request += data
            if b"\r\n\r\n" in c.request:
                c.due = time.monotonic() + delay
        return True

    while True:
        now = time.monotonic()
        dues = [c.due for c in conns.values() if c.due and not c.answered]
        timeout = max(0.0, min(dues) - now) if dues else None
        events = sel.select(timeout)
        # Closes first: a connection the client has let go of must not be
        # counted together with the one that took its place.
        for c in list(conns.values()):
            if not read(c):
                close(c)
        if any(key.fileobj is listener for key, _ in events):
            while True:
                try:
                    sock, _ = listener.accept()
                except BlockingIOError:
                    break
                sock.setblocking(False)
                conns[sock] = Conn(sock)
                sel.register(sock, selectors.EVENT_READ)
                if len(conns) > most:
                    most = len(conns)
                    write_atomic(maxfile, "%d\n" % most)
        now = time.monotonic()
        for c in list(conns.values()):
            if c.due and not c.answered and c.due <= now:
                body = b"slow hello\n"
                c.sock.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain"
                               b"\r\nContent-Length: %d\r\n\r\n%s"
                               % (len(body), body))
                c.answered = True


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
