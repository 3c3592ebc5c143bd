"""The translation catalogue: complete, in step with the sources, and what French readers expect.

``make messages`` extracts the strings and merges them into each ``.po``; these tests fail when a
string lacks its translation, or when the templates and the catalogue have drifted apart.
"""

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from activities.adapters.rendering import TemplateRenderer
from i18n import long_date, translations
from i18n.catalogues import LOCALE_DIR, ROOT
from i18n.templates import environment
from i18n.words import CompanyWords
from tests.test_docs import WORKFLOW_TEMPLATES

PO_FILES = sorted(LOCALE_DIR.glob("*/LC_MESSAGES/messages.po"))
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def _read(po: Path) -> Catalog:
    with po.open("rb") as f:
        return read_po(f)


def _first(msgid: object) -> str:
    return msgid if isinstance(msgid, str) else str(next(iter(cast(list[str], msgid))))


def _strings(string: object) -> list[str]:
    return [string] if isinstance(string, str) else list(cast(list[str], string or []))


def test_there_is_a_french_catalogue() -> None:
    assert [p.parts[-3] for p in PO_FILES] == ["fr_CA"]


@pytest.mark.parametrize("po", PO_FILES, ids=lambda p: p.parts[-3])
def test_every_message_has_a_translation(po: Path) -> None:
    catalog = _read(po)
    missing = []
    for message in catalog:
        if not message.id:  # the header
            continue
        strings = _strings(message.string)
        wrong_plurals = message.pluralizable and len(strings) != catalog.num_plurals
        if message.fuzzy or not all(s.strip() for s in strings) or wrong_plurals:
            missing.append(_first(message.id))
    assert not missing, f"{po}: untranslated or fuzzy (fill them in the .po): {missing}"


def _source_ids() -> set[str]:
    with (ROOT / "babel.cfg").open() as f:
        # Babel's reader of babel.cfg has no annotations.
        read_cfg = cast(Callable[[Any], tuple[Any, Any]], parse_mapping_cfg)
        method_map, options_map = read_cfg(f)
    found = extract_from_dir(str(ROOT), method_map, options_map, keywords=KEYWORDS)
    return {_first(msgid) for _file, _line, msgid, _comments, _context in found}


@pytest.mark.parametrize("po", PO_FILES, ids=lambda p: p.parts[-3])
def test_catalogue_matches_the_sources(po: Path) -> None:
    in_sources = _source_ids()
    in_po = {_first(m.id) for m in _read(po) if m.id}
    assert in_sources - in_po == set(), "strings missing from the .po: run `make messages`, then translate"
    assert in_po - in_sources == set(), "strings no longer in the sources: run `make messages`"


@pytest.mark.parametrize("po", PO_FILES, ids=lambda p: p.parts[-3])
def test_translations_keep_their_placeholders(po: Path) -> None:
    # A translation that drops or misspells %(day)s fails at render time: catch it here.
    problems = [(_first(m.id), [str(e) for e in errors]) for m, errors in _read(po).check() if errors]
    assert not problems


def test_french_typography() -> None:
    # The OQLF's spacing: a no-break space before ":", a narrow one before "?", ";" and "!".
    t = translations("fr")
    assert t.gettext("Hello,") == "Bonjour,"
    text = t.gettext("This step comes later: first complete the steps before it.")
    assert "\u00a0:" in text and " :" not in text
    assert "\u202f?" in t.gettext("What should we do with your U.S. returns?")


def test_french_dates_and_business_days() -> None:
    assert long_date(date(2026, 1, 13), "fr") == "mardi 13 janvier 2026"
    assert long_date(date(2026, 1, 1), "fr") == "jeudi 1er janvier 2026"
    assert long_date(date(2026, 1, 13), "en") == "Tuesday, January 13, 2026"
    env = environment(ROOT / "templates", "fr", html=False, company=CompanyWords())
    days = env.from_string('{{ ngettext("business day left", "business days left", n) }}')
    assert [days.render(n=n) for n in (0, 1, 2, 15)] == [
        "jour ouvrable restant",
        "jour ouvrable restant",
        "jours ouvrables restants",
        "jours ouvrables restants",
    ]


OPERATIONS_TEMPLATES = {
    "onboarding_stalled",
    "carm_login_overdue",
    "return_unknown_seller",
    "return_unknown_seller_disposed",
    "delivery_failed",
}
"""Messages to operations: English only."""
SELLER_TEMPLATES = [name for name in WORKFLOW_TEMPLATES if name not in OPERATIONS_TEMPLATES]


@pytest.mark.parametrize("template", [*SELLER_TEMPLATES, "email_changed", "checklist_link"])
def test_every_seller_message_renders_in_french_with_french_links(template: str) -> None:
    params: dict[str, Any] = {
        "seller": "s1",
        "business_name": "Boutique Lune",
        "shipment": "p1",
        "new_email": "new@example.com",
        **WORKFLOW_TEMPLATES.get(template, {}),
    }
    url = "https://returns.example/sellers/s1/checklist?token=t"
    message = TemplateRenderer().render(template, params, language="fr", checklist_url=url)
    english = TemplateRenderer().render(template, params, language="en", checklist_url=url)
    assert message.subject != english.subject, "the subject is not translated"
    assert "Bonjour Boutique Lune," in message.body
    assert message.language == "fr" and '<html lang="fr">' in message.html
    assert "-eng.html" not in message.body and "/en/" not in message.body
    if template != "email_changed":
        assert url in message.body
    assert "2026-01-13" not in message.body  # dates are words
