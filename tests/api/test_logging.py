"""What is logged: an unexpected error without its local variables; no checklist tokens in the access log."""

import logging

import httpx
import pytest

from starter.api.access_log import RedactTokens
from tests.api.helpers import Api


async def test_an_unexpected_error_is_a_plain_500_and_its_locals_are_not_logged(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    async def boom() -> None:
        statement_balance = "98765.43"  # what a webhook's local variables could hold
        raise RuntimeError(f"failed after reading {len(statement_balance)} characters")

    api.app.add_api_route("/boom", boom)
    transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        r = await http.get("/boom")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == {
        "type": "/problems/internal-error",
        "title": "Internal error",
        "status": 500,
        "detail": "internal error: the request could not be completed (see the API log)",
        "code": "internal_error",
        "params": {},
    }
    logged = capsys.readouterr()
    assert "RuntimeError" in logged.out + logged.err
    assert "98765.43" not in logged.out + logged.err


def test_checklist_tokens_are_kept_out_of_the_access_log() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/sellers/s-1/checklist?token=abc123&x=1", "1.1", 200),
        None,
    )
    assert RedactTokens().filter(record)
    assert "abc123" not in record.getMessage()
    assert "/sellers/s-1/checklist?token=…&x=1" in record.getMessage()
