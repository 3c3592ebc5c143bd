"""Render ``templates/<name>.txt.j2`` into a subject and a body.

A template's first line is ``Subject: ...``, then a blank line, then the body. Workflows only name
the template and its parameters, so the wording can change without touching workflow code.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from domain.guidance import DENIAL_REASONS, describe_action, guidance

DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"

# Template names come from workflow state; refusing anything but a plain name keeps them inside the
# templates directory whatever the loader would do with "../" or absolute paths.
_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_SUBJECT = "Subject:"


class TemplateError(Exception):
    """A template is missing, malformed, or needs a parameter that was not given."""


@dataclass(frozen=True)
class RenderedMessage:
    """A rendered notification, ready for any channel."""

    subject: str
    body: str


class TemplateRenderer:
    """Renders notification templates strictly: an undefined parameter is an error, not a blank."""

    def __init__(self, templates_dir: Path = DEFAULT_TEMPLATES_DIR) -> None:
        self.templates_dir = templates_dir
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        # The same catalogue of words for next actions that the command line and the Web UI use.
        self._env.globals.update(guidance=guidance, describe_action=describe_action, denial=DENIAL_REASONS)

    def render(self, template: str, params: Mapping[str, Any]) -> RenderedMessage:
        """Render ``template`` with ``params``; raises :class:`TemplateError` on any template fault."""
        if not _NAME.match(template):
            raise TemplateError(f"template name {template!r} must be letters, digits and underscores")
        try:
            text = self._env.get_template(f"{template}.txt.j2").render(params)
        except jinja2.TemplateNotFound as err:
            raise TemplateError(f"no template {err.name!r} in {self.templates_dir}") from None
        except jinja2.TemplateSyntaxError as err:
            raise TemplateError(f"template {template!r}, line {err.lineno}: {err.message}") from None
        except jinja2.TemplateError as err:
            raise TemplateError(f"template {template!r}: {err.message}") from None
        except (TypeError, ValueError, LookupError, ArithmeticError) as err:
            # A parameter of the wrong shape fails the same way on every retry.
            raise TemplateError(f"template {template!r} failed: {type(err).__name__}: {err}") from None
        return _split(template, text)


def _split(template: str, text: str) -> RenderedMessage:
    head, _, rest = text.partition("\n")
    subject = head.removeprefix(_SUBJECT).strip()
    if not head.startswith(_SUBJECT) or not subject:
        raise TemplateError(f"template {template!r} must start with a non-empty 'Subject:' line")
    blank, _, body = rest.partition("\n")
    if blank.strip():
        raise TemplateError(f"template {template!r} needs a blank line after the Subject line")
    return RenderedMessage(subject=subject, body=body)
