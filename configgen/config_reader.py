"""The config.toml reader: TOML + comments -> `ConfigSchema`, or located diagnostics."""

from __future__ import annotations

import dataclasses
import datetime
import keyword
import math
import re
from pathlib import Path
from typing import Any

import tomlkit.items

from configgen import directives
from configgen.diagnostics import Diagnostic
from configgen.model import (
    ConfigSchema,
    Field,
    FieldType,
    ListOf,
    MapOf,
    Rules,
    Scalar,
    Section,
    SectionRef,
    Value,
)
from configgen.toml_source import SourceFile, read_source

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# Names the generated module defines or uses inside class bodies; a field or class
# with one of these names would shadow it.
RESERVED_FIELD_NAMES = frozenset(
    {
        "bool",
        "dataclasses",
        "datetime",
        "dict",
        "float",
        "int",
        "list",
        "Mapping",
        "str",
        "tuple",
        "typing",
    }
)
RESERVED_CLASS_NAMES = frozenset(
    {"ConfigError", "ConfigProblem", "Mapping", "Any", "Callable", "NamedTuple"}
)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ASCII_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_HINT = re.compile(r"\s*(list|dict)\s*\[(.*)\]\s*\Z")


def read_config(
    path: Path, shown_as: str, env_prefix: str
) -> tuple[ConfigSchema | None, list[Diagnostic]]:
    """Read config.toml at *path* (shown to users as *shown_as*) into a schema."""
    source, problems = read_source(path, shown_as)
    if source is None:
        return None, problems
    return _Reader(source, env_prefix).read()


def class_name_for(path: tuple[str, ...]) -> str:
    """``("server", "tls")`` -> ``ServerTls``; ``("http-client",)`` -> ``HttpClient``."""
    words = [word for part in path for word in re.split(r"[_\-]+", part) if word]
    return "".join(word[:1].upper() + word[1:] for word in words)


def type_of(value: object) -> FieldType | str:
    """Infer the field type of a plain TOML value, or return why it has none."""
    if isinstance(value, bool):
        return Scalar("bool")
    if isinstance(value, int):
        return Scalar("int")
    if isinstance(value, float):
        return Scalar("float")
    if isinstance(value, str):
        return Scalar("str")
    if isinstance(value, datetime.datetime):
        return Scalar("datetime")
    if isinstance(value, datetime.date):
        return Scalar("date")
    if isinstance(value, datetime.time):
        return Scalar("time")
    if isinstance(value, list):
        if not value:
            return "an empty array has no element type: add a hint such as '# type: list[str]'"
        if any(isinstance(item, dict) for item in value):
            return "arrays of tables are not supported: use a '# map' table of tables instead"
        types = [type_of(item) for item in value]
        for found in types:
            if isinstance(found, str):
                return found
        if any(found != types[0] for found in types):
            names = sorted({found.spelling for found in types if not isinstance(found, str)})
            return f"mixed-type array ({', '.join(names)}): every element must have the same type"
        first = types[0]
        assert not isinstance(first, str)
        return ListOf(first)
    return f"unsupported value of type {type(value).__name__}"


def parse_type_hint(text: str) -> FieldType | None:
    """Parse a ``type:`` directive: a scalar name, ``list[T]`` or ``dict[str, T]``."""
    text = text.strip()
    if text in ("str", "int", "float", "bool", "datetime", "date", "time"):
        return Scalar(text)
    match = _HINT.match(text)
    if match is None:
        return None
    outer, inner = match.groups()
    if outer == "list":
        item = parse_type_hint(inner)
        return ListOf(item) if item is not None and not isinstance(item, MapOf) else None
    key, _, value = inner.partition(",")
    if key.strip() != "str":
        return None
    item = parse_type_hint(value)
    return MapOf(item) if item is not None and not isinstance(item, MapOf) else None


def _widen(declared: FieldType, found: FieldType) -> bool:
    """Whether a value of type *found* may stand for a field declared as *declared*."""
    if declared == found:
        return True
    if isinstance(declared, Scalar) and isinstance(found, Scalar):
        return declared.kind == "float" and found.kind == "int"
    if isinstance(declared, ListOf) and isinstance(found, ListOf):
        return _widen(declared.item, found.item)
    if isinstance(declared, MapOf) and isinstance(found, MapOf):
        return _widen(declared.value, found.value)
    return False


def _coerce(declared: FieldType, value: Any) -> Any:
    if isinstance(declared, Scalar) and declared.kind == "float" and not isinstance(value, bool):
        return float(value)
    if isinstance(declared, ListOf):
        return [_coerce(declared.item, item) for item in value]
    if isinstance(declared, MapOf):
        return {key: _coerce(declared.value, item) for key, item in value.items()}
    return value


def article(spelling: str) -> str:
    """``int`` -> ``an int``; ``list[str]`` -> ``a list[str]``."""
    return f"an {spelling}" if spelling[:1] in "aeiou" else f"a {spelling}"


def _plain(item: Any) -> Any:
    value = item.unwrap() if hasattr(item, "unwrap") else item
    return value


def _check_ints(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return INT64_MIN <= value <= INT64_MAX
    if isinstance(value, list):
        return all(_check_ints(item) for item in value)
    if isinstance(value, dict):
        return all(_check_ints(item) for item in value.values())
    return True


class _Reader:
    def __init__(self, source: SourceFile, env_prefix: str) -> None:
        self.source = source
        self.env_prefix = env_prefix
        self.problems: list[Diagnostic] = []
        self.class_names: dict[str, tuple[str, int]] = {}
        self.env_vars: dict[str, tuple[str, int]] = {}
        self.entries: list[Section] = []
        self.sensitive = False

    # -- reporting -----------------------------------------------------------------

    def error(self, line: int, col: int, key: str, message: str) -> None:
        self.problems.append(Diagnostic(self.source.display_path, line, col, key, message))

    def position(self, item: Any) -> tuple[int, int]:
        """Where *item* starts; a table made by dotted keys is where its first key is."""
        found = self.source.locate(item)
        if found is not None:
            return found
        if isinstance(item, _MergedTable):
            return self.position(item.parts[0])
        if isinstance(item, (tomlkit.items.Table, tomlkit.items.InlineTable)):
            for child in item.value.values():
                return self.position(child)
        return 1, 1

    def comment_position(self, item: Any, comment: str, offset: int) -> tuple[int, int]:
        line, col = self.position(item)
        lines = self.source.text.splitlines()
        for number in range(line, min(line + 200, len(lines)) + 1):
            index = lines[number - 1].find("#" + comment) if number - 1 < len(lines) else -1
            if index >= 0:
                return number, index + 2 + offset
        return line, col

    # -- reading -------------------------------------------------------------------

    def read(self) -> tuple[ConfigSchema | None, list[Diagnostic]]:
        document = self.source.document
        if not document.body or all(key is None for key, _ in document.body):
            self.error(1, 1, "", "the file has no keys: a config.toml needs at least one key")
            return None, self.problems
        self.class_names["Config"] = ("(root)", 1)
        root = self.section(document, (), "", "", "Config", 1, 1, doc="", is_entry=False)
        self.check_shadowing([root, *self.entries])
        if self.problems:
            return None, self.problems
        schema = ConfigSchema(
            source=self.source.display_path,
            root=root,
            entries=tuple(self.entries),
            env_prefix=self.env_prefix,
            sensitive_present=self.sensitive,
        )
        return schema, []

    def check_shadowing(self, sections: list[Section]) -> None:
        """A field named like a generated class would hide the class in its class body."""
        for top in sections:
            for section in top.walk():
                for name, line, col, dotted in [
                    *((f.name, f.line, f.col, f.dotted) for f in section.fields),
                    *((s.name, s.line, s.col, s.dotted) for s in section.sections),
                ]:
                    if name in self.class_names:
                        made_by, _ = self.class_names[name]
                        self.error(line, col, dotted,
                                   f"key '{name}' would hide the class {name} generated for "
                                   f"[{made_by}]; rename one")  # fmt: skip

    def members(self, container: Any) -> list[tuple[str, Any]]:
        """The keys of a table in document order, out-of-order table parts merged."""
        body = (
            container.value.body
            if isinstance(container, (tomlkit.items.Table, tomlkit.items.InlineTable))
            else container.body
        )
        seen: dict[str, list[Any]] = {}
        for key, item in body:
            if key is None or isinstance(item, (tomlkit.items.Whitespace, tomlkit.items.Comment)):
                continue
            seen.setdefault(key.key, []).append(item)
        merged: list[tuple[str, Any]] = []
        for key, items in seen.items():
            if len(items) == 1:
                merged.append((key, items[0]))
            else:
                merged.append((key, _MergedTable(items)))
        return merged

    def directives_of(self, item: Any, dotted: str) -> directives.Directives | None:
        comment = item.trivia.comment if hasattr(item, "trivia") else ""
        text = comment[1:] if comment.startswith("#") else ""
        if not text or not directives.is_directive_comment(text):
            return directives.Directives()
        try:
            return directives.parse(text)
        except directives.DirectiveError as exc:
            line, col = self.comment_position(item, text, exc.offset)
            self.error(line, col, dotted, str(exc))
            return None

    def check_name(self, key: str, dotted: str, line: int, col: int) -> str | None:
        name = key.replace("-", "_")
        if not _ASCII_IDENTIFIER.match(name):
            self.error(
                line,
                col,
                dotted,
                f"key '{key}' is not a valid Python identifier (after '-' -> '_': '{name}'); "
                "use letters, digits, '_' and '-', not starting with a digit",
            )
            return None
        if keyword.iskeyword(name):
            self.error(
                line, col, dotted, f"key '{key}' is a Python keyword; rename it (e.g. '{name}_')"
            )
            return None
        if name.startswith("__"):
            self.error(line, col, dotted, f"key '{key}' starts with '__', which Python reserves")
            return None
        if name in RESERVED_FIELD_NAMES:
            self.error(
                line,
                col,
                dotted,
                f"key '{key}' would shadow the name '{name}' that the generated module uses; rename it",
            )
            return None
        return name

    def claim_class(self, class_name: str, dotted: str, line: int, col: int) -> bool:
        if not _ASCII_IDENTIFIER.match(class_name) or keyword.iskeyword(class_name):
            self.error(
                line,
                col,
                dotted,
                f"table [{dotted}] cannot name a class (it would be '{class_name}'); rename it",
            )
            return False
        if class_name in RESERVED_CLASS_NAMES:
            self.error(
                line,
                col,
                dotted,
                f"table [{dotted}] would generate class {class_name}, a name the generated module already defines",
            )
            return False
        if class_name in self.class_names:
            other, other_line = self.class_names[class_name]
            self.error(
                line,
                col,
                dotted,
                f"table [{dotted}] would generate class {class_name}, like [{other}] at line {other_line}; rename one",
            )
            return False
        self.class_names[class_name] = (dotted, line)
        return True

    def section(
        self,
        container: Any,
        path: tuple[str, ...],
        key: str,
        name: str,
        class_name: str,
        line: int,
        col: int,
        doc: str,
        is_entry: bool,
    ) -> Section:
        fields: list[Field] = []
        sections: list[Section] = []
        names: dict[str, str] = {}
        for child_key, item in self.members(container):
            child_path = (*path, child_key)
            dotted = ".".join(child_path)
            child_line, child_col = self.position(item)
            child_name = self.check_name(child_key, dotted, child_line, child_col)
            if child_name is None:
                continue
            if child_name in names:
                self.error(
                    child_line,
                    child_col,
                    dotted,
                    f"key '{child_key}' and key '{names[child_name]}' both become the attribute "
                    f"'{child_name}'; rename one",
                )
                continue
            names[child_name] = child_key
            found = self.directives_of(item, dotted)
            if found is None:
                continue
            is_table = isinstance(
                item, (tomlkit.items.Table, tomlkit.items.InlineTable, _MergedTable)
            )
            if isinstance(item, tomlkit.items.AoT):
                self.error(
                    child_line,
                    child_col,
                    dotted,
                    "arrays of tables are not supported: use a '# map' table of tables instead",
                )
                continue
            doc_text = self.source.comment_above(child_line)
            if is_table and "map" not in found.flags:
                if found.flags or found.env or found.type or found.rules:
                    self.error(
                        child_line,
                        child_col,
                        dotted,
                        "directives on a section header: only 'map' applies to a table "
                        "(put the others on its keys)",
                    )
                    continue
                sub_class = (
                    class_name_for(child_path)
                    if not is_entry
                    else class_name + class_name_for((child_key,))
                )
                if not self.claim_class(sub_class, dotted, child_line, child_col):
                    continue
                sections.append(
                    self.section(
                        item,
                        child_path,
                        child_key,
                        child_name,
                        sub_class,
                        child_line,
                        child_col,
                        doc_text,
                        is_entry,
                    )
                )
            elif is_entry and (found.flags or found.env or found.type or found.rules):
                self.error(
                    child_line,
                    child_col,
                    dotted,
                    "directives are not supported inside the entries of a map of tables",
                )
            else:
                field = self.field(
                    item,
                    child_path,
                    child_key,
                    child_name,
                    found,
                    doc_text,
                    child_line,
                    child_col,
                    is_entry,
                    is_table,
                )
                if field is not None:
                    fields.append(field)
        return Section(
            class_name=class_name,
            key=key,
            name=name,
            path=path,
            doc=doc,
            fields=tuple(fields),
            sections=tuple(sections),
            is_entry=is_entry,
            line=line,
            col=col,
        )

    def field(
        self,
        item: Any,
        path: tuple[str, ...],
        key: str,
        name: str,
        found: directives.Directives,
        doc: str,
        line: int,
        col: int,
        is_entry: bool,
        is_table: bool,
    ) -> Field | None:
        dotted = ".".join(path)
        hint: FieldType | None = None
        if found.type is not None:
            hint = parse_type_hint(found.type)
            if hint is None:
                self.error(
                    line,
                    col,
                    dotted,
                    f"type hint '{found.type}' is not understood: expected str, int, float, bool, "
                    "datetime, date, time, list[T] or (for a map) dict[str, T]",
                )
                return None
        if is_table:
            field_type, default = self.map_value(item, path, hint, line, col)
            if field_type is None:
                return None
        else:
            if "map" in found.flags:
                self.error(line, col, dotted, "'map' applies to tables; this key is not a table")
                return None
            default = _plain(item)
            inferred = type_of(default)
            if isinstance(inferred, str):
                if hint is None or default != []:
                    self.error(line, col, dotted, inferred)
                    return None
                inferred = hint
            if hint is not None:
                if isinstance(hint, MapOf):
                    self.error(
                        line,
                        col,
                        dotted,
                        f"type hint '{found.type}' is for map tables; this key is {article(inferred.spelling)}",
                    )
                    return None
                if not _widen(hint, inferred):
                    self.error(
                        line,
                        col,
                        dotted,
                        f"type hint '{found.type}' does not match the value, which is {article(inferred.spelling)}",
                    )
                    return None
                inferred = hint
                default = _coerce(hint, default)
            field_type = inferred
        if not _check_ints(default):
            self.error(line, col, dotted, "integer out of the 64-bit range TOML allows")
            return None
        rules = _rules_of(self, found, field_type, dotted, line, col)
        if rules is None:
            return None
        if rules and "required" not in found.flags:
            broken = rule_violation(rules, field_type, default)
            if broken is not None:
                self.error(line, col, dotted, f"the default {broken}")
                return None
        env: str | None = None
        if not is_entry:
            env = (
                found.env
                if found.env is not None
                else self.env_prefix + "_".join(part.replace("-", "_").upper() for part in path)
            )
            if not _ENV_NAME.match(env):
                self.error(line, col, dotted, f"'{env}' is not a valid environment variable name")
                return None
            if env == f"{self.env_prefix}CONFIG_FILE":
                self.error(
                    line,
                    col,
                    dotted,
                    f"'{dotted}' reads {env}, which names the config file for load_config(); "
                    "rename it or give it an 'env:' directive",
                )
                return None
            if env in self.env_vars:
                other, other_line = self.env_vars[env]
                self.error(
                    line,
                    col,
                    dotted,
                    f"'{dotted}' and '{other}' (line {other_line}) both read the environment "
                    f"variable {env}; rename one or give one an 'env:' directive",
                )
                return None
            self.env_vars[env] = (dotted, line)
        if "sensitive" in found.flags:
            self.sensitive = True
        return Field(
            key=key,
            name=name,
            path=path,
            type=field_type,
            default=None if is_entry else default,
            doc=doc,
            rules=rules,
            sensitive="sensitive" in found.flags,
            required="required" in found.flags,
            env=env,
            line=line,
            col=col,
        )

    def map_value(
        self, item: Any, path: tuple[str, ...], hint: FieldType | None, line: int, col: int
    ) -> tuple[FieldType | None, Any]:
        dotted = ".".join(path)
        members = self.members(item)
        if hint is not None and not isinstance(hint, MapOf):
            self.error(line, col, dotted, "the type hint of a map table must read 'dict[str, T]'")
            return None, None
        if not members:
            if hint is None:
                self.error(
                    line,
                    col,
                    dotted,
                    "an empty map has no value type: add a hint such as '# map, type: dict[str, str]'",
                )
                return None, None
            return hint, {}
        tables = [
            isinstance(value, (tomlkit.items.Table, tomlkit.items.InlineTable, _MergedTable))
            for _, value in members
        ]
        if any(tables):
            if not all(tables):
                self.error(
                    line, col, dotted, "map values differ in type: some are tables, some are not"
                )
                return None, None
            if hint is not None:
                self.error(
                    line,
                    col,
                    dotted,
                    "a map of tables takes its shape from its entries, not a type hint",
                )
                return None, None
            return self.map_of_tables(members, path, line, col)
        values: dict[str, Any] = {}
        value_type: FieldType | None = hint.value if isinstance(hint, MapOf) else None
        first_key = ""
        for entry_key, entry in members:
            entry_line, entry_col = self.position(entry)
            entry_value = _plain(entry)
            found = type_of(entry_value)
            if isinstance(found, str):
                if not (entry_value == [] and value_type is not None):
                    self.error(entry_line, entry_col, f"{dotted}.{entry_key}", found)
                    return None, None
                found = value_type
            assert found is not None
            if value_type is None:
                value_type, first_key = found, entry_key
            elif not _widen(value_type, found):
                where = (
                    f"'{first_key}' is {article(value_type.spelling)}"
                    if first_key
                    else f"the hint says {value_type.spelling}"
                )
                self.error(
                    entry_line,
                    entry_col,
                    f"{dotted}.{entry_key}",
                    f"map values differ in type: '{entry_key}' is {article(found.spelling)}, {where}",
                )
                return None, None
            values[entry_key] = entry_value
        assert value_type is not None
        return MapOf(value_type), _coerce(MapOf(value_type), values)

    def map_of_tables(
        self, members: list[tuple[str, Any]], path: tuple[str, ...], line: int, col: int
    ) -> tuple[FieldType | None, Any]:
        dotted = ".".join(path)
        class_name = class_name_for(path) + "Entry"
        if not self.claim_class(class_name, dotted, line, col):
            return None, None
        shapes: list[Section] = []
        for entry_key, entry in members:
            entry_line, entry_col = self.position(entry)
            before = len(self.problems)
            names = dict(self.class_names)
            shape = self.section(
                entry,
                (*path, entry_key),
                entry_key,
                entry_key,
                class_name,
                entry_line,
                entry_col,
                "",
                is_entry=True,
            )
            if len(self.problems) > before:
                return None, None
            if shapes and _shape(shape) != _shape(shapes[0]):
                self.error(
                    entry_line,
                    entry_col,
                    f"{dotted}.{entry_key}",
                    f"map values differ in type: entry '{entry_key}' has keys {_describe(shape)}, "
                    f"entry '{shapes[0].key}' has {_describe(shapes[0])}",
                )
                return None, None
            if shapes:
                self.class_names = names  # the nested classes were claimed by the first entry
            shapes.append(shape)
        first = shapes[0]
        doc = self.source.comment_above(line)
        entry_section = Section(
            class_name=class_name,
            key="",
            name="",
            path=path,
            doc=doc,
            fields=tuple(dataclass_replace_path(f, path) for f in first.fields),
            sections=first.sections,
            is_entry=True,
            line=line,
            col=col,
        )
        self.entries.append(entry_section)
        default = {key: _entry_value(entry) for key, entry in members}
        return MapOf(SectionRef(class_name)), default


class _MergedTable:
    """A table whose parts stand in several places of the file (tomlkit keeps them apart)."""

    def __init__(self, parts: list[Any]) -> None:
        self.parts = parts
        self.trivia = parts[0].trivia

    @property
    def value(self) -> Any:
        return self

    @property
    def body(self) -> list[Any]:
        return [entry for part in self.parts for entry in part.value.body]


def dataclass_replace_path(field: Field, path: tuple[str, ...]) -> Field:
    return dataclasses.replace(field, path=(*path, field.key))


def _shape(section: Section) -> tuple[Any, ...]:
    return (
        tuple((f.name, f.type) for f in section.fields),
        tuple((s.name, _shape(s)) for s in section.sections),
    )


def _describe(section: Section) -> str:
    keys = [f"{f.key}: {f.type.spelling}" for f in section.fields] + [
        s.key for s in section.sections
    ]
    return "{" + ", ".join(keys) + "}"


def _entry_value(entry: Any) -> Any:
    if isinstance(entry, _MergedTable):
        merged: dict[str, Any] = {}
        for part in entry.parts:
            merged.update(part.unwrap())
        return merged
    return entry.unwrap()


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


def _sized(field_type: FieldType) -> bool:
    return isinstance(field_type, (ListOf, MapOf)) or field_type == Scalar("str")


def rule_violation(rules: Rules, field_type: FieldType, value: Any) -> str | None:
    """Describe how *value* breaks *rules*, or return None. Mirrors the generated loader."""
    if _sized(field_type):
        size = len(value)
        if rules.min is not None and size < rules.min:
            return f"has length {size}, below min={rules.min}"
        if rules.max is not None and size > rules.max:
            return f"has length {size}, above max={rules.max}"
    else:
        if rules.min is not None and value < rules.min:
            return f"{value!r} is below min={rules.min}"
        if rules.max is not None and value > rules.max:
            return f"{value!r} is above max={rules.max}"
    if rules.pattern is not None and re.fullmatch(rules.pattern, value) is None:
        return f"{value!r} does not match pattern={rules.pattern}"
    if rules.oneof and value not in rules.oneof:
        return f"{value!r} is not one of {'|'.join(rules.oneof)}"
    return None


def _rules_of(
    reader: _Reader,
    found: directives.Directives,
    field_type: FieldType,
    dotted: str,
    line: int,
    col: int,
) -> Rules | None:
    values: dict[str, Any] = {}
    kind = field_type.kind if isinstance(field_type, Scalar) else None
    for rule, text in found.rules:
        if rule in ("min", "max"):
            if kind in ("bool", "datetime", "date", "time") or isinstance(field_type, SectionRef):
                reader.error(
                    line, col, dotted, f"'{rule}' does not apply to {article(field_type.spelling)}"
                )
                return None
            number = _number(text)
            if number is None:
                reader.error(line, col, dotted, f"'{rule}={text}' is not a number")
                return None
            if _sized(field_type) and (not isinstance(number, int) or number < 0):
                reader.error(
                    line,
                    col,
                    dotted,
                    f"'{rule}={text}' bounds a length here: it must be a whole number >= 0",
                )
                return None
            if kind == "int" and not isinstance(number, int):
                reader.error(
                    line, col, dotted, f"'{rule}={text}' must be a whole number for an int"
                )
                return None
            values[rule] = float(number) if kind == "float" else number
        elif rule == "pattern":
            if kind != "str":
                reader.error(
                    line,
                    col,
                    dotted,
                    f"'pattern' applies to strings; this key is {article(field_type.spelling)}",
                )
                return None
            try:
                re.compile(text)
            except re.error as exc:
                reader.error(
                    line, col, dotted, f"'pattern={text}' is not a valid regular expression: {exc}"
                )
                return None
            values["pattern"] = text
        else:
            if kind != "str":
                reader.error(
                    line,
                    col,
                    dotted,
                    f"'oneof' applies to strings; this key is {article(field_type.spelling)}",
                )
                return None
            choices = tuple(choice.strip() for choice in text.split("|"))
            if any(not choice for choice in choices) or len(set(choices)) != len(choices):
                reader.error(
                    line,
                    col,
                    dotted,
                    f"'oneof={text}' needs distinct, non-empty choices separated by '|'",
                )
                return None
            values["oneof"] = choices
    rules = Rules(**values)
    if rules.min is not None and rules.max is not None and rules.min > rules.max:
        reader.error(line, col, dotted, f"min={rules.min} is greater than max={rules.max}")
        return None
    return rules


__all__ = ["Value", "class_name_for", "parse_type_hint", "read_config", "rule_violation", "type_of"]
