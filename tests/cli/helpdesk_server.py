"""A small local HTTP server standing in for a helpdesk that misbehaves: it refuses, echoes secrets, redirects."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# What the server says back; tests fill these in.
REDIRECT_TO = "https://sso:SSredirect1@login.example.invalid/saml?token=TTredirect2&next=%2F"
ECHO = "access denied for http://vendor:PPvendor7@rt.example.invalid/?api_key=QQvendor8 [/] \x1b]0;x\x07"


class _Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path.startswith("/moved"):
            self.send_response(302)
            self.send_header("Location", REDIRECT_TO)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/slow-down"):
            body = b'{"message": "rate limited"}'
            self.send_response(429)
            self.send_header("Retry-After", "99999999999")
        else:
            body = json.dumps({"message": ECHO}).encode()
            self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def helpdesk_server() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a server that answers 401 (echoing secrets), 302 under /moved, 429 under
    /slow-down asking to wait 99,999,999,999 seconds (over 3,000 years)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
