"""The names other systems rely on (docs: the README's contract section) stay what they are."""

from temporalio.workflow import _Definition

from workflows.onboarding import SellerOnboarding
from workflows.return_hold import ReturnHold


def test_workflow_types_updates_queries_and_signals_keep_their_names() -> None:
    onboarding = _Definition.from_class(SellerOnboarding)
    hold = _Definition.from_class(ReturnHold)
    assert onboarding is not None and hold is not None
    assert (onboarding.name, hold.name) == ("SellerOnboarding", "ReturnHold")
    assert {"apply_event"} <= set(onboarding.updates)
    assert {"status", "disposition"} <= set(onboarding.queries)
    assert {"hold_opened", "hold_closed"} <= set(onboarding.signals)
    assert {"decide", "extend_hold"} <= set(hold.updates)
    assert {"status"} <= set(hold.queries)
    assert {"seller_disposition"} <= set(hold.signals)
