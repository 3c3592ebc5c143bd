"""The ``api`` fixture: the app on the session's dev server, reached through ``httpx.ASGITransport``.

Requests go into the app in-process, which talks to the dev server through ``dev_stack.client``.
"""

from collections.abc import AsyncIterator

import httpx
import pytest

from starter.api import create_app
from tests.api.helpers import AUTH, Api, api_settings
from tests.conftest import Stack


@pytest.fixture
async def api(dev_stack: Stack) -> AsyncIterator[Api]:
    app = create_app(api_settings(dev_stack), client=dev_stack.client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test", headers=AUTH) as http:
        yield Api(http, dev_stack, app)
