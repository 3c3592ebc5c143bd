"""Jinja2 environments with the i18n extension: one per language, template folder and kind.

``install_gettext_translations`` puts the language's gettext into the environment's globals, so an
environment serves one language; they are built once and cached, and nothing is swapped per
render (safe across threads). ``trimmed`` must match ``babel.cfg``, or the message ids looked up
would not be the ones extracted.
"""

import functools
from pathlib import Path

import jinja2

from i18n.catalogues import translations
from i18n.markdown import as_text
from i18n.words import CompanyWords, Words

EXTENSIONS = ["jinja2.ext.i18n"]


@functools.cache
def environment(
    templates_dir: Path, language: str, *, html: bool, company: CompanyWords, markdown: bool = False
) -> jinja2.Environment:
    """``html``: values escaped for HTML (the web pages); ``markdown``: escaped for Markdown (the
    source of a message's HTML alternative, :mod:`i18n.markdown`); neither: the message's text."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        extensions=EXTENSIONS,
        undefined=jinja2.StrictUndefined,
        autoescape=html,
        finalize=as_text if markdown else None,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        # The templates ship with the release: a stat of the template file on every render (a
        # system call per notice, on the worker's event loop) would buy nothing.
        auto_reload=False,
    )
    env.policies["ext.i18n.trimmed"] = True
    # newstyle: {{ _("%(n)s days", n=3) }} formats (and, in HTML, escapes the arguments).
    # The i18n extension adds this method to the environment, which its type does not declare.
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    words = Words(language, company)
    env.globals.update(words=words, lang=language)
    env.filters["longdate"] = words.date
    return env
