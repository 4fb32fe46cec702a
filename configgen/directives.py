"""Directives: the instructions users write in trailing comments of config.toml.

A trailing comment is read as directives when its first word is a directive name in
any case (``# sensitive required``, ``# Validate min=1``), or when its first word is
followed by ``:``, ``,`` or nothing (``# sensitive, required``, ``# validate: min=1,max=10``,
``# map``); any other comment (``# the port we listen on``) is a note and is left
alone. A directive comment must parse, every word a known directive: a typo is an
error, never a note, and `respell` offers the corrected spelling.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from configgen.diagnostics import did_you_mean

KNOWN = ("env", "map", "required", "sensitive", "type", "validate")
RULES = ("max", "min", "oneof", "pattern")
_FLAGS = frozenset({"map", "required", "sensitive"})

_DIRECTIVE_START = re.compile(r"\s*([A-Za-z_][\w-]*)\s*(?::|,|$)")
_NAME = re.compile(r"\s*([A-Za-z_][\w-]*)\s*")
_RULE_NAME = re.compile(r"\s*([A-Za-z_][\w-]*)\s*=\s*")
_NEXT_ITEM = re.compile(r",\s*[A-Za-z_][\w-]*\s*(?:=|:|,|$)")
_NAMED = re.compile(r"\s*(" + "|".join(KNOWN) + r")\b", re.IGNORECASE)
# where a respelled item ends: a separator followed by the next directive name
_ITEM_END = re.compile(
    r"\s*[;,]?\s*(?=(?:" + "|".join(KNOWN) + r")\b)|\s*[;,]?\s*\Z", re.IGNORECASE
)


class Directives(NamedTuple):
    """What a trailing comment asks for. ``rules`` keeps the rules' raw text."""

    flags: frozenset[str] = frozenset()
    env: str | None = None
    type: str | None = None
    rules: tuple[tuple[str, str], ...] = ()


class DirectiveError(ValueError):
    """A directive comment that cannot be read; ``offset`` is where in the comment."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


def is_directive_comment(comment: str) -> bool:
    """Return whether a trailing comment (without its ``#``) is a directive list."""
    return _DIRECTIVE_START.match(comment) is not None or _NAMED.match(comment) is not None


def respell(comment: str) -> str | None:
    """The directive comment the user most likely meant, if it parses; else None.

    ``sensitive required`` -> ``sensitive, required``; ``validate min=8`` ->
    ``validate: min=8``; ``SENSITIVE; REQUIRED`` -> ``sensitive, required``.
    """
    items: list[str] = []
    pos = 0
    while pos < len(comment.rstrip()):
        match = _NAMED.match(comment, pos)
        if match is None:
            return None
        name = match.group(1).lower()
        pos = match.end()
        while pos < len(comment) and comment[pos] in " \t:":
            pos += 1
        end = _ITEM_END.search(comment, pos)
        assert end is not None  # the pattern matches at the end of the text
        value = comment[pos : end.start()].strip()
        items.append(f"{name}: {value}" if value else name)
        pos = end.end()
    spelled = ", ".join(items)
    try:
        parse(spelled)
    except DirectiveError:
        return None
    return spelled if spelled != comment.strip() else None


def _read_value(text: str, pos: int) -> tuple[str, int]:
    """Read a value up to the comma that starts the next item, honouring quotes and brackets."""
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    if pos < len(text) and text[pos] in "\"'":
        quote = text[pos]
        end = pos + 1
        chars: list[str] = []
        while end < len(text) and text[end] != quote:
            if text[end] == "\\" and quote == '"' and end + 1 < len(text):
                end += 1
            chars.append(text[end])
            end += 1
        if end >= len(text):
            raise DirectiveError(f"unterminated quoted value: {text[pos:]}", pos)
        return "".join(chars), end + 1
    depth = 0
    end = pos
    while end < len(text):
        char = text[end]
        if char in "[({":
            depth += 1
        elif char in "])}":
            depth -= 1
        elif char == "," and depth <= 0 and _NEXT_ITEM.match(text, end):
            break
        end += 1
    return text[pos:end].strip(), end


def parse(comment: str) -> Directives:
    """Parse a directive comment (the text after ``#``); raise `DirectiveError` if bad."""
    flags: set[str] = set()
    env: str | None = None
    type_hint: str | None = None
    rules: list[tuple[str, str]] = []
    seen: set[str] = set()
    pos = 0
    while True:
        match = _NAME.match(comment, pos)
        if match is None:
            raise DirectiveError(f"expected a directive name at '{comment[pos:].strip()}'", pos)
        name = match.group(1)
        if name not in KNOWN:
            raise DirectiveError(
                f"unknown directive '{name}'{did_you_mean(name, KNOWN)}; known directives: "
                f"{', '.join(KNOWN)} (a comment that is a sentence is a note, not a directive)",
                match.start(1),
            )
        if name in seen:
            raise DirectiveError(f"directive '{name}' is given twice", match.start(1))
        seen.add(name)
        pos = match.end()
        has_args = pos < len(comment) and comment[pos] == ":"
        if name in _FLAGS:
            if has_args:
                raise DirectiveError(f"directive '{name}' takes no value", pos)
            flags.add(name)
        elif not has_args:
            raise DirectiveError(f"directive '{name}' needs a value: '{name}: ...'", pos)
        elif name == "validate":
            pos = _parse_rules(comment, pos + 1, rules)
        else:
            value, pos = _read_value(comment, pos + 1)
            if not value:
                raise DirectiveError(f"directive '{name}' needs a value", pos)
            if name == "env":
                env = value
            else:
                type_hint = value
        while pos < len(comment) and comment[pos] in " \t":
            pos += 1
        if pos >= len(comment):
            break
        if comment[pos] != ",":
            raise DirectiveError(f"expected ',' before '{comment[pos:].strip()}'", pos)
        pos += 1
    return Directives(frozenset(flags), env, type_hint, tuple(rules))


def _parse_rules(comment: str, pos: int, rules: list[tuple[str, str]]) -> int:
    while True:
        match = _RULE_NAME.match(comment, pos)
        if match is None:
            raise DirectiveError(
                "validate needs rules such as 'min=1,max=10', 'pattern=REGEX' or 'oneof=a|b'", pos
            )
        rule = match.group(1)
        if rule not in RULES:
            raise DirectiveError(
                f"unknown rule '{rule}' in validate{did_you_mean(rule, RULES)}; "
                f"known rules: {', '.join(RULES)}",
                match.start(1),
            )
        if any(existing == rule for existing, _ in rules):
            raise DirectiveError(f"rule '{rule}' is given twice", match.start(1))
        value, pos = _read_value(comment, match.end())
        if not value and rule != "pattern":
            raise DirectiveError(f"rule '{rule}' needs a value", pos)
        rules.append((rule, value))
        if not (pos < len(comment) and comment[pos] == "," and _RULE_NAME.match(comment, pos + 1)):
            return pos
        pos += 1
