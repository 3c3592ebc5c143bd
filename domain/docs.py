"""The README's diagram and tables, generated from the machine and the contract's tables.

``python -m scripts.docs`` writes them into README.md between ``<!-- BEGIN x -->`` and
``<!-- END x -->`` markers; a test fails when the README and these functions disagree, so the
picture cannot drift from the code.
"""

from collections import defaultdict

from domain.events import EVENT_TYPES, SENDERS
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


def events_table() -> str:
    rows = ["| event | sent by |", "|---|---|"]
    for kind in EVENT_TYPES:
        rows.append(f"| `{kind}` | {' or '.join(sorted(SENDERS[kind]))} |")
    return "\n".join(rows)


SECTIONS = {
    "diagram": lambda: f"```mermaid\n{mermaid()}\n```",
    "prerequisites": prerequisites_table,
    "reopens": reopens_table,
    "events": events_table,
}
