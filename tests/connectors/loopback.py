"""A misbehaving HTTP server on a loopback socket, for faults respx cannot produce: time and size on the wire."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator

Behaviour = Callable[[socket.socket], None]


class Loopback:
    """Serves every connection with ``behaviour`` (which writes raw bytes) after reading the request head."""

    def __init__(self, behaviour: Behaviour):
        self.behaviour = behaviour
        self.connections = 0
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                outer.connections += 1
                sock: socket.socket = self.request
                head = b""
                while b"\r\n\r\n" not in head:
                    data = sock.recv(65536)
                    if not data:
                        return
                    head += data
                # OSError: the client gave up and closed the connection, as the tests expect of it.
                with contextlib.suppress(OSError):
                    outer.behaviour(sock)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Loopback:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def drip(data: bytes, every: float = 1.0) -> Iterator[bytes]:
    for i in range(len(data)):
        yield data[i : i + 1]
        time.sleep(every)


def drip_body(sock: socket.socket) -> None:
    """A quick head, then a JSON body one byte a second."""
    body = b'{"items": [' + b"1, " * 300 + b"1]}"
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
    for byte in drip(body):
        sock.sendall(byte)


def drip_head(sock: socket.socket) -> None:
    """The status line and headers one byte a second."""
    for byte in drip(b"HTTP/1.1 200 OK\r\n" + b"X-Padding: " + b"x" * 1000 + b"\r\n\r\n{}"):
        sock.sendall(byte)


def endless(sock: socket.socket) -> None:
    """A chunked JSON answer that never ends, as fast as the client reads."""
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b'"' + b"x" * 65534 + b'",'
    sock.sendall(b"%x\r\n[\r\n" % 1)
    while True:
        sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))


def announces_80_mb(sock: socket.socket) -> None:
    size = 80 * 1024 * 1024
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % size)
    block = b" " * 65536
    for _ in range(size // len(block)):
        sock.sendall(block)


def error_page(sock: socket.socket) -> None:
    """A 500 with a megabyte of HTML (and terminal escapes) as its reason."""
    body = b"<html><body>\x1b[2J\x1b]0;owned\x07" + b"Internal error " * 70_000 + b"</body></html>"
    sock.sendall(
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    sock.sendall(body)
