"""Messages are written in Markdown; what a template puts into them is text.

A message's HTML alternative is its body read as Markdown, so a value the body shows — a business
name, a broker's reason, a remote server's error — could otherwise become a link whose words are
not its address, an image fetched from anywhere, emphasis or a code span. The environment that
writes the Markdown therefore escapes, in every value a template outputs, the characters that open
those (CommonMark lets a backslash precede any ASCII punctuation) and folds its line breaks, so
it cannot start a block of its own. What the service itself writes as :class:`Markdown` (the
addresses on a line of their own) is left as it is, its addresses made CommonMark autolinks: the
HTML's only links are those, each showing its own address, and no "linkify" pass has to guess at
addresses in the rest of the text.

Only those characters, not every punctuation mark: the sentences of the catalogue go through the
same ``finalize``, and each escape is a token more for markdown-it to parse on every message.
"""

import re

_OPENERS = re.compile(r"([\\`*_\[\]<>!&#~|])")
_ADDRESS = re.compile(r"https?://[^\s<>]+")
_LINE_BREAKS = re.compile(r"\s*[\r\n]\s*")


class Markdown(str):
    """Text the service wrote to be read as Markdown (an address on its own line): kept as it is."""

    __slots__ = ()


def as_text(value: object) -> object:
    """The Markdown environment's ``finalize``: a value reads as the characters it holds."""
    if isinstance(value, Markdown):
        return _ADDRESS.sub(r"<\g<0>>", value)
    if not isinstance(value, str):
        return value
    return _OPENERS.sub(r"\\\1", _LINE_BREAKS.sub(" ", value))
