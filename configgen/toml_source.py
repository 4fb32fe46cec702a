"""Reading TOML with the positions of keys and tables, and the comments around them.

The parsing is tomlkit's; this module only records where each value and table header
starts, so that every diagnostic can name a line and a column.
"""

from __future__ import annotations

import bisect
import os
import re
import sys
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
import tomlkit.items
from tomlkit.parser import Parser

from configgen.diagnostics import Diagnostic


class _LocatingParser(Parser):
    """tomlkit's parser, noting the span of every key/value and table header."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.spans: dict[int, tuple[int, int]] = {}
        # spans are keyed by id(): every located item is kept alive, so that an item tomlkit
        # drops while parsing (a table merged into another) cannot pass its id on to a new one
        self.located: list[Any] = []

    def _parse_key_value(self, parse_comment: bool = False) -> Any:
        start = self._idx
        key, value = super()._parse_key_value(parse_comment)
        self.spans[id(value)] = (start, self._idx)
        self.located.append(value)
        return key, value

    def _parse_table(self, parent_name: Any = None, parent: Any = None) -> Any:
        start = self._idx
        key, table = super()._parse_table(parent_name, parent)
        # `[[a]]`: an array of tables comes back whole; its first table starts here.
        item = table.body[0] if isinstance(table, tomlkit.items.AoT) and table.body else table
        # `[a.b.c]` without `[a]` comes back as super tables a > b > c: all of them
        # are located at the header that created them.
        while isinstance(item, tomlkit.items.Table):
            self.spans.setdefault(id(item), (start, start))
            self.located.append(item)
            children = [v for v in item.value.values() if isinstance(v, tomlkit.items.Table)]
            if not item.is_super_table() or len(children) != 1:
                break
            item = children[0]
        return key, table


class SourceFile:
    """A parsed TOML file that can say where each of its items is."""

    def __init__(
        self,
        display_path: str,
        text: str,
        document: tomlkit.TOMLDocument,
        spans: dict[int, tuple[int, int]],
        located: list[Any] | None = None,
    ) -> None:
        self.display_path = display_path
        self.text = text
        self.document = document
        self._spans = spans
        self._located = located
        self._line_starts = [0]
        for index, char in enumerate(text):
            if char == "\n":
                self._line_starts.append(index + 1)
        self._lines = text.splitlines()
        self._covered: set[int] = set()
        for start, end in spans.values():
            first = self._line_of(start)
            last = self._line_of(max(start, end - 1))
            self._covered.update(range(first + 1, last + 1))

    def _line_of(self, index: int) -> int:
        return bisect.bisect_right(self._line_starts, index)

    def position(self, item: object) -> tuple[int, int]:
        """Return the 1-based (line, column) where *item* starts, or (1, 1) if unknown."""
        return self.locate(item) or (1, 1)

    def locate(self, item: object) -> tuple[int, int] | None:
        """Return the 1-based (line, column) where *item* starts, if it was recorded."""
        span = self._spans.get(id(item))
        if span is None:
            return None
        index = span[0]
        while index < len(self.text) and self.text[index] in " \t\r\n":
            index += 1
        line = self._line_of(index)
        return line, index - self._line_starts[line - 1] + 1

    def comment_above(self, line: int) -> str:
        """Return the block of whole-line comments directly above *line*, as text."""
        collected: list[str] = []
        number = line - 1
        while number >= 1 and number not in self._covered:
            stripped = self._lines[number - 1].strip()
            if not stripped.startswith("#"):
                break
            collected.append(stripped[1:])
            number -= 1
        collected.reverse()
        return _dedent_comment(collected)


def _dedent_comment(lines: list[str]) -> str:
    lines = [line.expandtabs(4).rstrip() for line in lines]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    margin = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    return "\n".join(line[margin:] for line in lines)


def display_path(path: Path, root: Path | None = None) -> str:
    """Return *path* as users should see it: relative to *root* when inside it, with /."""
    if root is not None:
        try:
            return Path(os.path.relpath(path, root)).as_posix()
        except ValueError:  # another drive on Windows
            pass
    return path.as_posix()


def read_source(path: Path, shown_as: str) -> tuple[SourceFile | None, list[Diagnostic]]:
    """Read and parse a TOML file; on failure return the located diagnostics instead."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, [Diagnostic(shown_as, 1, 1, "", "file not found")]
    except OSError as exc:
        return None, [Diagnostic(shown_as, 1, 1, "", f"cannot read the file: {exc.strerror}")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, [
            Diagnostic(
                shown_as,
                line,
                col,
                "",
                f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); TOML files must be UTF-8",
            )
        ]
    if text.startswith("\ufeff"):
        text = text[1:]
    return parse_source(text, shown_as)


_AT = re.compile(r"^(?P<message>.*) \(at line (?P<line>\d+), column (?P<col>\d+)\)$", re.DOTALL)


def _strict_problem(text: str, shown_as: str) -> Diagnostic | None:
    """What the standard library's parser, which follows TOML exactly, rejects.

    tomlkit accepts a few documents TOML forbids (a table declared twice when the second
    declaration only adds keys); the stdlib parser is the judge of validity.
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _AT.match(str(exc))
        if found is None:
            return Diagnostic(shown_as, 1, 1, "", f"invalid TOML: {exc}")
        line, col = int(found["line"]), int(found["col"])
        return Diagnostic(shown_as, line, col, "", f"invalid TOML: {found['message']}")
    except RecursionError:
        return Diagnostic(shown_as, 1, 1, "", "invalid TOML: values nested too deeply")
    return None


def parse_source(text: str, shown_as: str) -> tuple[SourceFile | None, list[Diagnostic]]:
    """Parse TOML *text*; on a syntax error return its located diagnostic."""
    parser = _LocatingParser(text)
    try:
        document = parser.parse()
    except tomlkit.exceptions.ParseError as exc:
        message = str(exc).rsplit(" at line ", 1)[0]
        # tomlkit counts columns from 0
        return None, [Diagnostic(shown_as, exc.line, exc.col + 1, "", f"invalid TOML: {message}")]
    except tomlkit.exceptions.TOMLKitError as exc:  # errors raised outside the parser proper
        strict = _strict_problem(text, shown_as)
        return None, [strict or Diagnostic(shown_as, 1, 1, "", f"invalid TOML: {exc}")]
    except RecursionError:
        return None, [Diagnostic(shown_as, 1, 1, "", "invalid TOML: values nested too deeply")]
    strict = _strict_problem(text, shown_as)
    if strict is not None:
        return None, [strict]
    return SourceFile(shown_as, text, document, parser.spans, parser.located), []
