"""The base both readers stand on: members of tables, positions, collected problems, names.

A reader walks tomlkit's document. Tables that TOML lets a file write in several places
(``[a.b]`` after ``[c]``, dotted keys ``a.b.c = 1``) come back from tomlkit as separate
parts; `members` merges them exactly as TOML defines, so nothing written is lost. A
check that finds a problem raises `Reject`; `attempt` reports it as a located
`Diagnostic` and lets the reader go on with the next key, so every problem is listed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import tomlkit.items

from configgen import naming
from configgen.diagnostics import Diagnostic
from configgen.toml_source import SourceFile

TABLES = (tomlkit.items.Table, tomlkit.items.InlineTable)
_T = TypeVar("_T")

Where = Any  # a tomlkit item (or merged table) to locate, or a (line, col) pair


class Reject(Exception):
    """A problem with one key: where it is, the key, and what is wrong."""

    def __init__(self, where: Where, key: str, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.key = key
        self.message = message


class Reported(Exception):
    """Problems were reported already; give up on the enclosing key quietly."""


class MergedTable:
    """A table whose parts stand in several places of the file (tomlkit keeps them apart)."""

    def __init__(self, parts: list[Any]) -> None:
        self.parts = parts
        # `[a.b]` before `[a]` makes an implicit `a` first: the header `[a]` carries
        # the table's comments and position
        self.header = next(
            (part for part in parts if not getattr(part, "is_super_table", lambda: True)()),
            parts[0],
        )
        self.trivia = self.header.trivia

    @property
    def value(self) -> Any:
        return self

    @property
    def body(self) -> list[Any]:
        return [entry for part in self.parts for entry in part.value.body]

    def unwrap(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for key, item in members(self):
            merged[key] = item.unwrap()
        return merged


def is_table(item: object) -> bool:
    """Whether *item* is a table: a header table, an inline table or merged parts."""
    return isinstance(item, (*TABLES, MergedTable))


def members(container: Any) -> list[tuple[str, Any]]:
    """The keys of a table in document order, the parts of split tables merged."""
    body = container.value.body if isinstance(container, TABLES) else container.body
    seen: dict[str, list[Any]] = {}
    for key, item in body:
        if key is None or isinstance(item, (tomlkit.items.Whitespace, tomlkit.items.Comment)):
            continue
        seen.setdefault(key.key, []).append(item)
    return [
        (key, items[0] if len(items) == 1 else MergedTable(items)) for key, items in seen.items()
    ]


def plain(item: Any) -> Any:
    """The plain Python value of a tomlkit item."""
    return item.unwrap() if hasattr(item, "unwrap") else item


class TypeNameMessages(NamedTuple):
    """What a reader says when a generated type name cannot be had.

    ``{name}`` stands for the name, and in *taken* ``{other}`` for what took it first.
    """

    invalid: str
    reserved: str
    taken: str


def _fill(template: str, **values: str) -> str:
    # not str.format: keys quoted in TOML may hold braces
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


class ReaderBase:
    """Problems, positions and claimed names, shared by the config and flags readers."""

    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.problems: list[Diagnostic] = []
        self.claimed: dict[str, tuple[str, str]] = {}  # generated name -> (owner, shown)

    def position(self, item: Any) -> tuple[int, int]:
        """Where *item* starts; a table made by dotted keys is where its first key is."""
        if isinstance(item, tuple):
            return item
        found = self.source.locate(item)
        if found is not None:
            return found
        if isinstance(item, MergedTable):
            return self.position(item.header)
        if isinstance(item, tomlkit.items.AoT) and item.body:
            return self.position(item.body[0])
        if isinstance(item, TABLES):
            for _, child in members(item):
                return self.position(child)
        return 1, 1

    def report(self, where: Where, key: str, message: str) -> None:
        """Record a problem at *where* (an item, or a (line, col) pair)."""
        line, col = self.position(where)
        self.problems.append(Diagnostic(self.source.display_path, line, col, key, message))

    def attempt(self, read: Callable[..., _T], *args: Any) -> _T | None:
        """``read(*args)``, or None after reporting the `Reject` it raised."""
        try:
            return read(*args)
        except Reported:
            return None
        except Reject as rejected:
            self.report(rejected.where, rejected.key, rejected.message)
            return None

    def claim(self, name: str, owner: str, shown: str, where: Where, key: str, taken: str) -> None:
        """Take the generated name *name* for *owner*, or raise `Reject`.

        The same owner may claim a name again (the entries of one map or array share
        their classes). *taken* is the message when another owner took the name first;
        ``{other}`` in it stands for how that owner was *shown*.
        """
        if name in self.claimed:
            other_owner, other_shown = self.claimed[name]
            if other_owner == owner:
                return
            raise Reject(where, key, _fill(taken, other=other_shown))
        self.claimed[name] = (owner, shown)

    def claim_type(
        self, name: str, owner: str, shown: str, where: Where, key: str, says: TypeNameMessages
    ) -> None:
        """Take a generated class or alias name: a valid one that no module defines yet."""
        if not naming.is_class_name(name):
            raise Reject(where, key, _fill(says.invalid, name=name))
        if name in naming.TYPE_NAMES_TAKEN:
            raise Reject(where, key, _fill(says.reserved, name=name))
        self.claim(name, owner, shown, where, key, _fill(says.taken, name=name))
