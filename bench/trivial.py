"""The baselines: the least a workflow can do with the same shape of traffic.

``BenchTrivial`` — one no-op activity at start, then a no-op update per event, open until told to
stop: what one seller's onboarding would cost if the workflow did nothing but accept the events.
``BenchTimer`` — one durable timer to a deadline, then one no-op activity (the one warehouse
instruction any disposal needs): what a held parcel would cost if it did nothing but wait.
"""

from datetime import datetime, timedelta
from typing import Any

from temporalio import activity, workflow


@activity.defn(name="bench_noop")
async def noop() -> None:
    return None


@workflow.defn(name="BenchTrivial")
class BenchTrivial:
    def __init__(self) -> None:
        self._updates = 0
        self._stop = False

    @workflow.run
    async def run(self) -> int:
        await workflow.execute_activity(noop, start_to_close_timeout=timedelta(seconds=30))
        await workflow.wait_condition(lambda: self._stop)
        return self._updates

    @workflow.update(name="touch")
    def touch(self, event: dict[str, Any]) -> dict[str, Any]:
        self._updates += 1
        return {"updates": self._updates, "type": event.get("type")}

    @workflow.signal(name="stop")
    def stop(self) -> None:
        self._stop = True


@workflow.defn(name="BenchTimer")
class BenchTimer:
    @workflow.run
    async def run(self, deadline: datetime) -> str:
        await workflow.sleep(max(deadline - workflow.now(), timedelta(seconds=1)))
        await workflow.execute_activity(noop, start_to_close_timeout=timedelta(seconds=30))
        return workflow.now().isoformat()


WORKFLOWS = [BenchTrivial, BenchTimer]
ACTIVITIES = [noop]
