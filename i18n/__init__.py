"""The seller's language: gettext catalogues, dates, and the words templates take from code.

Sellers are served in English or French (Quebec's Charter of the French Language, as amended by
Bill 96). The English strings are the catalogue's message ids; French lives in
``locale/fr_CA/LC_MESSAGES/messages.po``, compiled in memory at start-up (no build step), and
edited with ``pybabel`` (see ``babel.cfg`` and the README). Messages to the broker and to
operations stay English.
"""

from i18n.catalogues import LANGUAGES, LOCALES, translations
from i18n.dates import long_date
from i18n.templates import environment
from i18n.words import CompanyWords, Words

__all__ = ["LANGUAGES", "LOCALES", "CompanyWords", "Words", "environment", "long_date", "translations"]
