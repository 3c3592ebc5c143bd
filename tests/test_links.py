"""Checklist links: bound to one seller, and their key rotates (the first signs, every one opens)."""

from datetime import UTC, datetime, timedelta

from config.settings import Settings
from starter.links import checklist_key, checklist_keys, mint_checklist_token, read_checklist_token

LATER = datetime.now(UTC) + timedelta(days=1)


def _link(seller: str, key: bytes) -> str:
    return mint_checklist_token(seller, epoch=1, nonce="n", expires_at=LATER, key=key)


def test_a_link_secret_list_rotates_the_key() -> None:
    before = Settings(checklist_link_secret="old-key")
    old_link = _link("s-1", checklist_key(before))
    during = Settings(checklist_link_secret="new-key, old-key")
    assert checklist_key(during) == b"new-key"
    assert read_checklist_token("s-1", old_link, checklist_keys(during)) is not None  # sent before: opens
    new_link = _link("s-1", checklist_key(during))
    assert new_link != old_link
    after = Settings(checklist_link_secret="new-key")
    assert read_checklist_token("s-1", new_link, checklist_keys(after)) is not None
    assert read_checklist_token("s-1", old_link, checklist_keys(after)) is None
    assert read_checklist_token("s-2", new_link, checklist_keys(during)) is None


def test_without_a_link_secret_the_key_derives_from_api_token_and_never_is_it() -> None:
    keys = checklist_keys(Settings(api_token="t0ken"))
    assert len(keys) == 1 and b"t0ken" not in keys[0]
