"""The README's diagram and tables, generated from the machine and the contract's tables.

``python -m scripts.docs`` writes them into README.md between ``<!-- BEGIN x -->`` and
``<!-- END x -->`` markers; a test fails when the README and these functions disagree, so the
picture cannot drift from the code. :func:`event_fields` is also what ``carm event --help``
lists, so the README and the command line describe an event's fields in the same words.
"""

import ast
import inspect
import textwrap
import types
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from domain.events import EVENT_MODELS, EVENT_TYPES, SENDERS
from domain.onboarding import OnboardingRules
from domain.steps import COMPLETED_BY, OWNER, POA_DENIAL_REOPENS, PREREQUISITES, REOPENS, Step, ordered


def _transitions() -> tuple[dict[tuple[str, str], list[str]], dict[str, list[str]]]:
    """The machine's transitions: labels of moves between states, and events that stay inside."""
    moves: dict[tuple[str, str], list[str]] = defaultdict(list)
    stays: dict[str, list[str]] = defaultdict(list)
    for state in OnboardingRules.states:
        for t in state.transitions:
            conds = [str(spec.func) for spec in t.cond]
            for ev in t.events:
                label = ev.id + (f" [{', '.join(conds)}]" if conds else "")
                found = stays[state.id] if t.target is state else moves[(state.id, t.target.id)]
                item = ev.id if t.target is state else label
                if item not in found:
                    found.append(item)
    return moves, stays


def mermaid() -> str:
    """The lifecycle as a mermaid state diagram: moves between states, and what stays inside."""
    lines = ["stateDiagram-v2", "    direction LR"]
    lines += [f'    state "{state.name}" as {state.id}' for state in OnboardingRules.states]
    lines.append("    [*] --> onboarding : sign-up")
    lines.append("    [*] --> legacy : sign-up with legacy_poa")
    lines.append("    [*] --> cleared : import with every step complete")
    moves, stays = _transitions()
    for (source, target), labels in moves.items():
        steps = [x for x in labels if x.split(" ")[0] in COMPLETED_BY]
        if steps:
            guards = " ".join(sorted({x.partition(" ")[2] for x in steps}))
            lines.append(f"    {source} --> {target} : the last required step completes {guards}")
        lines += [f"    {source} --> {target} : {label}" for label in labels if label not in steps]
    for state_id, events in stays.items():
        inside = [e for e in events if e not in COMPLETED_BY]
        parts = (["a step completes"] if len(inside) < len(events) else []) + [", ".join(inside)]
        note = "; ".join(p for p in parts if p)
        lines.append(f"    note right of {state_id} : {note}")
    return "\n".join(lines)


def prerequisites_table() -> str:
    rows = [
        "| step | who acts | event that completes it | may complete once these are complete |",
        "|---|---|---|---|",
    ]
    by_step = {step: kind for kind, step in COMPLETED_BY.items()}
    for step in Step:
        owner = (
            "seller accepts (after the broker's request)" if step is Step.doa_acceptance else str(OWNER[step])
        )
        needs = ", ".join(f"`{s}`" for s in ordered(PREREQUISITES[step])) or "—"
        rows.append(f"| `{step}` | {owner} | `{by_step[step]}` | {needs} |")
    return "\n".join(rows)


def reopens_table() -> str:
    rows = ["| event | makes pending again |", "|---|---|"]
    for kind, steps in REOPENS.items():
        extra = ""
        if kind == "poa_denied":
            extra = "; plus " + ", ".join(
                f"`{next(iter(s))}` for reason `{reason}`" for reason, s in POA_DENIAL_REOPENS.items() if s
            )
        rows.append(f"| `{kind}` | {', '.join(f'`{s}`' for s in ordered(steps))}{extra} |")
    return "\n".join(rows)


# --- event fields -------------------------------------------------------------------------------

COMMON_FIELDS = ("type", "event_id", "actor", "party")
"""Fields every event has: its type, the optional idempotency key (``carm event --event-id``), and
who sent it (``--actor``; ``party`` is set by the front ends)."""


@dataclass(frozen=True)
class EventField:
    """One field of an event, as its model declares it."""

    name: str
    required: bool
    description: str
    """The field's ``description``, else its docstring (``""`` if it has neither)."""
    values: tuple[str, ...] = ()
    """The values it may take, when the model names them (a ``Literal``)."""
    members: tuple["EventField", ...] = ()
    """The fields of an object value (a nested model, such as a U.S. address)."""


def event_fields(kind: str) -> list[EventField]:
    """The fields of the event ``kind`` beyond :data:`COMMON_FIELDS`, in the model's order."""
    return _fields_of(EVENT_MODELS[kind], skip=COMMON_FIELDS)


def _fields_of(model: type[BaseModel], skip: tuple[str, ...] = ()) -> list[EventField]:
    docs = field_docstrings(model)
    fields = []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        kind = _without_none(info.annotation)
        nested = isinstance(kind, type) and issubclass(kind, BaseModel)
        fields.append(
            EventField(
                name=name,
                required=info.is_required(),
                description=info.description or docs.get(name, ""),
                values=tuple(str(v) for v in get_args(kind)) if get_origin(kind) is Literal else (),
                members=tuple(_fields_of(kind)) if nested else (),
            )
        )
    return fields


def _without_none(annotation: Any) -> Any:
    """``X`` for ``X | None``; the annotation itself otherwise."""
    if get_origin(annotation) in (Union, types.UnionType):
        kept = [a for a in get_args(annotation) if a is not type(None)]
        if len(kept) == 1:
            return kept[0]
    return annotation


def field_docstrings(model: type[BaseModel]) -> dict[str, str]:
    """The docstrings under a model's field declarations, its bases' included.

    Read from the source rather than turned into ``description`` with pydantic's
    ``use_attribute_docstrings``: that would change the models' JSON schemas (the API's OpenAPI
    document) and the models the workflows keep, for the sake of documentation.
    """
    docs: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls is BaseModel:
            continue
        try:
            source = textwrap.dedent(inspect.getsource(cls))
        except (OSError, TypeError):  # made at run time (the bare events): no source, no docstrings
            continue
        body = ast.parse(source).body[0]
        if not isinstance(body, ast.ClassDef):
            continue
        for declared, following in zip(body.body, body.body[1:], strict=False):
            if (
                isinstance(declared, ast.AnnAssign)
                and isinstance(declared.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                docs[declared.target.id] = " ".join(following.value.value.split())
    return docs


def _field_cell(field: EventField) -> str:
    text = f"`{field.name}`" + ("" if field.required else "?")
    if field.values:
        text += " (" + " or ".join(f"`{v}`" for v in field.values) + ")"
    if field.members:
        text += " {" + ", ".join(_field_cell(m) for m in field.members) + "}"
    return text


def events_table() -> str:
    rows = ["| event | sent by | fields (`?`: optional) |", "|---|---|---|"]
    for kind in EVENT_TYPES:
        fields = ", ".join(_field_cell(f) for f in event_fields(kind)) or "—"
        rows.append(f"| `{kind}` | {' or '.join(sorted(SENDERS[kind]))} | {fields} |")
    return "\n".join(rows)


SECTIONS = {
    "diagram": lambda: f"```mermaid\n{mermaid()}\n```",
    "prerequisites": prerequisites_table,
    "reopens": reopens_table,
    "events": events_table,
}
