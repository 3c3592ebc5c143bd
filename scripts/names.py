"""The README's table of names other systems rely on, read from the workflow definitions.

Workflow types, their ids, and every update, query and signal are what the SDK registers; the
search attributes are the domain's keys. Generated, so a renamed handler shows in the README's
diff (and the contract test, tests/test_contract_names.py, fails).
"""

from temporalio.workflow import _Definition

import domain.search_attributes as sa
from domain.workflow_ids import HOLD_WORKFLOW_PREFIX, SELLER_WORKFLOW_PREFIX
from workflows.onboarding import SellerOnboarding
from workflows.return_hold import ReturnHold

_IDS = {
    SellerOnboarding: f"`{SELLER_WORKFLOW_PREFIX}{{seller_id}}`",
    ReturnHold: f"`{HOLD_WORKFLOW_PREFIX}{{shipment_id}}`",
}
_SET_BY = {
    "SellerId": "both workflows",
    "OnboardingStage": "SellerOnboarding",
    "ClearedForReturns": "SellerOnboarding",
    "WaitingOn": "both workflows",
    "Stalled": "SellerOnboarding",
    "ReturnState": "ReturnHold",
    "DisposalDueAt": "ReturnHold",
}


def _names(handlers: dict[str | None, object]) -> str:
    return (
        ", ".join(f"`{name}`" for name in sorted(n for n in handlers if n and not n.startswith("__"))) or "—"
    )


def names_table() -> str:
    rows = ["| workflow type | workflow id | updates | queries | signals |", "|---|---|---|---|---|"]
    for cls, workflow_id in _IDS.items():
        defn = _Definition.must_from_class(cls)
        rows.append(
            f"| `{defn.name}` | {workflow_id} | {_names(dict(defn.updates))} | "
            f"{_names(dict(defn.queries))} | {_names(dict(defn.signals))} |"
        )
    rows += ["", "| search attribute | type | set by |", "|---|---|---|"]
    for key in sa.ALL:
        rows.append(
            f"| `{key.name}` | {key.indexed_value_type.name.title().replace('_', '')} | {_SET_BY[key.name]} |"
        )
    return "\n".join(rows)
