"""The flags.toml reader: ``[flags.*]`` and ``[segments.*]`` -> `FlagsSchema`, or diagnostics."""

from __future__ import annotations

import datetime
import difflib
import keyword
import re
from pathlib import Path
from typing import Any

import tomlkit.items

from configgen.config_reader import INT64_MAX, INT64_MIN, article, class_name_for
from configgen.diagnostics import Diagnostic, Severity
from configgen.model import FLAG_KINDS, Category, Flag, FlagsSchema, Segment
from configgen.toml_source import SourceFile, read_source

FLAG_KEYS = ("default", "description", "expires", "rollout", "segments", "type", "users", "values")
SEGMENT_KEYS = ("attribute", "in", "users")
# Members of the generated Flags class; a flag or category of the same name would hide one.
RESERVED_ROOT_NAMES = frozenset({"fallbacks", "refresh", "store"})
RESERVED_TYPE_NAMES = frozenset(
    {
        "CompositeStore",
        "EvaluationContext",
        "FileStore",
        "FlagStore",
        "Flags",
        "MemoryStore",
        "Literal",
        "Mapping",
        "Callable",
        "Protocol",
        "Any",
    }
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_TABLES = (tomlkit.items.Table, tomlkit.items.InlineTable)


def read_flags(path: Path, shown_as: str) -> tuple[FlagsSchema | None, list[Diagnostic]]:
    """Read flags.toml at *path* (shown to users as *shown_as*) into a schema."""
    source, problems = read_source(path, shown_as)
    if source is None:
        return None, problems
    return _Reader(source).read()


def expired(schema: FlagsSchema, today: datetime.date, *, strict: bool) -> list[Diagnostic]:
    """A diagnostic for each flag whose ``expires`` date has passed."""
    severity: Severity = "error" if strict else "warning"
    return [
        Diagnostic(
            schema.source,
            flag.line,
            flag.col,
            f"flags.{flag.key}",
            f"expired on {flag.expires.isoformat()}: the getter now returns the default "
            f"{flag.default!r}; remove the flag or move its date",
            severity,
        )
        for flag in schema.flags()
        if flag.expires is not None and today > flag.expires
    ]


def _suggest(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _members(table: Any) -> list[tuple[str, Any]]:
    body = table.value.body if isinstance(table, _TABLES) else table.body
    merged: dict[str, Any] = {}
    for key, item in body:
        if key is None or isinstance(item, (tomlkit.items.Whitespace, tomlkit.items.Comment)):
            continue
        merged.setdefault(key.key, item)
    return list(merged.items())


def _spelling(value: object) -> str:
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, int):
        return "an int"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, datetime.datetime):
        return "a datetime"
    if isinstance(value, datetime.date):
        return "a date"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return article(type(value).__name__)


class _Reader:
    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.problems: list[Diagnostic] = []
        self.names: dict[str, str] = {}  # generated type names -> what made them

    def error(self, item: Any, key: str, message: str) -> None:
        line, col = self.position(item)
        self.problems.append(Diagnostic(self.source.display_path, line, col, key, message))

    def position(self, item: Any) -> tuple[int, int]:
        found = self.source.locate(item)
        if found is not None:
            return found
        if isinstance(item, _TABLES):
            for _, child in _members(item):
                return self.position(child)
        return 1, 1

    def read(self) -> tuple[FlagsSchema | None, list[Diagnostic]]:
        document = self.source.document
        flags_table: Any = None
        segments: list[Segment] = []
        for key, item in _members(document):
            if key == "flags" and isinstance(item, _TABLES):
                flags_table = item
            elif key == "segments" and isinstance(item, _TABLES):
                segments = self.segments(item)
            else:
                self.error(
                    item,
                    key,
                    "unknown top-level key: flags.toml holds [flags.NAME] tables "
                    "and [segments.NAME] tables",
                )
        known_segments = {segment.name for segment in segments}
        if flags_table is None:
            root = Category("", (), "Flags", (), ())
            if not self.problems:
                self.error(
                    document,
                    "flags",
                    "no flags: add a [flags.NAME] table with a type and a default",
                )
        else:
            root = self.category(flags_table, (), (), known_segments)
        if self.problems:
            return None, self.problems
        self.check_keywords(root)
        if self.problems:
            return None, self.problems
        return FlagsSchema(self.source.display_path, root, tuple(segments)), []

    def segments(self, table: Any) -> list[Segment]:
        found: list[Segment] = []
        for name, item in _members(table):
            dotted = f"segments.{name}"
            if not isinstance(item, _TABLES):
                self.error(
                    item,
                    dotted,
                    "a segment is a table: [segments.NAME] with users = [...] "
                    'or attribute = "..." and in = [...]',
                )
                continue
            values = {key: value for key, value in _members(item)}
            unknown = [key for key in values if key not in SEGMENT_KEYS]
            for key in unknown:
                self.error(
                    values[key],
                    f"{dotted}.{key}",
                    f"unknown key in a segment{_suggest(key, SEGMENT_KEYS)}; a segment has "
                    "'users', or 'attribute' and 'in'",
                )
            if unknown:
                continue
            has_users = "users" in values
            has_attribute = "attribute" in values or "in" in values
            if has_users == has_attribute:
                self.error(
                    item,
                    dotted,
                    "a segment needs either 'users' or 'attribute' with 'in', "
                    + ("not both" if has_users else "and has neither"),
                )
                continue
            line, col = self.position(item)
            if has_users:
                users = self.strings(values["users"], f"{dotted}.users")
                if users is not None:
                    found.append(Segment(name, users, None, (), line, col))
                continue
            attribute = values.get("attribute")
            choices = values.get("in")
            if (
                attribute is None
                or not isinstance(attribute.unwrap(), str)
                or not attribute.unwrap()
            ):
                self.error(
                    attribute if attribute is not None else item,
                    f"{dotted}.attribute",
                    "'attribute' must name the context attribute to match, as a string",
                )
                continue
            plain = choices.unwrap() if choices is not None else None
            if (
                not isinstance(plain, list)
                or not plain
                or not all(isinstance(v, (str, int, float, bool)) for v in plain)
            ):
                self.error(
                    choices if choices is not None else item,
                    f"{dotted}.in",
                    "'in' must be a non-empty array of the attribute's accepted values",
                )
                continue
            found.append(Segment(name, (), attribute.unwrap(), tuple(plain), line, col))
        return found

    def strings(self, item: Any, key: str) -> tuple[str, ...] | None:
        value = item.unwrap()
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.error(
                item,
                key,
                f"expected an array of non-empty strings, got {_spelling(value)}"
                if not isinstance(value, list)
                else "expected an array of non-empty strings",
            )
            return None
        return tuple(value)

    def check_name(self, item: Any, key: str, dotted: str, at_root: bool) -> str | None:
        name = key.replace("-", "_")
        problem = None
        if not _IDENTIFIER.match(name):
            problem = (
                f"'{key}' is not a valid Python identifier (after '-' -> '_': '{name}'); "
                "use letters, digits, '_' and '-', not starting with a digit"
            )
        elif keyword.iskeyword(name):
            problem = f"'{key}' is a Python keyword; rename it (e.g. '{name}_')"
        elif name.startswith("_"):
            problem = f"'{key}' starts with '_': flag and category names start with a letter"
        elif at_root and name in RESERVED_ROOT_NAMES:
            problem = f"'{key}' would hide Flags.{name}(); rename it"
        if problem is not None:
            self.error(item, dotted, problem)
            return None
        return name

    def claim(self, name: str, item: Any, dotted: str, what: str) -> bool:
        if not _IDENTIFIER.match(name):
            self.error(
                item,
                dotted,
                f"{what} cannot name a class (it would be '{name}'); start its name with a letter",
            )
            return False
        if name in RESERVED_TYPE_NAMES:
            self.error(
                item,
                dotted,
                f"{what} would generate the name {name}, which the module already defines",
            )
            return False
        if name in self.names:
            self.error(
                item,
                dotted,
                f"{what} would generate the name {name}, as {self.names[name]} does; rename one",
            )
            return False
        self.names[name] = f"[{dotted}]"
        return True

    def category(
        self, table: Any, path: tuple[str, ...], keys: tuple[str, ...], segments: set[str]
    ) -> Category:
        flags: list[Flag] = []
        categories: list[Category] = []
        seen: dict[str, str] = {}
        for key, item in _members(table):
            dotted = "flags." + ".".join((*keys, key))
            if not isinstance(item, _TABLES):
                self.error(
                    item,
                    dotted,
                    f"expected a table [{dotted}] with a type and a default, "
                    f"got {_spelling(item.unwrap())}",
                )
                continue
            name = self.check_name(item, key, dotted, at_root=not path)
            if name is None:
                continue
            if name in seen:
                self.error(
                    item, dotted, f"'{key}' and '{seen[name]}' both become '{name}'; rename one"
                )
                continue
            seen[name] = key
            if "type" in item:
                flag = self.flag(item, (*path, name), (*keys, key), segments)
                if flag is not None:
                    flags.append(flag)
            else:
                class_name = class_name_for((*path, name)) + "Flags"
                if self.claim(class_name, item, dotted, "the category"):
                    categories.append(self.category(item, (*path, name), (*keys, key), segments))
        class_name = class_name_for(path) + "Flags" if path else "Flags"
        return Category(
            path[-1] if path else "",
            path,
            class_name,
            tuple(sorted(flags, key=lambda f: f.name)),
            tuple(sorted(categories, key=lambda c: c.name)),
        )

    def flag(
        self, table: Any, path: tuple[str, ...], keys: tuple[str, ...], known_segments: set[str]
    ) -> Flag | None:
        key = ".".join(path)
        dotted = "flags." + ".".join(keys)
        items = dict(_members(table))
        before = len(self.problems)
        for name, item in items.items():
            if isinstance(item, _TABLES):
                self.error(
                    item,
                    f"{dotted}.{name}",
                    f"[{dotted}] is a flag (it has a type), so it cannot also be a category "
                    f"holding '{name}'; a flag and a category cannot share a name",
                )
            elif name not in FLAG_KEYS:
                self.error(
                    item,
                    f"{dotted}.{name}",
                    f"unknown key in a flag{_suggest(name, FLAG_KEYS)}; a flag has "
                    f"{', '.join(FLAG_KEYS)}",
                )
        if len(self.problems) > before:
            return None
        kind_item = items["type"]
        kind = kind_item.unwrap()
        if kind not in FLAG_KINDS:
            self.error(
                kind_item,
                f"{dotted}.type",
                f"unknown type {kind!r}{_suggest(str(kind), FLAG_KINDS)}; expected one of "
                f"{', '.join(FLAG_KINDS)}",
            )
            return None
        values: tuple[str, ...] = ()
        if kind == "enum":
            if "values" not in items:
                self.error(table, dotted, 'an enum flag needs values = ["a", "b", ...]')
                return None
            raw_values = items["values"].unwrap()
            if (
                not isinstance(raw_values, list)
                or not raw_values
                or not all(isinstance(v, str) and v for v in raw_values)
            ):
                self.error(
                    items["values"],
                    f"{dotted}.values",
                    "an enum's values must be a non-empty array of non-empty strings",
                )
                return None
            duplicates = sorted({v for v in raw_values if raw_values.count(v) > 1})
            if duplicates:
                self.error(
                    items["values"],
                    f"{dotted}.values",
                    f"an enum's values must differ: {', '.join(map(repr, duplicates))} "
                    "given more than once",
                )
                return None
            values = tuple(raw_values)
        elif "values" in items:
            self.error(
                items["values"],
                f"{dotted}.values",
                f"'values' is for enum flags; this flag is {kind}",
            )
            return None
        if "default" not in items:
            self.error(table, dotted, f"a flag needs a default ({article(kind)} value)")
            return None
        default = self.default(items["default"], f"{dotted}.default", kind, values)
        if default is None:
            return None
        description = ""
        if "description" in items:
            text = items["description"].unwrap()
            if not isinstance(text, str):
                self.error(
                    items["description"],
                    f"{dotted}.description",
                    f"'description' must be a string, not {_spelling(text)}",
                )
                return None
            description = text
        expires = None
        if "expires" in items:
            value = items["expires"].unwrap()
            if isinstance(value, datetime.datetime) or not isinstance(value, datetime.date):
                self.error(
                    items["expires"],
                    f"{dotted}.expires",
                    f"'expires' must be a date such as 2027-03-01, not {_spelling(value)}",
                )
                return None
            expires = value
        users: tuple[str, ...] = ()
        segments: tuple[str, ...] = ()
        rollout: float | None = None
        for targeting in ("users", "segments", "rollout"):
            if targeting in items and kind != "bool":
                self.error(
                    items[targeting],
                    f"{dotted}.{targeting}",
                    f"'{targeting}' targets bool flags; this flag is {kind}",
                )
                return None
        if "users" in items:
            found_users = self.strings(items["users"], f"{dotted}.users")
            if found_users is None:
                return None
            users = found_users
        if "segments" in items:
            found_segments = self.strings(items["segments"], f"{dotted}.segments")
            if found_segments is None:
                return None
            unknown = [s for s in found_segments if s not in known_segments]
            if unknown:
                hint = _suggest(unknown[0], tuple(sorted(known_segments)))
                self.error(
                    items["segments"],
                    f"{dotted}.segments",
                    f"unknown segment '{unknown[0]}'{hint}; define it as [segments.{unknown[0]}]",
                )
                return None
            segments = found_segments
        if "rollout" in items:
            value = items["rollout"].unwrap()
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 <= value <= 100
            ):
                self.error(
                    items["rollout"],
                    f"{dotted}.rollout",
                    f"'rollout' is a percentage from 0 to 100, got {value!r}",
                )
                return None
            rollout = float(value)
        line, col = self.position(table)
        return Flag(
            key=key,
            name=path[-1],
            path=path,
            kind=kind,
            default=default,
            description=description,
            expires=expires,
            users=users,
            segments=segments,
            rollout=rollout,
            values=values,
            line=line,
            col=col,
        )

    def default(self, item: Any, key: str, kind: str, values: tuple[str, ...]) -> Any:
        value = item.unwrap()
        expected = {
            "bool": "a bool",
            "int": "an int",
            "float": "a number",
            "string": "a string",
            "enum": "one of the values",
            "percent": "a percentage from 0 to 100",
        }[kind]
        ok = {
            "bool": isinstance(value, bool),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, (int, float)) and not isinstance(value, bool),
            "string": isinstance(value, str),
            "enum": isinstance(value, str),
            "percent": isinstance(value, (int, float)) and not isinstance(value, bool),
        }[kind]
        if not ok:
            self.error(
                item,
                key,
                f"the default of {article(kind)} flag must be {expected}, not {_spelling(value)} {value!r}",
            )
            return None
        if kind == "int" and not INT64_MIN <= value <= INT64_MAX:
            self.error(item, key, "integer out of the 64-bit range TOML allows")
            return None
        if kind == "enum" and value not in values:
            self.error(
                item,
                key,
                f"the default {value!r} is not one of the values {', '.join(map(repr, values))}",
            )
            return None
        if kind == "percent" and not 0 <= value <= 100:
            self.error(
                item, key, f"a percent flag's default is a percentage from 0 to 100, got {value!r}"
            )
            return None
        if kind in ("float", "percent"):
            return float(value)
        return value

    def check_keywords(self, root: Category) -> None:
        """``test_flags_with`` takes one keyword per flag: its path joined by '_'."""
        seen: dict[str, Flag] = {}
        for flag in root.all_flags():

            def fail(message: str, flag: Flag = flag) -> None:
                self.problems.append(Diagnostic(
                    self.source.display_path, flag.line, flag.col, f"flags.{flag.key}", message
                ))  # fmt: skip

            keyword_name = "_".join(flag.path)
            if keyword_name in seen:
                fail(f"'{flag.key}' and '{seen[keyword_name].key}' would both be "
                     f"test_flags_with({keyword_name}=...); rename one")  # fmt: skip
            seen[keyword_name] = flag
            if flag.kind == "enum":
                alias = class_name_for(flag.path)
                if not _IDENTIFIER.match(alias) or keyword.iskeyword(alias):
                    fail(f"the values of '{flag.key}' would be named '{alias}', not a valid "
                         "name; rename the flag")  # fmt: skip
                elif alias in RESERVED_TYPE_NAMES or alias in self.names:
                    fail(f"the values of '{flag.key}' would be named {alias}, a name already "
                         "in use; rename it")  # fmt: skip
                self.names[alias] = flag.key
