"""Property-based fuzzing of the API from its committed OpenAPI document (schemathesis).

The app runs in uvicorn on a loopback port, backed by the real dev server and worker; the cases
are generated from ``docs/openapi.json`` and sent from a thread (so the event loop keeps serving
the app and the worker). Every operation gets a few positive cases (valid by the schema), a few
with the ids of a real seller and a real held parcel, and a few negative ones (invalid by the
schema). Internal endpoints get the bearer token and broker webhooks a valid Standard Webhooks
signature of the exact bytes sent, so the cases reach the workflows instead of stopping at 401.

Asserted for every response: no 5xx, a status code the document lists, and a body that matches
the documented schema.
"""

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from temporalio.service import RPCError

from starter.api import create_app
from tests.api.helpers import AUTH, api_settings, serving, webhook_headers
from tests.conftest import Stack, new_id

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_PER_RUN = 6
"""Per operation and per kind of run (positive, positive with real ids, negative): fast, bounded."""
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class Findings:
    calls: int = 0
    statuses: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _send(case: Any, base_url: str) -> Any:
    if case.operation.path == "/v1/broker/events" and not isinstance(case.body, NotSet):
        # Sign the exact bytes sent (negative cases may be raw bytes that are not JSON at all).
        raw = case.body if isinstance(case.body, bytes) else json.dumps(case.body).encode()
        try:
            headers = webhook_headers(raw)
        except UnicodeDecodeError:  # Standard Webhooks sign text: such a body goes unsigned (401)
            headers = {"Content-Type": "application/json"}
        return case.call(base_url=base_url, headers=headers, data=raw, timeout=60)
    return case.call(base_url=base_url, headers=AUTH, timeout=60)


def fuzz(base_url: str, ids: dict[str, str], findings: Findings) -> None:
    document = json.loads((ROOT / "docs" / "openapi.json").read_text())
    schema = schemathesis.openapi.from_dict(document)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert len(operations) == 20  # the lists, operations' five, the checklist page and its three forms

    for operation in operations:
        names = re.findall(r"{(\w+)}", operation.path)
        runs: list[tuple[str, Any]] = [
            ("positive", operation.as_strategy(GenerationMode.POSITIVE)),
            ("negative", operation.as_strategy(GenerationMode.NEGATIVE)),
        ]
        if names:
            fixed = {
                name: ids[f"{name} {operation.label}"] if f"{name} {operation.label}" in ids else ids[name]
                for name in names
            }
            runs.append(("known ids", operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed)))
        for kind, strategy in runs:
            try:
                _check_cases(kind, strategy, base_url, findings)()
            except hypothesis.errors.Unsatisfiable:
                # Nothing to make invalid (GET /healthz has no parameters, no body).
                assert kind == "negative", operation.label


def _check_cases(kind: str, strategy: Any, base_url: str, findings: Findings) -> Any:
    @hypothesis.settings(
        max_examples=EXAMPLES_PER_RUN,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def run(case: Any) -> None:
        response = _send(case, base_url)
        findings.calls += 1
        findings.statuses.setdefault((case.operation.label, kind), set()).add(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as err:  # schemathesis raises a FailureGroup naming every failed check
            findings.problems.append(
                f"{case.operation.label} ({kind}): {response.status_code} {response.text[:300]}\n"
                f"  {str(err).strip()[:600]}\n  {case.as_curl_command()}"
            )

    return run


async def test_fuzzing_the_api_from_its_openapi_document_finds_no_server_errors(dev_stack: Stack) -> None:
    settings = api_settings(dev_stack)
    app = create_app(settings, client=dev_stack.client)
    seller = new_id("fuzz-s")
    await dev_stack.sign_up(seller)
    parcels = [(await dev_stack.arrive(seller)).id.removeprefix("return-hold-") for _ in range(2)]
    # The decisions close their parcel: the other operations get one of their own.
    ids = {
        "seller_id": seller,
        "shipment_id": parcels[0],
        "shipment_id POST /v1/returns/{shipment_id}/decision": parcels[1],
        "key": "handoff:no-such-delivery:1",
        "verdict": "retry",
    }
    findings = Findings()
    try:
        async with serving(app) as base_url:
            await asyncio.to_thread(fuzz, base_url, ids, findings)
    finally:
        # The cases signed sellers up and recorded parcels on this test's task queue: stop them.
        query = f"TaskQueue = '{settings.temporal_task_queue}' AND ExecutionStatus = 'Running'"
        async for execution in dev_stack.client.list_workflows(query):
            with contextlib.suppress(RPCError):
                await dev_stack.client.get_workflow_handle(execution.id).terminate(reason="fuzzing done")

    assert not findings.problems, "\n\n".join(findings.problems)
    assert findings.calls >= 10 * EXAMPLES_PER_RUN
    # The positive cases got past authentication and reached the workflows (negative ones may
    # also leave the credentials out: schemathesis negates security parameters too).
    reached = findings.statuses
    assert {200, 201} & reached["POST /v1/sellers", "positive"], reached
    assert 200 in reached["GET /v1/sellers/{seller_id}", "known ids"], reached
    assert 200 in reached["GET /v1/returns/{shipment_id}", "known ids"], reached
    for (label, kind), statuses in reached.items():
        if kind != "negative" and not label.endswith("/checklist"):
            assert 401 not in statuses, (label, kind, statuses)
