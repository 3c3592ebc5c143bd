"""A receiving end on loopback for HTTP deliveries: records what it got, answers as told.

201 to a new ``Idempotency-Key``, 409 to one it has seen (as the broker's and the warehouse's APIs
do), or, when ``answer`` is set, that status to everything (503: down; 422: refused for good).
"""

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeApi:
    """What the local API server saw, and how it should answer the next requests."""

    url: str
    requests: list[Recorded] = field(default_factory=list)
    seen_keys: set[str] = field(default_factory=set)
    answer: int | None = None
    """Answer every request with this status instead of 201/409."""
    delay: float = 0.0
    on_request: Callable[[Recorded], None] | None = None
    """Called with each request before it is answered (on the server's thread)."""


class Handler(BaseHTTPRequestHandler):
    api: FakeApi

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        recorded = Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        self.api.requests.append(recorded)
        if self.api.on_request is not None:
            self.api.on_request(recorded)
        time.sleep(self.api.delay)
        key = self.headers.get("Idempotency-Key", "")
        status = self.api.answer or (409 if key in self.api.seen_keys else 201)
        if status == 201:
            self.api.seen_keys.add(key)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def loopback_api() -> Iterator[FakeApi]:
    """The broker's or the warehouse's API on 127.0.0.1, for as long as the block runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake = FakeApi(url=f"http://127.0.0.1:{server.server_address[1]}/v1/")
    server.RequestHandlerClass = type("BoundHandler", (Handler,), {"api": fake})
    # A short poll interval keeps shutdown (and so each test) quick.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
