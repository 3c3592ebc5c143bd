"""What a template says that comes from code, in one language: guidance, links, steps, dates.

Templates say their own sentences with ``{% trans %}``; the words that live in code — the next
actions of :mod:`domain.guidance`, the links of :mod:`domain.links`, the rejections' codes — reach
them through one :class:`Words` per language, which translates and fills them in.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

from config.settings import Settings
from domain.guidance import DENIAL_REASONS, OUR_BROKER, POA_INSTRUCTIONS, STEP_LABELS, guidance
from domain.links import LINKS
from domain.steps import Step
from domain.translatable import N_
from i18n.catalogues import translations
from i18n.dates import long_date
from i18n.markdown import Markdown
from i18n.problems import problem_words

POA_INSTRUCTIONS_TITLE = N_("Our Power of Attorney instructions")
TITLED_LINK = N_("%(title)s: %(url)s")
"""A link on its own line in a message (French puts a no-break space before the colon)."""


@dataclass(frozen=True)
class CompanyWords:
    """The company's own facts that the words name (settings), so templates need no settings."""

    broker_legal_name: str | None = None
    poa_instructions_url: str | None = None
    poa_instructions_url_fr: str | None = None
    carm_inactivity_days: int = 180
    hold_business_days: int = 15
    checklist_link_days: int = 30

    @classmethod
    def from_settings(cls, settings: Settings) -> "CompanyWords":
        return cls(
            broker_legal_name=settings.broker_legal_name,
            poa_instructions_url=settings.poa_instructions_url,
            poa_instructions_url_fr=settings.poa_instructions_url_fr,
            carm_inactivity_days=settings.carm_inactivity_days,
            hold_business_days=settings.hold_business_days,
            checklist_link_days=settings.checklist_link_days,
        )


@dataclass(frozen=True)
class LinkView:
    title: str
    url: str


class Words:
    """The code's words in ``language``, for templates (``words.title(code)``…) and pages."""

    def __init__(self, language: str, company: CompanyWords | None = None) -> None:
        self.language = language
        self.company = company or CompanyWords()
        self._t = translations(language)

    def gettext(self, message: str) -> str:
        return self._t.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._t.ngettext(singular, plural, n)

    @property
    def broker(self) -> str:
        return self.company.broker_legal_name or self.gettext(OUR_BROKER)

    def _filled(self, message: str) -> str:
        values: dict[str, Any] = {"broker": self.broker, "days": self.company.carm_inactivity_days}
        return self.gettext(message) % values if "%(" in message else self.gettext(message)

    def title(self, code: str) -> str:
        return self.gettext(guidance(code).title)

    def instructions(self, code: str) -> str:
        text = guidance(code).instructions
        return self._filled(text) if text else ""

    def links(self, code: str) -> list[LinkView]:
        found = []
        for key in guidance(code).links:
            view = self.link(key)
            if view is not None:
                found.append(view)
        return found

    def link(self, key: str) -> LinkView | None:
        if key == POA_INSTRUCTIONS:
            url = self.company.poa_instructions_url
            if self.language == "fr" and self.company.poa_instructions_url_fr:
                url = self.company.poa_instructions_url_fr
            return LinkView(self.gettext(POA_INSTRUCTIONS_TITLE), url) if url else None
        found = LINKS[key]
        return LinkView(self.gettext(found.title), found.url(self.language))

    def line(self, view: LinkView | str) -> Markdown:
        """``Title: URL``, for a message: a link's key or a link already looked up."""
        found = self.link(view) if isinstance(view, str) else view
        assert found is not None, view
        # The service's own words and address: the message's HTML shows the address as a link.
        return Markdown(self.gettext(TITLED_LINK) % {"title": found.title, "url": found.url})

    def url(self, key: str) -> str:
        view = self.link(key)
        assert view is not None, key
        return view.url

    def step(self, step: Step | str) -> str:
        return self.gettext(STEP_LABELS[Step(step)])

    def denial(self, reason: str) -> str:
        message = DENIAL_REASONS.get(reason)
        return self.gettext(message) if message else reason

    def date(self, day: date | str) -> str:
        return long_date(date.fromisoformat(day) if isinstance(day, str) else day, self.language)

    def problem(self, kind: str, code: str, params: dict[str, Any] | None = None) -> str:
        """A rejection (``InvalidInput``/``NotAllowedNow``, its code and parameters) in words."""
        return problem_words(self._t, kind, code, params or {})
