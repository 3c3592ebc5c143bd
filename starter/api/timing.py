"""When a request arrived, and how long the API took over it (``Server-Timing: app;dur=<ms>``).

The outermost middleware notes the arrival (:data:`ARRIVED`): a request's time with Temporal counts
from it (:class:`starter.api.deps.Call`), so a request that first waited for a busy API's CPU does
not also wait its full time on Temporal. The header lets a caller tell the API's time from its
own and the network's (the burst benchmark reports both).
"""

import asyncio

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ARRIVED = "carm.arrived"
"""The scope key of when the request arrived, on the event loop's clock."""


class Timing:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        arrived = scope[ARRIVED] = loop.time()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                milliseconds = (loop.time() - arrived) * 1000
                MutableHeaders(scope=message).append("Server-Timing", f"app;dur={milliseconds:.1f}")
            await send(message)

        await self.app(scope, receive, timed)
