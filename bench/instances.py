"""Creating a sandboxed workflow instance: a seller's (and a parcel's) against a trivial workflow's.

Every new workflow, and every cache miss of one already running, makes the worker create an
instance: ``SandboxedWorkflowRunner.create_instance`` builds a fresh sandbox and imports the
workflow's module into it (every module that is not passed through is executed again, pydantic
classes defined there are built again), then constructs the SDK's workflow object in it. The
workflow's own ``__init__`` runs later, in the first activation, and is part of replay (below).

Measured by calling the runner exactly as the worker does (``temporalio.worker._workflow``:
``create_instance(WorkflowInstanceDetails(...))``), with the service's runner
(``worker.workflow_runner()``), the service's data converter and the details the SDK itself uses
when it validates a workflow at start-up (``SandboxedWorkflowRunner.prepare_workflow``). No server
and no activation: this is the sandbox's instantiation alone. Seller, parcel and trivial instances
are created in turn, round after round, so a change of load on the machine hits all three; the
median per instance is reported.

Whether the workflow modules have bytecode caches matters: the sandbox imports them afresh for
every instance, compiling the source each time when there is no ``.pyc`` (half of a seller's
instance creation here). ``PYTHONDONTWRITEBYTECODE=1`` — set on this machine and in
deploy/Dockerfile — leaves none, so the result records whether there was one.
"""

import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

import temporalio.workflow
from temporalio.api.common.v1 import Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import WorkflowInstanceDetails, WorkflowRunner

from bench.common import median
from bench.trivial import BenchTrivial
from worker import workflow_runner
from workflows.onboarding import SellerOnboarding
from workflows.return_hold import ReturnHold

KINDS: dict[str, type] = {"trivial": BenchTrivial, "seller": SellerOnboarding, "parcel": ReturnHold}


def details(cls: type) -> WorkflowInstanceDetails:
    """What the worker passes to the runner for a new instance (here with placeholder info)."""
    # The SDK's own placeholder info, the one prepare_workflow validates workflows with.
    from temporalio.worker.workflow_sandbox._runner import _fake_info

    converter = pydantic_data_converter
    return WorkflowInstanceDetails(
        payload_converter_factory=converter._new_payload_converter,
        failure_converter_class=converter.failure_converter_class,
        interceptor_classes=[],
        defn=temporalio.workflow._Definition.must_from_class(cls),
        info=_fake_info,
        randomness_seed=1,
        extern_functions={},
        disable_eager_activity_execution=False,
        worker_level_failure_exception_types=[],
        patch_activation_callback=None,
        last_completion_result=Payloads(),
        last_failure=Failure(),
    )


def _create(runner: WorkflowRunner, det: WorkflowInstanceDetails) -> float:
    t = time.perf_counter()
    runner.create_instance(det)
    return time.perf_counter() - t


async def instance_creation(rounds: int, warm_up: int = 5) -> dict[str, Any]:
    """``rounds`` instances of each kind, in turn; milliseconds per instance and the ratios.

    A coroutine because the SDK creates instances on the worker's event loop (the instance looks
    the running loop up), blocking it meanwhile, as here.
    """
    runner = workflow_runner()
    dets = {name: details(cls) for name, cls in KINDS.items()}
    for det in dets.values():
        runner.prepare_workflow(det.defn)  # as the worker does once at start-up
        for _ in range(warm_up):
            _create(runner, det)
    times: dict[str, list[float]] = {name: [] for name in KINDS}
    for _ in range(rounds):
        for name, det in dets.items():
            times[name].append(_create(runner, det))
    ms = {name: median(t) * 1000 for name, t in times.items()}
    return {
        "rounds": rounds,
        "median_ms": {name: round(v, 3) for name, v in ms.items()},
        "max_ms": {name: round(max(t) * 1000, 3) for name, t in times.items()},
        "seller_ratio": round(ms["seller"] / ms["trivial"], 3),
        "parcel_ratio": round(ms["parcel"] / ms["trivial"], 3),
        "bytecode_cached": _bytecode_cached(SellerOnboarding),
        "dont_write_bytecode": sys.flags.dont_write_bytecode,
    }


def _bytecode_cached(cls: type) -> bool:
    """Whether the workflow's module has an up-to-date ``.pyc`` the sandbox can load instead of compiling."""
    source = sys.modules[cls.__module__].__file__
    if source is None:
        return False
    cached = Path(importlib.util.cache_from_source(source))
    return cached.exists() and cached.stat().st_mtime >= Path(source).stat().st_mtime
