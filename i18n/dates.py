"""Dates as a seller reads them: "Tuesday, January 13, 2026", "mardi 13 janvier 2026"."""

from datetime import date, datetime

from babel.dates import format_date, format_time

from i18n.catalogues import LOCALES


def long_date(day: date, language: str) -> str:
    text = format_date(day, format="full", locale=LOCALES[language])
    if language == "fr" and day.day == 1:
        # French writes the first of the month as an ordinal: "jeudi 1er janvier 2026".
        text = text.replace(" 1 ", " 1er ", 1)
    return text


def short_time(moment: datetime, language: str) -> str:
    """ "9:05 a.m." in English, "09 h 05" in French (the OQLF's 24-hour form)."""
    if language == "fr":
        return format_time(moment, "HH 'h' mm", locale=LOCALES[language])
    return format_time(moment, format="short", locale=LOCALES[language])
