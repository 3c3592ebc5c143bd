"""Regenerate the README's generated sections: ``python -m scripts.docs`` (``--check`` to verify)."""

import functools
import re
import sys
from pathlib import Path

from config.settings import settings_table
from domain.docs import SECTIONS as RULES
from scripts.names import names_table

README = Path(__file__).resolve().parents[1] / "README.md"
SECTIONS = {**RULES, "settings": settings_table, "names": names_table}


def _filled(content: str, match: re.Match[str]) -> str:
    return match.group(1) + content + "\n" + match.group(2)


def render(text: str) -> str:
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- BEGIN {name} -->\n)(?:.*?\n)?(<!-- END {name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md has no '<!-- BEGIN {name} -->' section")
        text = pattern.sub(functools.partial(_filled, make()), text)
    return text


def main() -> None:
    current = README.read_text()
    fresh = render(current)
    if "--check" in sys.argv:
        if fresh != current:
            raise SystemExit("README.md is out of date: run `python -m scripts.docs`")
        return
    README.write_text(fresh)


if __name__ == "__main__":
    main()
