"""The service's own metrics, emitted from workflow code through the SDK's replay-safe meter.

The worker's meter drops what replay re-emits, so a counter moves once per real occurrence even
when a workflow is replayed after a crash. Exported beside the SDK's metrics when the worker
runs with ``METRICS_BIND_ADDRESS`` (Prometheus); a no-op otherwise. Counts of sellers *by stage*
come from visibility (the ``OnboardingStage`` search attribute), which is exact at any moment.
"""

from temporalio import workflow


def count(name: str, description: str, **attributes: str) -> None:
    """Add one to the counter ``carm_<name>`` with the given attributes (no personal data)."""
    meter = workflow.metric_meter()
    meter.create_counter(f"carm_{name}", description).add(1, attributes or None)
