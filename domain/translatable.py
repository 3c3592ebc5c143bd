"""The marker of strings the translation catalogue (``locale/``) holds.

``N_`` returns its argument unchanged: it only marks a string for extraction (``babel.cfg``), so
that modules workflows import need no language. Whoever shows a marked string to a seller passes
it through gettext in the seller's language (:mod:`i18n`).
"""


def N_(message: str) -> str:
    """Marks ``message`` for the translation catalogue; translated where it is shown."""
    return message
