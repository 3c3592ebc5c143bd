"""uvicorn's access log without the checklist tokens (they are the seller's key to their page)."""

import logging
import re


class RedactTokens(logging.Filter):
    """Replace the value of every ``token=`` in a log record's arguments with ``…``."""

    _TOKEN = re.compile(r"(token=)[^&\s\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("color_message", None)  # uvicorn's ANSI copy of the message
        if isinstance(record.args, tuple):
            record.args = tuple(self._TOKEN.sub(r"\1…", a) if isinstance(a, str) else a for a in record.args)
        return True
