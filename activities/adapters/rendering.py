"""Render ``templates/<name>.txt.j2`` into a subject, a text body and an HTML body.

A template's first line is ``Subject: ...``, then a blank line, then the body. Workflows only name
the template and its parameters, so the wording can change without touching workflow code. A
message to a seller is rendered in the seller's language (the templates' ``{% trans %}`` blocks
and :mod:`i18n`); to the broker and operations, in English.

One source, two forms: the text body is written so that it reads as plain text *and* as Markdown,
and the HTML alternative is the same template rendered once more with every value escaped for
Markdown (:mod:`i18n.markdown`), then read as Markdown (markdown-it, raw HTML refused) and wrapped
for a phone's screen. So a business name such as ``<b>`` or ``[Pay here](https://…)`` stays text,
and the only links are the addresses the service writes, each showing itself.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import jinja2
from markdown_it import MarkdownIt

from i18n import CompanyWords, environment
from i18n.markdown import Markdown

DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"

# Template names come from workflow state; refusing anything but a plain name keeps them inside the
# templates directory whatever the loader would do with "../" or absolute paths.
_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_SUBJECT = "Subject:"

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "typographer": False})

_HTML_PAGE = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{subject}</title>
</head>
<body style="margin:0;padding:0;background:#f5f7f9;">
<div style="max-width:36rem;margin:0 auto;padding:16px;background:#ffffff;color:#1b1f24;\
font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;overflow-wrap:anywhere;">
{body}</div>
</body>
</html>
"""


class TemplateError(Exception):
    """A template is missing, malformed, or needs a parameter that was not given."""


@dataclass(frozen=True)
class RenderedMessage:
    """A rendered notification, ready for any channel."""

    subject: str
    body: str
    html: str = ""
    language: str = "en"


def to_html(subject: str, markdown: str, language: str) -> str:
    """The HTML alternative of a message: its body's Markdown source (values escaped) rendered."""
    return _HTML_PAGE.format(lang=language, subject=escape(subject), body=_MARKDOWN.render(markdown))


class TemplateRenderer:
    """Renders notification templates strictly: an undefined parameter is an error, not a blank."""

    def __init__(
        self, templates_dir: Path = DEFAULT_TEMPLATES_DIR, company: CompanyWords | None = None
    ) -> None:
        self.templates_dir = templates_dir
        self.company = company or CompanyWords()

    def render(
        self,
        template: str,
        params: Mapping[str, Any],
        *,
        language: str = "en",
        checklist_url: str | None = None,
        audience: str = "seller",
    ) -> RenderedMessage:
        """Render ``template`` with ``params``; raises :class:`TemplateError` on any template fault."""
        if not _NAME.match(template):
            raise TemplateError(f"template name {template!r} must be letters, digits and underscores")
        context = {
            "checklist_url": Markdown(checklist_url) if checklist_url else checklist_url,
            "audience": audience,
            **params,
        }
        subject, body = _split(template, self._render(template, context, language, markdown=False))
        _, source = _split(template, self._render(template, context, language, markdown=True))
        return RenderedMessage(subject, body, to_html(subject, source, language), language)

    def _render(self, template: str, context: Mapping[str, Any], language: str, *, markdown: bool) -> str:
        env = environment(self.templates_dir, language, html=False, company=self.company, markdown=markdown)
        try:
            return env.get_template(f"{template}.txt.j2").render(context)
        except jinja2.TemplateNotFound as err:
            raise TemplateError(f"no template {err.name!r} in {self.templates_dir}") from None
        except jinja2.TemplateSyntaxError as err:
            raise TemplateError(f"template {template!r}, line {err.lineno}: {err.message}") from None
        except jinja2.TemplateError as err:
            raise TemplateError(f"template {template!r}: {err.message}") from None
        except (TypeError, ValueError, LookupError, ArithmeticError) as err:
            # A parameter of the wrong shape fails the same way on every retry.
            raise TemplateError(f"template {template!r} failed: {type(err).__name__}: {err}") from None


def _split(template: str, text: str) -> tuple[str, str]:
    head, _, rest = text.partition("\n")
    subject = head.removeprefix(_SUBJECT).strip()
    if not head.startswith(_SUBJECT) or not subject:
        raise TemplateError(f"template {template!r} must start with a non-empty 'Subject:' line")
    blank, _, body = rest.partition("\n")
    if blank.strip():
        raise TemplateError(f"template {template!r} needs a blank line after the Subject line")
    return subject, body
