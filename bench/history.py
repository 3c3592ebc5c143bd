"""Counting a history: events by kind, workflow tasks, and Temporal Cloud's billable actions.

Billable actions follow https://docs.temporal.io/cloud/actions as far as a history shows them:
a workflow start (including continue-as-new), every activity attempt, the local activities of one
workflow task together, every timer started, every search-attribute upsert command, every signal
sent by the workflow, every update accepted. A signal is billed to its sender: the signals these
workflows receive come from each other and are counted where they were sent (a client's signal
would add one). Queries — including the one a parcel's ``look_up_seller`` local activity sends
its seller's workflow — and rejected updates are billable too but leave no event: not counted here.
"""

from collections import Counter
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory


def short(event_type: int) -> str:
    return EventType.Name(EventType.ValueType(event_type)).removeprefix("EVENT_TYPE_")


def kinds(history: WorkflowHistory | list[HistoryEvent]) -> Counter[str]:
    events = history.events if isinstance(history, WorkflowHistory) else history
    return Counter(short(e.event_type) for e in events)


def billable_actions(history: WorkflowHistory | list[HistoryEvent]) -> Counter[str]:
    """Billable actions by the kind of event that records them."""
    events = history.events if isinstance(history, WorkflowHistory) else history
    actions: Counter[str] = Counter()
    la_tasks: set[int] = set()
    for e in events:
        kind = short(e.event_type)
        if kind == "WORKFLOW_EXECUTION_STARTED":
            actions[kind] += 1
        elif kind == "ACTIVITY_TASK_STARTED":
            actions[kind] += max(1, e.activity_task_started_event_attributes.attempt)
        elif kind == "MARKER_RECORDED":
            if e.marker_recorded_event_attributes.marker_name == "core_local_activity":
                la_tasks.add(e.marker_recorded_event_attributes.workflow_task_completed_event_id)
        elif kind in (
            "TIMER_STARTED",
            "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",
            "SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED",
            "WORKFLOW_EXECUTION_UPDATE_ACCEPTED",
            "START_CHILD_WORKFLOW_EXECUTION_INITIATED",
        ):
            actions[kind] += 1
    if la_tasks:
        actions["MARKER_RECORDED (local activities)"] = len(la_tasks)
    return actions


def workflow_tasks(history: WorkflowHistory | list[HistoryEvent]) -> int:
    return kinds(history)["WORKFLOW_TASK_COMPLETED"]


def describe(events: list[HistoryEvent]) -> list[dict[str, Any]]:
    """One line per event, with what it was about (activity type, timer, signal, update name)."""
    lines = []
    for e in events:
        kind = short(e.event_type)
        what = ""
        if kind == "ACTIVITY_TASK_SCHEDULED":
            what = e.activity_task_scheduled_event_attributes.activity_type.name
        elif kind == "TIMER_STARTED":
            what = str(e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta())
        elif kind == "WORKFLOW_EXECUTION_SIGNALED":
            what = e.workflow_execution_signaled_event_attributes.signal_name
        elif kind == "SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED":
            what = e.signal_external_workflow_execution_initiated_event_attributes.signal_name
        elif kind == "WORKFLOW_EXECUTION_UPDATE_ACCEPTED":
            what = e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        elif kind == "MARKER_RECORDED":
            what = e.marker_recorded_event_attributes.marker_name
        lines.append({"id": e.event_id, "kind": kind, "what": what})
    return lines
