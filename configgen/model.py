"""The model: what the readers make of the TOML files, and all the templates read.

Plain frozen data with source positions. Types are a small closed set: a scalar, a
list of a type, a map from str to a type, or a section (a generated dataclass).
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Union

SCALARS = ("str", "int", "float", "bool", "datetime", "date", "time")

Value = Union[
    str,
    int,
    float,
    bool,
    datetime.datetime,
    datetime.date,
    datetime.time,
    "list[Value]",
    "dict[str, Value]",
]


@dataclasses.dataclass(frozen=True)
class Scalar:
    """A TOML scalar: one of `SCALARS`."""

    kind: str

    @property
    def python(self) -> str:
        return f"datetime.{self.kind}" if self.kind in ("datetime", "date", "time") else self.kind

    @property
    def spelling(self) -> str:
        return self.kind


@dataclasses.dataclass(frozen=True)
class ListOf:
    """A homogeneous array; generated as ``tuple[T, ...]`` so that sections stay immutable."""

    item: FieldType

    @property
    def python(self) -> str:
        return f"tuple[{self.item.python}, ...]"

    @property
    def spelling(self) -> str:
        return f"list[{self.item.spelling}]"


@dataclasses.dataclass(frozen=True)
class MapOf:
    """A ``# map`` table: string keys, values of one type; generated as ``Mapping[str, V]``."""

    value: FieldType

    @property
    def python(self) -> str:
        return f"Mapping[str, {self.value.python}]"

    @property
    def spelling(self) -> str:
        return f"dict[str, {self.value.spelling}]"


@dataclasses.dataclass(frozen=True)
class SectionRef:
    """The values of a map of tables: each entry is an instance of a generated class."""

    class_name: str

    @property
    def python(self) -> str:
        return self.class_name

    @property
    def spelling(self) -> str:
        return "table"


FieldType = Scalar | ListOf | MapOf | SectionRef


@dataclasses.dataclass(frozen=True)
class Rules:
    """Validation rules. ``min``/``max`` bound a number's value or a str/list/map's length."""

    min: int | float | None = None
    max: int | float | None = None
    pattern: str | None = None
    oneof: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self != Rules()


@dataclasses.dataclass(frozen=True)
class Field:
    """One key of config.toml: a typed attribute of its section's class."""

    key: str  # as written in TOML
    name: str  # the Python attribute
    path: tuple[str, ...]  # TOML keys from the root, this one last
    type: FieldType
    default: Value | None  # None only in map entries, which have no defaults
    doc: str
    rules: Rules
    sensitive: bool
    required: bool
    env: str | None  # None where the environment cannot reach (inside map entries)
    line: int
    col: int

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclasses.dataclass(frozen=True)
class Section:
    """A table of config.toml, generated as one frozen dataclass."""

    class_name: str
    key: str  # as written in TOML; "" for the root
    name: str  # attribute name in the parent; "" for the root
    path: tuple[str, ...]
    doc: str
    fields: tuple[Field, ...]
    sections: tuple[Section, ...]
    is_entry: bool  # an entry of a map of tables: no defaults, not reached by env
    line: int
    col: int

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    def walk(self) -> list[Section]:
        """Return this section and all below it, children before parents."""
        found: list[Section] = []
        for section in self.sections:
            found.extend(section.walk())
        found.append(self)
        return found


@dataclasses.dataclass(frozen=True)
class ConfigSchema:
    """Everything generated from one config.toml."""

    source: str  # the path as shown to users, relative to the project
    root: Section
    entries: tuple[Section, ...]  # classes for the values of maps of tables
    env_prefix: str
    sensitive_present: bool

    def classes(self) -> list[Section]:
        """All generated classes in definition order: dependencies first."""
        order: list[Section] = []
        for entry in self.entries:
            order.extend(entry.walk())
        order.extend(self.root.walk())
        return order

    def fields(self) -> list[Field]:
        """Every field reachable by the loader, in document order."""
        found: list[Field] = []

        def visit(section: Section) -> None:
            found.extend(section.fields)
            for sub in section.sections:
                visit(sub)

        visit(self.root)
        return found
