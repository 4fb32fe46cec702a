"""Validation rules of config.toml (``# validate: min=..,max=..,pattern=..,oneof=..``).

`read_rules` turns a directive's rules into `Rules` for a field type; `violation`
checks a value the way the generated loader does. A pattern is checked against a
default in a child process with a time limit: a pattern that backtracks
catastrophically must not hang generation.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from configgen.fieldtypes import article, is_sized
from configgen.model import FieldType, Rules, Scalar, SectionRef

PATTERN_CHECK_SECONDS = 5.0


class RuleError(ValueError):
    """A rule that cannot apply to its field."""


def _number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _bound(rule: str, text: str, field_type: FieldType) -> int | float:
    kind = field_type.kind if isinstance(field_type, Scalar) else None
    if kind in ("bool", "datetime", "date", "time") or isinstance(field_type, SectionRef):
        raise RuleError(f"'{rule}' does not apply to {article(field_type.spelling)}")
    number = _number(text)
    if number is None:
        raise RuleError(f"'{rule}={text}' is not a number")
    if is_sized(field_type) and (not isinstance(number, int) or number < 0):
        raise RuleError(f"'{rule}={text}' bounds a length here: it must be a whole number >= 0")
    if kind == "int" and not isinstance(number, int):
        raise RuleError(f"'{rule}={text}' must be a whole number for an int")
    if kind == "float":
        try:
            return float(number)
        except OverflowError:
            raise RuleError(f"'{rule}={text}' is too large for a float") from None
    return number


def pattern_problem(pattern: str) -> str | None:
    """Why *pattern* cannot be used on every supported Python, or None."""
    try:
        compiled = re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        return f"'pattern={pattern}' is not a valid regular expression: {exc}"
    newer = _newer_syntax(compiled.pattern)
    if newer:
        return (
            f"'pattern={pattern}' uses {newer}, which Python 3.10 does not understand; "
            "the generated module must load on every supported Python"
        )
    return None


def _newer_syntax(pattern: str) -> str:
    """The Python 3.11 regular-expression syntax *pattern* uses, if any."""
    if sys.version_info < (3, 11):  # it compiled, so it has none
        return ""
    import importlib

    constants: Any = importlib.import_module("re._constants")
    parser: Any = importlib.import_module("re._parser")

    def walk(items: Any) -> str:
        for op, argument in items:
            if op is constants.POSSESSIVE_REPEAT:
                return "a possessive quantifier (*+, ++, ?+, {m,n}+)"
            if op is constants.ATOMIC_GROUP:
                return "an atomic group (?>...)"
            for part in argument if isinstance(argument, (tuple, list)) else ():
                if isinstance(part, parser.SubPattern):
                    found = walk(part)
                    if found:
                        return found
                if isinstance(part, list):  # the branches of an alternation
                    for branch in part:
                        if isinstance(branch, parser.SubPattern):
                            found = walk(branch)
                            if found:
                                return found
        return ""

    return walk(parser.parse(pattern))


def read_rules(rules: Sequence[tuple[str, str]], field_type: FieldType) -> Rules:
    """The `Rules` of a ``validate:`` directive for a field; raise `RuleError` if bad."""
    values: dict[str, Any] = {}
    kind = field_type.kind if isinstance(field_type, Scalar) else None
    for rule, text in rules:
        if rule in ("min", "max"):
            values[rule] = _bound(rule, text, field_type)
        elif kind != "str":
            raise RuleError(
                f"'{rule}' applies to strings; this key is {article(field_type.spelling)}"
            )
        elif rule == "pattern":
            problem = pattern_problem(text)
            if problem is not None:
                raise RuleError(problem)
            values["pattern"] = text
        else:
            choices = tuple(choice.strip() for choice in text.split("|"))
            if any(not choice for choice in choices) or len(set(choices)) != len(choices):
                raise RuleError(
                    f"'oneof={text}' needs distinct, non-empty choices separated by '|'"
                )
            values["oneof"] = choices
    found = Rules(**values)
    if found.min is not None and found.max is not None and found.min > found.max:
        raise RuleError(f"min={found.min} is greater than max={found.max}")
    return found


def violation(rules: Rules, field_type: FieldType, value: Any) -> str | None:
    """How *value* breaks the size, bound and oneof *rules* (not pattern), or None.

    Mirrors the generated loader's ``_Rules.check``.
    """
    if is_sized(field_type):
        size = len(value)
        if rules.min is not None and size < rules.min:
            return f"has length {size}, below min={rules.min}"
        if rules.max is not None and size > rules.max:
            return f"has length {size}, above max={rules.max}"
    else:
        bounded = rules.min is not None or rules.max is not None
        if bounded and isinstance(value, float) and not math.isfinite(value):
            return f"{value!r} is not a finite number, as min/max require"
        if rules.min is not None and value < rules.min:
            return f"{value!r} is below min={rules.min}"
        if rules.max is not None and value > rules.max:
            return f"{value!r} is above max={rules.max}"
    if rules.oneof and value not in rules.oneof:
        return f"{value!r} is not one of {'|'.join(rules.oneof)}"
    return None


_MATCHER = """
import json, re, sys
for pattern, value in json.load(sys.stdin):
    print(int(re.fullmatch(pattern, value) is not None), flush=True)
"""


def fullmatches(pairs: Sequence[tuple[str, str]]) -> list[bool | None]:
    """Whether each value fully matches its pattern; None where the check ran out of time.

    The patterns run in one child process, stopped after `PATTERN_CHECK_SECONDS`.
    """
    if not pairs:
        return []
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _MATCHER],
            input=json.dumps(list(pairs)),
            capture_output=True,
            text=True,
            timeout=PATTERN_CHECK_SECONDS,
        ).stdout
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout
        done = out.decode() if isinstance(out, bytes) else (out or "")
    answers: list[bool | None] = [line == "1" for line in done.split()]
    return answers + [None] * (len(pairs) - len(answers))
