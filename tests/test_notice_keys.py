"""A notice's idempotency key: its number in the workflow, and a digest of what it says.

Seen in the chaos test: a parcel's task sent its first notice ("held") and was lost with the
server; run again after the seller's clearance had come in, its first notice was "released", and
under the number alone the sent-ledger took it for a repeat and never sent it.
"""

from typing import Any

from domain.deliveries import Notification, notice_key

NUMBERED = "return-hold-p1:run-1:notice:1"


def notice(template: str, **params: Any) -> Notification:
    return Notification(
        idempotency_key=NUMBERED, audience="seller", to="s@example.com", template=template, params=params
    )


def test_the_same_notice_again_has_the_same_key() -> None:
    first = notice_key(NUMBERED, notice("return_held", due_on="2026-01-13"))
    assert first == notice_key(NUMBERED, notice("return_held", due_on="2026-01-13"))
    assert first.startswith(f"{NUMBERED}:")  # the number stays readable, for people and checks


def test_another_message_under_the_same_number_has_its_own_key() -> None:
    held = notice_key(NUMBERED, notice("return_held", due_on="2026-01-13"))
    released = notice_key(NUMBERED, notice("return_released", reason="seller cleared"))
    later = notice_key(NUMBERED, notice("return_held", due_on="2026-01-20"))
    assert len({held, released, later}) == 3
