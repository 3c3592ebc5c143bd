"""``python -m bench.worker_process``: ``worker.py`` with the workflow cache size from the environment.

The scale benchmark runs the worker as its own process, as deployed, so that its memory is its
own. ``worker.py`` takes the SDK's default cache (``max_cached_workflows`` = 1,000); this entry
point builds the same worker (``worker.build_worker``, settings from the environment) with
``BENCH_MAX_CACHED_WORKFLOWS`` when set, to compare cache sizes.
"""

import asyncio
import os
import signal

from config.logging import configure_logging
from config.settings import Settings
from gateway.connection import connect
from worker import build_worker


async def main() -> None:
    settings = Settings()
    configure_logging(settings)
    client = await connect(settings)
    options: dict[str, object] = {}
    if os.environ.get("BENCH_MAX_CACHED_WORKFLOWS"):
        options["max_cached_workflows"] = int(os.environ["BENCH_MAX_CACHED_WORKFLOWS"])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with build_worker(client, settings, **options):
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
