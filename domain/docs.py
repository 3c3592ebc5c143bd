"""The README's diagram and tables, generated from the machine and the contract's tables.

``python -m scripts.docs`` writes them into README.md between ``<!-- BEGIN x -->`` and
``<!-- END x -->`` markers; a test fails when the README and these functions disagree, so the
picture cannot drift from the code.
"""

from collections import defaultdict

from domain.events import EVENT_TYPES, SENDERS
from domain.onboarding import OnboardingRules
from domain.steps import COMPLETED_BY, OWNER, POA_DENIAL_REOPENS, PREREQUISITES, REOPENS, Step, ordered


def mermaid() -> str:
    """The lifecycle as a mermaid state diagram: moves between states, and what stays inside."""
    lines = ["stateDiagram-v2", "    direction LR"]
    moves: dict[tuple[str, str], list[str]] = defaultdict(list)
    stays: dict[str, list[str]] = defaultdict(list)
    for state in OnboardingRules.states:
        lines.append(f'    state "{state.name}" as {state.id}')
        for t in state.transitions:
            for ev in t.events:
                conds = [spec.func for spec in t.cond]
                label = ev.id + (f" [{', '.join(str(c) for c in conds)}]" if conds else "")
                if t.target is state:
                    if ev.id not in stays[state.id]:
                        stays[state.id].append(ev.id)
                elif label not in moves[(state.id, t.target.id)]:
                    moves[(state.id, t.target.id)].append(label)
    lines.append("    [*] --> onboarding : sign-up")
    lines.append("    [*] --> legacy : sign-up with legacy_poa")
    lines.append("    [*] --> cleared : import with every step complete")
    for (source, target), labels in moves.items():
        steps = [x for x in labels if x.split(" ")[0] in COMPLETED_BY]
        others = [x for x in labels if x not in steps]
        if steps:
            guards = " ".join(sorted({x.partition(" ")[2] for x in steps}))
            lines.append(f"    {source} --> {target} : the last required step completes {guards}")
        for label in others:
            lines.append(f"    {source} --> {target} : {label}")
    for state_id, events in stays.items():
        inside = [e for e in events if e not in COMPLETED_BY]
        note = "a step completes" + (f"; {', '.join(inside)}" if inside else "")
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
