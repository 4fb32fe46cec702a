"""The model: what the readers make of the TOML files, and all the templates read.

Plain frozen data with source positions. Types are a small closed set: a scalar, a
list of a type, a map from str to a type, or a section (a generated dataclass).
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Union

from configgen.bucketing import DEFAULT_SCHEME, Scheme

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


FLAG_KINDS = ("bool", "int", "float", "string", "enum", "percent")


@dataclasses.dataclass(frozen=True)
class Segment:
    """A named group of targeting keys: listed users, or an attribute with allowed values."""

    name: str
    users: tuple[str, ...]
    attribute: str | None
    values: tuple[str | int | float | bool, ...]
    line: int
    col: int


def segment_value(value: object) -> tuple[str, object]:
    """*value* with its kind, as segments compare them: ``True`` is not ``1``, ``1`` is
    ``1.0`` (JSON has one number type, and flagd compares so), and anything but a bool, a
    number or a string (a list, a mapping, ``None``) matches no segment value."""
    if isinstance(value, bool):
        return "bool", value
    if isinstance(value, (int, float)):
        return "number", value
    if isinstance(value, str):
        return "str", value
    return "other", None


@dataclasses.dataclass(frozen=True)
class Flag:
    """One feature flag of flags.toml."""

    key: str  # dotted, as the store knows it: "ui.theme"
    name: str  # the getter's name
    path: tuple[str, ...]  # normalised names from the root category
    kind: str  # one of FLAG_KINDS
    default: bool | int | float | str
    description: str
    expires: datetime.date | None
    users: tuple[str, ...]
    segments: tuple[str, ...]
    rollout: float | None
    values: tuple[str, ...]  # enum values
    line: int
    col: int
    review_after: datetime.date | None = None
    """``review-after``: from this date `configgen flags stale` reports the flag."""
    permanent: bool = False
    """``permanent = true``: a flag meant to stay (a kill switch); never reported as stale."""

    @property
    def targeted(self) -> bool:
        return bool(self.users or self.segments or self.rollout is not None)

    @property
    def python(self) -> str:
        if self.kind == "enum":
            return "Literal[" + ", ".join(_quoted(v) for v in self.values) + "]"
        return {"bool": "bool", "int": "int", "float": "float", "string": "str", "percent": "bool"}[
            self.kind
        ]

    @property
    def stored_python(self) -> str:
        """The type of the value a store holds for this flag (a percent flag: its percentage)."""
        return "float" if self.kind == "percent" else self.python


def _quoted(text: str) -> str:
    from configgen.pyexpr import string

    return string(text)


@dataclasses.dataclass(frozen=True)
class Category:
    """A table of flags without a ``type``: an attribute of `Flags` holding more getters."""

    name: str  # attribute name in the parent; "" for the root
    path: tuple[str, ...]
    class_name: str
    flags: tuple[Flag, ...]
    categories: tuple[Category, ...]

    def walk(self) -> list[Category]:
        """This category and all below it, children before parents."""
        found: list[Category] = []
        for category in self.categories:
            found.extend(category.walk())
        found.append(self)
        return found

    def all_flags(self) -> list[Flag]:
        found = list(self.flags)
        for category in self.categories:
            found.extend(category.all_flags())
        return sorted(found, key=lambda flag: flag.key)


@dataclasses.dataclass(frozen=True)
class FlagsSchema:
    """Everything generated from one flags.toml."""

    source: str
    root: Category
    segments: tuple[Segment, ...]
    bucketing: Scheme = DEFAULT_SCHEME
    """The rollout bucketing scheme (``[tool.configgen] bucketing``)."""

    def flags(self) -> list[Flag]:
        return self.root.all_flags()
