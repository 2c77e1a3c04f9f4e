"""Sections of a generated Markdown report that another command owns, kept between markers.

docs/results.md is written whole by scripts/ssh_report.py; scripts/compression_report.py
owns its "compression" section. Each command rewrites only what it owns, so
either can run first and a rerun of one keeps the other's section.
"""

from __future__ import annotations

import re
from pathlib import Path

BEGIN = "<!-- begin section {name}: written by its own command; kept when the rest of this file is regenerated -->"
END = "<!-- end section {name} -->"
_BLOCK = re.compile(r"<!-- begin section (?P<name>[\w-]+):.*?-->\n.*?<!-- end section (?P=name) -->\n?", re.S)


def block(name: str, body: str) -> str:
    return f"{BEGIN.format(name=name)}\n{body.rstrip()}\n{END.format(name=name)}\n"


def sections(text: str) -> dict[str, str]:
    """{name: the whole marked block} of every section in `text`."""
    return {m.group("name"): m.group(0) for m in _BLOCK.finditer(text)}


def write_section(path: Path, name: str, body: str) -> None:
    """Replaces section `name` of the file at `path` with `body`, or appends it (creating the file)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    new = block(name, body)
    found = sections(text).get(name)
    if found is not None:
        text = text.replace(found, new)
    else:
        text = text.rstrip("\n") + ("\n\n" if text.strip() else "") + new
    path.write_text(text, encoding="utf-8")


def keep_sections(old: str, new: str) -> str:
    """`new` with every section of `old` it lacks appended (a regenerated report keeps the others' sections)."""
    have = sections(new)
    kept = [b for name, b in sections(old).items() if name not in have]
    if not kept:
        return new
    return new.rstrip("\n") + "\n\n" + "\n".join(b.rstrip("\n") + "\n" for b in kept)
