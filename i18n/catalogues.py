"""The translation catalogues, compiled from the committed ``.po`` files when first needed.

Only the ``.po`` files are committed: a compiled ``.mo`` beside them could silently lag its
source. Compiling in memory takes milliseconds and skips fuzzy entries, as ``pybabel compile``
does. A missing catalogue is an error, never a silent fall-back to English.
"""

import functools
import gettext
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
LOCALE_DIR = ROOT / "locale"
DOMAIN = "messages"
LANGUAGES = ("en", "fr")
LOCALES = {"en": "en_CA", "fr": "fr_CA"}
"""Babel locales: Canadian English and Canadian French (dates, numbers)."""


def po_path(language: str) -> Path:
    return LOCALE_DIR / LOCALES[language] / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalogue of ``language``; English is the message ids themselves."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; expected one of {', '.join(LANGUAGES)}")
    if language == "en":
        return gettext.NullTranslations()
    with po_path(language).open("rb") as source:
        catalog = read_po(source, locale=LOCALES[language], domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)
