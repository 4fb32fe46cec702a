"""Generated code under hostile inputs and tools: non-atomic saves of the overrides file,
deeply nested values, out-of-range numbers, type-exact segments, and linters' sort orders."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = REPO / "templates"


def _top_level_functions(text: str) -> list[str]:
    """The text of every top-level ``def`` in a template, up to the next top-level line."""
    blocks = re.findall(r"^def .*?(?=^\S|\Z)", text, flags=re.MULTILINE | re.DOTALL)
    return [block.rstrip() for block in blocks]


def test_templates_share_helpers_through_partials_not_copies() -> None:
    # Each generated module stays self-contained; the template source keeps one copy.
    counts: Counter[str] = Counter()
    for template in sorted(TEMPLATES.glob("*.j2")):
        counts.update(set(_top_level_functions(template.read_text(encoding="utf-8"))))
    copied = [block.splitlines()[0] for block, count in counts.items() if count > 1]
    assert copied == []
    assert "def _parse_toml(" in (TEMPLATES / "_parse_toml.py.j2").read_text(encoding="utf-8")
