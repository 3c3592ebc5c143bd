"""Worker and API started before Temporal: they wait for it, and serve once it comes.

``python worker.py`` and the API start against an address where nothing listens yet; a dev server
starts there a few seconds later, and a seller signed up through the API is served by that worker.
"""

import asyncio
import contextlib
import os
import sys
from pathlib import Path

import httpx
import pytest

from starter.api import create_app
from testing.servers import dev_server, free_port
from testing.stack import make_settings
from tests.api.helpers import AUTH, LINK_SECRET, SECRET, TOKEN
from tests.conftest import new_id

pytestmark = pytest.mark.devserver
ROOT = Path(__file__).resolve().parent.parent


async def test_the_worker_and_the_api_wait_for_a_server_started_after_them(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    settings = make_settings(tmp_path / "data", temporal_address=address)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    env |= {
        "TEMPORAL_ADDRESS": address,
        "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "DATA_DIR": str(settings.data_dir),
        "PYTHONUNBUFFERED": "1",
        "CHECKLIST_LINK_SECRET": LINK_SECRET,  # every seller message carries a link
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "worker.py",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    app = create_app(settings.model_copy(update={"api_token": TOKEN, "broker_webhook_secret": SECRET}))
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://api.test", headers=AUTH
            ) as http:
                await asyncio.sleep(3)  # both try, and fail, to connect meanwhile
                assert worker.returncode is None, "the worker exited without Temporal"
                r = await http.post("/v1/sellers", json={"seller_id": "s-early", "email": "a@example.com"})
                assert r.status_code == 503 and "Retry-After" in r.headers
                async with dev_server(port=int(address.rsplit(":", 1)[1])):
                    seller = new_id("s")
                    async with asyncio.timeout(30):  # the API's retries reach the server
                        while (await http.get("/healthz")).status_code != 200:
                            await asyncio.sleep(0.2)
                    body = {"seller_id": seller, "email": "owner@example.com"}
                    r = await http.post("/v1/sellers", json=body)
                    assert r.status_code in (201, 202), r.text
                    async with asyncio.timeout(30):  # served: the worker ran the seller's first task
                        while True:
                            status = await http.get(f"/v1/sellers/{seller}")
                            if status.status_code == 200 and status.json()["waiting_since"] is not None:
                                break
                            await asyncio.sleep(0.2)
                    assert worker.returncode is None
    finally:
        if worker.returncode is None:
            worker.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(worker.wait(), 30)
    assert worker.stdout is not None
    log = (await worker.stdout.read()).decode()
    assert "Temporal not reachable; retrying" in log and "worker started" in log, log
