"""Receiving ends that count every delivery by its idempotency key: an SMTP server and an HTTP API.

Both run on loopback in threads of their own, so they keep answering while the process that owns
them is busy. A key received again is a *redelivery*: the at-least-once retry the key exists for
(a worker killed after the delivery but before Temporal recorded the activity's completion). The
HTTP sink answers it 409, as the broker's and warehouse's APIs do, and the SMTP sink drops it by
``Message-ID``, as a mail system does. A *duplicate* is a delivery carried out twice: the same content
accepted under two keys (two instructions for one parcel, two handoffs with one number, one
message to one address twice).
"""

import email
import email.policy
import hashlib
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from bench.common import free_port


@dataclass
class Ledger:
    """What one receiving end got: requests per key, and the first accepted body of each key."""

    name: str
    received: Counter[str] = field(default_factory=Counter)
    accepted: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def receive(self, key: str, body: Any) -> bool:
        """Count one delivery; True when it is the first of its key (to be carried out)."""
        with self.lock:
            self.received[key] += 1
            if key in self.accepted:
                return False
            self.accepted[key] = body
            return True

    def snapshot(self) -> dict[str, Any]:
        """The accepted deliveries by key, copied under the lock (the server threads write)."""
        with self.lock:
            return dict(self.accepted)

    @property
    def redelivered(self) -> int:
        """Keys received more than once (each repeat refused as already delivered); caller holds the lock."""
        return sum(1 for n in self.received.values() if n > 1)

    def duplicates(self, fingerprint: Any) -> list[str]:
        """Deliveries carried out twice: one fingerprint accepted under several keys.

        (One key is never accepted twice: a repeat is refused by construction, and counted.)
        """
        with self.lock:
            twice: list[str] = []
            seen: dict[Any, str] = {}
            for key, body in self.accepted.items():
                fp = fingerprint(key, body)
                if fp is None:
                    continue
                if fp in seen:
                    twice.append(f"{seen[fp]} and {key}")
                seen[fp] = key
            return twice

    def summary(self) -> dict[str, int]:
        with self.lock:
            return {
                "requests": sum(self.received.values()),
                "keys": len(self.received),
                "redelivered_keys": self.redelivered,
                "repeat_requests": sum(n - 1 for n in self.received.values()),
            }


class _SmtpHandler:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        key = str(message.get("X-Idempotency-Key") or message.get("Message-ID") or "")
        body = message.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        self.ledger.receive(
            key,
            {
                "to": ",".join(envelope.rcpt_tos),
                "subject": " ".join(str(message.get("Subject", "")).split()),
                "message_id": str(message.get("Message-ID", "")),
                "digest": hashlib.sha256(text.encode()).hexdigest(),
            },
        )
        return "250 OK"


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 that counts messages by idempotency key."""

    def __init__(self) -> None:
        self.ledger = Ledger("smtp")
        self.port = free_port()
        self._controller = Controller(_SmtpHandler(self.ledger), hostname="127.0.0.1", port=self.port)

    def start(self) -> "SmtpSink":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


class HttpSink:
    """The broker's and the warehouse's APIs on 127.0.0.1: 200 to a new key, 409 to a known one."""

    def __init__(self) -> None:
        self.ledgers = {
            "/handoffs": Ledger("broker handoffs"),
            "/affinity-requests": Ledger("broker affinity requests"),
            "/instructions": Ledger("warehouse instructions"),
        }
        self.port = free_port()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length)
                if len(payload) < length:
                    # The sender died mid-request (a SIGKILLed worker): what never fully arrived
                    # was not received, as at any HTTP server; its retry will be the first.
                    self.close_connection = True
                    return
                ledger = sink.ledgers.get(
                    self.path.split("?")[0].removeprefix("/broker").removeprefix("/warehouse")
                )
                key = self.headers.get("Idempotency-Key")
                if ledger is None or not key:
                    self._answer(404 if ledger is None else 400)
                    return
                try:
                    body = json.loads(payload or b"{}")
                except ValueError:
                    self._answer(400)
                    return
                self._answer(200 if ledger.receive(key, body) else 409)

            def _answer(self, status: int) -> None:
                data = json.dumps({"status": status}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-sink", daemon=True)

    @property
    def broker_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/broker"

    @property
    def warehouse_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/warehouse"

    def start(self) -> "HttpSink":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def instruction_fingerprint(key: str, body: Any) -> Any:
    """One instruction per parcel, ever."""
    return body.get("shipment_id")


def handoff_fingerprint(key: str, body: Any) -> Any:
    """One handoff per seller and handoff number."""
    return (body.get("seller_id"), body.get("handoff_number"))


def message_fingerprint(key: str, body: Any) -> Any:
    """One message of one content to one address (a legitimate repeat differs: a reminder's number)."""
    return (body.get("to"), body.get("subject"), body.get("digest"))
