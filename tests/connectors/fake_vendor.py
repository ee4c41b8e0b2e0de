"""What every fake helpdesk shares: injected faults, a SIGKILL at a chosen request, respx and a loopback socket.

A fake vendor (:class:`FakeVendor`) answers requests from its model of an account (``route``), after checking
its credentials (``authorized``). It serves through respx (the fake is a side effect:
``respx.route(...).mock(side_effect=fake)``) or on a loopback socket (:meth:`FakeVendor.serve`) for other
processes, where it can also SIGKILL its client at a chosen request (after doing a write, the worst moment) to
test that nothing is lost or doubled.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import httpx


@dataclass
class Fault:
    """Answer the next ``times`` requests matching ``method`` and ``path`` (a regex) with ``status`` and
    ``headers`` instead (``status`` 0: a read timeout). With ``after``, the request is carried out first and
    only its answer is lost (the write happened; the client cannot know)."""

    method: str
    path: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    body: Any = None
    after: bool = False


@dataclass
class Kill:
    """SIGKILL process ``pid`` at the ``nth`` request matching ``method``, ``path`` and (when given) holding
    ``needle`` in its JSON body; a write is carried out first, and its answer never arrives."""

    pid: int
    method: str
    path: str
    nth: int = 1
    needle: str | None = None
    seen: int = 0


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeVendor:
    """The serving half of a fake helpdesk; subclasses model the account in ``authorized`` and ``route``."""

    name = "the fake helpdesk"
    #: The body of an injected fault when the fault names none.
    fault_body: ClassVar[Any] = {"error": "Fault", "description": "injected"}

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.faults: list[Fault] = []
        self.kill: Kill | None = None
        self.requests: list[tuple[str, str]] = []
        # The account's quota headers, sent on every answer.
        self.quota: dict[str, str] = {}

    def authorized(self, headers: dict[str, str]) -> Reply | None:
        """None when the (lower-cased) headers carry the account's credentials, else the refusal."""
        raise NotImplementedError

    def route(self, method: str, path: str, params: dict[str, str], headers: dict[str, str], body: Any) -> Reply:
        raise NotImplementedError

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """respx side effect."""
        body = json.loads(request.content) if request.content else None
        reply = self.handle(request.method, request.url.path, request.url.query.decode(), dict(request.headers), body)
        if reply.status == 0:
            raise httpx.ReadTimeout(f"{self.name} did not answer", request=request)
        if reply.body is None:
            return httpx.Response(reply.status, headers=reply.headers)
        return httpx.Response(reply.status, json=reply.body, headers=reply.headers)

    def handle(self, method: str, path: str, query: str, headers: dict[str, str], body: Any) -> Reply:
        with self.lock:
            self.requests.append((method, path))
            lower = {k.lower(): v for k, v in headers.items()}
            lost: Fault | None = None
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and re.search(fault.path, path):
                    fault.times -= 1
                    if fault.after:
                        lost = fault
                        break
                    return Reply(fault.status, fault.body or self.fault_body, fault.headers)
            refused = self.authorized(lower)
            if refused is not None:
                return refused
            params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
            reply = self.route(method, path, params, lower, body)
            reply.headers.update(self.quota)
            if lost is not None:
                reply = Reply(lost.status, lost.body or self.fault_body, lost.headers)
            kill = self.kill
            wanted = kill is not None and (kill.needle is None or kill.needle in json.dumps(body))
            if kill is not None and wanted and kill.method == method and re.search(kill.path, path):
                kill.seen += 1
                if kill.seen == kill.nth:
                    self.kill = None
                    os.kill(kill.pid, signal.SIGKILL)  # the write (if any) is done; its answer never arrives
            return reply

    @contextlib.contextmanager
    def serve(self) -> Iterator[str]:
        """``http://127.0.0.1:PORT``: the fake on a loopback socket, for other processes."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                reply = fake.handle(
                    self.command, parts.path, parts.query, dict(self.headers.items()), json.loads(raw) if raw else None
                )
                data = b"" if reply.body is None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = _answer

            def log_message(self, format: str, *args: object) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
