"""The chaos run's HTTP receiving end counts only requests that arrived whole."""

import socket
import time

import httpx

from bench.sinks import HttpSink


def test_a_request_cut_off_before_its_body_is_not_received_and_its_retry_is_the_first() -> None:
    sink = HttpSink().start()
    try:
        # A worker SIGKILLed after sending the headers, before the body.
        with socket.create_connection(("127.0.0.1", sink.port)) as cut:
            cut.sendall(
                b"POST /warehouse/instructions HTTP/1.1\r\nHost: sink\r\n"
                b"Content-Type: application/json\r\nIdempotency-Key: warehouse:p-1:r\r\n"
                b"Content-Length: 64\r\n\r\n"
            )
        time.sleep(0.3)
        assert sink.ledgers["/instructions"].snapshot() == {}

        body = {"shipment_id": "p-1", "action": "forward"}
        retry = httpx.post(
            f"{sink.warehouse_url}/instructions", json=body, headers={"Idempotency-Key": "warehouse:p-1:r"}
        )
        assert retry.status_code == 200
        assert sink.ledgers["/instructions"].snapshot() == {"warehouse:p-1:r": body}
    finally:
        sink.stop()
