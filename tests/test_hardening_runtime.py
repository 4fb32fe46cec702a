"""Generated code under hostile inputs and tools: non-atomic saves of the overrides file,
deeply nested values, out-of-range numbers, type-exact segments, and linters' sort orders."""

from __future__ import annotations

import importlib
import logging
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

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


@pytest.fixture
def ff(flags_package: Path) -> ModuleType:
    return importlib.import_module("ffapp.configgen_flags")


class SwappableStore:
    """A store whose whole contents change at once, as a refresh from etcd would."""

    def __init__(self, values: dict[str, object]) -> None:
        self.values = values
        self.callbacks: list[Callable[[], object]] = []

    def get(self, key: str) -> object | None:
        return self.values.get(key)

    def watch(self, callback: Callable[[], object]) -> None:
        self.callbacks.append(callback)

    def replace(self, values: dict[str, object]) -> None:
        self.values = values
        for callback in self.callbacks:
            callback()


class Unprintable(str):
    """A stored value whose every method fails."""

    def strip(self, chars: str | None = None) -> str:
        raise RuntimeError("no strip today")

    def __repr__(self) -> str:
        raise RuntimeError("no repr either")


def test_a_float_flag_holding_a_huge_integer_falls_back_alone(
    ff: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    store = SwappableStore({"discount": 10**400, "max_items": 7})
    with caplog.at_level(logging.WARNING):
        flags = ff.Flags(store)  # raised OverflowError
    assert (flags.discount(), flags.max_items()) == (0.15, 7)
    # a refresh with the bad value first still reads every later flag
    store.replace({"discount": 10**400, "max_items": 8, "ui.theme": "dark", "kill_switch": "off"})
    assert (flags.max_items(), flags.ui.theme(), flags.kill_switch()) == (8, "dark", False)
    assert flags.fallbacks() == {("discount", "wrong-type"): 2}
    lines = [r.getMessage() for r in caplog.records if "discount" in r.getMessage()]
    assert len(lines) == 1, lines
    assert lines[0].endswith(" is too large for a float; serving its default")


def test_whatever_a_stored_value_raises_the_getter_serves_its_default(
    ff: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    store = SwappableStore(
        {
            "max_items": Unprintable("5"),
            "greeting": deep,
            "ui.theme": deep,
            "search.new_ranker": 10**5000,
            "discount": "0.5",
        }
    )
    with caplog.at_level(logging.WARNING):
        flags = ff.Flags(store)
    assert flags.max_items() == 50
    assert flags.greeting() == 'Hello, "friend"'
    assert flags.ui.theme() == "light"
    assert flags.discount() == 0.5
    assert set(flags.fallbacks()) == {
        ("max_items", "wrong-type"),
        ("greeting", "wrong-type"),
        ("ui.theme", "wrong-type"),
        ("search.new_ranker", "wrong-type"),
    }
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "the stored value <a list too large to show> is not a string" in messages
    assert "flag max_items: wrong-type; serving its default" in messages  # no repr() to show


def test_an_evaluation_context_that_cannot_be_shown_still_falls_back(ff: ModuleType) -> None:
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    ctx = ff.EvaluationContext("x", {"country": deep})  # unhashable and unprintable
    flags = ff.Flags()
    assert flags.new_checkout(ctx) is False
    assert flags.fallbacks() == {("new_checkout", "evaluation-error"): 1}
