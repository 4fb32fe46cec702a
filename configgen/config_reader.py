"""The config.toml reader: TOML + comments -> `ConfigSchema`, or located diagnostics.

It stands on `configgen.reading` (merged tables, positions, collected problems, claimed
names); identifier rules and reserved names are `configgen.naming`'s, types
`configgen.fieldtypes`' and validation rules `configgen.rules`'.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import tomlkit.items

from configgen import directives, naming, rules
from configgen.diagnostics import Diagnostic
from configgen.fieldtypes import (
    article,
    coerce,
    fits_int64,
    parse_type_hint,
    type_of,
    widens,
)
from configgen.model import (
    ConfigSchema,
    Field,
    FieldType,
    ListOf,
    MapOf,
    Section,
    SectionRef,
)
from configgen.naming import class_name_for
from configgen.reading import (
    ReaderBase,
    Reject,
    Reported,
    TypeNameMessages,
    is_table,
    members,
    plain,
)
from configgen.toml_source import SourceFile, parse_source, read_source


def read_config(
    path: Path, shown_as: str, env_prefix: str
) -> tuple[ConfigSchema | None, list[Diagnostic]]:
    """Read config.toml at *path* (shown to users as *shown_as*) into a schema."""
    source, problems = read_source(path, shown_as)
    if source is None:
        return None, problems
    return _Reader(source, env_prefix).read()


def parse_config(
    text: str, shown_as: str, env_prefix: str
) -> tuple[ConfigSchema | None, list[Diagnostic]]:
    """Read config.toml from *text* (an editor's unsaved buffer) as `read_config` reads a file."""
    source, problems = parse_source(text.removeprefix("\ufeff"), shown_as)
    if source is None:
        return None, problems
    return _Reader(source, env_prefix).read()


@dataclasses.dataclass(frozen=True)
class _Place:
    """Where a table is read: its TOML path, and what shapes its generated class."""

    path: tuple[str, ...]
    class_name: str
    shape: tuple[str, ...]  # the path with each map or array entry as '*'
    in_entry: bool  # inside an entry of a map or array of tables: no defaults, no env

    def child(self, key: str) -> _Place:
        class_name = (
            self.class_name + class_name_for((key,))
            if self.in_entry
            else class_name_for((*self.path, key))
        )
        return _Place((*self.path, key), class_name, (*self.shape, key), self.in_entry)


def _is_array_of_tables(item: Any) -> bool:
    if isinstance(item, tomlkit.items.AoT):
        return True
    return (
        isinstance(item, tomlkit.items.Array)
        and len(item) > 0
        and all(isinstance(element, tomlkit.items.InlineTable) for element in item)
    )


class _Reader(ReaderBase):
    def __init__(self, source: SourceFile, env_prefix: str) -> None:
        super().__init__(source)
        self.env_prefix = env_prefix
        self.env_vars: dict[str, tuple[str, int]] = {}
        self.entries: list[Section] = []
        self.entry_sections: dict[str, Section] = {}
        self.sensitive = False
        self.pattern_checks: list[tuple[str, str, tuple[int, int], str]] = []

    def read(self) -> tuple[ConfigSchema | None, list[Diagnostic]]:
        document = self.source.document
        if not document.body or all(key is None for key, _ in document.body):
            self.report((1, 1), "", "the file has no keys: a config.toml needs at least one key")
            return None, self.problems
        self.claimed["Config"] = ("", "[(root)] at line 1")
        root = self.section(document, _Place((), "Config", (), False), "", "", (1, 1), "")
        self.check_shadowing([root, *self.entries])
        self.check_patterns()
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
                    if name in self.claimed:
                        made_by = self.claimed[name][1].rsplit(" at line ", 1)[0]
                        self.report((line, col), dotted,
                                    f"key '{name}' would hide the class {name} generated for "
                                    f"{made_by}; rename one")  # fmt: skip

    def check_patterns(self) -> None:
        """Defaults against their patterns, all at once and with a time limit."""
        pairs = [(pattern, value) for pattern, value, _, _ in self.pattern_checks]
        for (pattern, value, where, dotted), matched in zip(
            self.pattern_checks, rules.fullmatches(pairs), strict=True
        ):
            if matched is None:
                self.report(where, dotted,
                            f"checking the default {value!r} against pattern={pattern} took over "
                            f"{rules.PATTERN_CHECK_SECONDS:g} s (the pattern backtracks "
                            "catastrophically); simplify the pattern")  # fmt: skip
            elif not matched:
                self.report(
                    where, dotted, f"the default {value!r} does not match pattern={pattern}"
                )

    # -- names and directives --------------------------------------------------------

    def directives_of(
        self, item: Any, dotted: str, where: tuple[int, int]
    ) -> directives.Directives:
        comment = item.trivia.comment if hasattr(item, "trivia") else ""
        text = comment[1:] if comment.startswith("#") else ""
        if not text or not directives.is_directive_comment(text):
            return directives.Directives()
        try:
            return directives.parse(text)
        except directives.DirectiveError as exc:
            message = str(exc)
            respelled = directives.respell(text)
            if respelled is not None:
                message += f"; did you mean '# {respelled}'?"
            raise Reject(self.comment_position(where, text, exc.offset), dotted, message) from None

    def comment_position(
        self, where: tuple[int, int], comment: str, offset: int
    ) -> tuple[int, int]:
        line, col = where
        lines = self.source.text.splitlines()
        for number in range(line, min(line + 200, len(lines)) + 1):
            index = lines[number - 1].find("#" + comment)
            if index >= 0:
                return number, index + 2 + offset
        return line, col

    def name_of(self, key: str, dotted: str, where: tuple[int, int], at_root: bool) -> str:
        name = naming.attribute_name(key)
        problem = naming.identifier_problem(key)
        if problem is not None:
            raise Reject(where, dotted, f"key {problem}")
        if name.startswith("__"):
            raise Reject(where, dotted, f"key '{key}' starts with '__', which Python reserves")
        taken = naming.SECTION_BODY_NAMES | (naming.TEST_CONFIG_LOCALS if at_root else frozenset())
        if name in taken:
            raise Reject(where, dotted,
                         f"key '{key}' would shadow the name '{name}' that the generated module "
                         "uses; rename it")  # fmt: skip
        return name

    def claim_class(self, place: _Place, dotted: str, where: tuple[int, int]) -> None:
        says = TypeNameMessages(
            invalid=f"table [{dotted}] cannot name a class (it would be '{{name}}'); rename it",
            reserved=f"table [{dotted}] would generate class {{name}}, a name the generated "
            "module already defines",
            taken=f"table [{dotted}] would generate class {{name}}, like {{other}}; rename one",
        )
        shown = f"[{dotted}] at line {where[0]}"
        self.claim_type(place.class_name, ".".join(place.shape), shown, where, dotted, says)

    # -- tables ----------------------------------------------------------------------

    def section(
        self, container: Any, place: _Place, key: str, name: str, where: tuple[int, int], doc: str
    ) -> Section:
        fields: list[Field] = []
        sections: list[Section] = []
        names: dict[str, str] = {}
        for child_key, item in members(container):
            read = self.attempt(self.member, place, child_key, item, names)
            if isinstance(read, Section):
                sections.append(read)
            elif isinstance(read, Field):
                fields.append(read)
        return Section(
            class_name=place.class_name,
            key=key,
            name=name,
            path=place.path,
            doc=doc,
            fields=tuple(fields),
            sections=tuple(sections),
            is_entry=place.in_entry,
            line=where[0],
            col=where[1],
        )

    def member(
        self, place: _Place, key: str, item: Any, names: dict[str, str]
    ) -> Field | Section | None:
        """One key of a table: a field, a nested section, or a reported problem."""
        child = place.child(key)
        dotted = ".".join(child.path)
        where = self.position(item)
        name = self.name_of(key, dotted, where, at_root=not place.path)
        if name in names:
            raise Reject(where, dotted,
                         f"key '{key}' and key '{names[name]}' both become the attribute "
                         f"'{name}'; rename one")  # fmt: skip
        names[name] = key
        found = self.directives_of(item, dotted, where)
        doc = self.source.comment_above(where[0])
        if is_table(item) and "map" not in found.flags:
            if found != directives.Directives():
                raise Reject(where, dotted,
                             "directives on a section header: only 'map' applies to a table "
                             "(put the others on its keys)")  # fmt: skip
            self.claim_class(child, dotted, where)
            return self.section(item, child, key, name, where, doc)
        if place.in_entry and found != directives.Directives():
            raise Reject(where, dotted,
                         "directives are not supported inside the entries of a map or an "
                         "array of tables")  # fmt: skip
        return self.field(item, child, key, name, found, doc, where)

    # -- fields ----------------------------------------------------------------------

    def field(
        self,
        item: Any,
        place: _Place,
        key: str,
        name: str,
        found: directives.Directives,
        doc: str,
        where: tuple[int, int],
    ) -> Field:
        dotted = ".".join(place.path)
        hint = self.hint(found, dotted, where)
        if is_table(item):
            field_type, default = self.map_value(item, place, hint, where)
        elif "map" in found.flags:
            raise Reject(where, dotted, "'map' applies to tables; this key is not a table")
        elif _is_array_of_tables(item):
            if hint is not None:
                raise Reject(where, dotted,
                             "an array of tables takes its shape from its entries, not a type "
                             "hint")  # fmt: skip
            field_type, default = self.array_of_tables(item, place, where)
        else:
            field_type, default = self.value(plain(item), hint, found, dotted, where)
        if not fits_int64(default):
            raise Reject(where, dotted, "integer out of the 64-bit range TOML allows")
        try:
            found_rules = rules.read_rules(found.rules, field_type)
        except rules.RuleError as exc:
            raise Reject(where, dotted, str(exc)) from None
        if found_rules and "required" not in found.flags:
            broken = rules.violation(found_rules, field_type, default)
            if broken is not None:
                raise Reject(where, dotted, f"the default {broken}")
            if found_rules.pattern is not None:
                self.pattern_checks.append((found_rules.pattern, default, where, dotted))
        env = None if place.in_entry else self.env_of(found, place.path, dotted, where)
        if "sensitive" in found.flags:
            self.sensitive = True
        return Field(
            key=key,
            name=name,
            path=place.path,
            type=field_type,
            default=None if place.in_entry else default,
            doc=doc,
            rules=found_rules,
            sensitive="sensitive" in found.flags,
            required="required" in found.flags,
            env=env,
            line=where[0],
            col=where[1],
        )

    def hint(
        self, found: directives.Directives, dotted: str, where: tuple[int, int]
    ) -> FieldType | None:
        if found.type is None:
            return None
        hint = parse_type_hint(found.type)
        if hint is None:
            raise Reject(where, dotted,
                         f"type hint '{found.type}' is not understood: expected str, int, float, "
                         "bool, datetime, date, time, list[T] or (for a map) dict[str, T]")  # fmt: skip
        return hint

    def value(
        self,
        default: Any,
        hint: FieldType | None,
        found: directives.Directives,
        dotted: str,
        where: tuple[int, int],
    ) -> tuple[FieldType, Any]:
        """The type and default of a plain key, from its value and its ``type:`` hint."""
        inferred = type_of(default)
        if isinstance(inferred, str):
            if hint is None or default != []:
                raise Reject(where, dotted, inferred)
            if not isinstance(hint, ListOf):
                raise Reject(where, dotted,
                             f"type hint '{found.type}' does not match the value, which is an "
                             "empty array: an array's hint reads 'list[T]'")  # fmt: skip
            inferred = hint
        if hint is None:
            return inferred, default
        if isinstance(hint, MapOf):
            raise Reject(where, dotted,
                         f"type hint '{found.type}' is for map tables; this key is "
                         f"{article(inferred.spelling)}")  # fmt: skip
        if not widens(hint, inferred):
            raise Reject(where, dotted,
                         f"type hint '{found.type}' does not match the value, which is "
                         f"{article(inferred.spelling)}")  # fmt: skip
        return hint, self.coerced(hint, default, dotted, where)

    def coerced(self, declared: FieldType, value: Any, dotted: str, where: tuple[int, int]) -> Any:
        try:
            return coerce(declared, value)
        except OverflowError:
            raise Reject(where, dotted,
                         f"a number is too large for {article(declared.spelling)}: floats reach "
                         "about 1.8e308") from None  # fmt: skip
        except RecursionError:
            raise Reject(where, dotted, "the value is nested too deeply") from None

    def env_of(
        self,
        found: directives.Directives,
        path: tuple[str, ...],
        dotted: str,
        where: tuple[int, int],
    ) -> str:
        """The environment variable of a field, claimed for it alone."""
        env = (
            found.env
            if found.env is not None
            else self.env_prefix + "_".join(part.replace("-", "_").upper() for part in path)
        )
        if not naming.IDENTIFIER.match(env):
            raise Reject(where, dotted, f"'{env}' is not a valid environment variable name")
        if env == f"{self.env_prefix}CONFIG_FILE":
            raise Reject(where, dotted,
                         f"'{dotted}' reads {env}, which names the config file for load_config(); "
                         "rename it or give it an 'env:' directive")  # fmt: skip
        if env in self.env_vars:
            other, other_line = self.env_vars[env]
            raise Reject(where, dotted,
                         f"'{dotted}' and '{other}' (line {other_line}) both read the environment "
                         f"variable {env}; rename one or give one an 'env:' directive")  # fmt: skip
        self.env_vars[env] = (dotted, where[0])
        return env

    # -- maps and arrays of tables -----------------------------------------------------

    def map_value(
        self, item: Any, place: _Place, hint: FieldType | None, where: tuple[int, int]
    ) -> tuple[FieldType, Any]:
        dotted = ".".join(place.path)
        entries = members(item)
        if hint is not None and not isinstance(hint, MapOf):
            raise Reject(where, dotted, "the type hint of a map table must read 'dict[str, T]'")
        if not entries:
            if hint is None:
                raise Reject(where, dotted,
                             "an empty map has no value type: add a hint such as "
                             "'# map, type: dict[str, str]'")  # fmt: skip
            return hint, {}
        tables = [is_table(value) for _, value in entries]
        if any(tables):
            if not all(tables):
                raise Reject(where, dotted,
                             "map values differ in type: some are tables, some are not")  # fmt: skip
            if hint is not None:
                raise Reject(where, dotted,
                             "a map of tables takes its shape from its entries, not a type hint")  # fmt: skip
            entry_type = self.entry_class(entries, place, "Entry", where)
            return MapOf(entry_type), {key: plain(entry) for key, entry in entries}
        return self.map_of_values(entries, dotted, hint)

    def map_of_values(
        self, entries: list[tuple[str, Any]], dotted: str, hint: FieldType | None
    ) -> tuple[FieldType, Any]:
        values: dict[str, Any] = {}
        value_type: FieldType | None = hint.value if isinstance(hint, MapOf) else None
        first_key = ""
        for entry_key, entry in entries:
            where = self.position(entry)
            entry_value = plain(entry)
            found = type_of(entry_value)
            if isinstance(found, str):
                if not (entry_value == [] and isinstance(value_type, ListOf)):
                    raise Reject(where, f"{dotted}.{entry_key}", found)
                found = value_type
            if value_type is None:
                value_type, first_key = found, entry_key
            elif not widens(value_type, found):
                other = (
                    f"'{first_key}' is {article(value_type.spelling)}"
                    if first_key
                    else f"the hint says {value_type.spelling}"
                )
                raise Reject(where, f"{dotted}.{entry_key}",
                             f"map values differ in type: '{entry_key}' is "
                             f"{article(found.spelling)}, {other}")  # fmt: skip
            values[entry_key] = entry_value
        assert value_type is not None
        where = self.position(entries[0][1])
        return MapOf(value_type), self.coerced(MapOf(value_type), values, dotted, where)

    def array_of_tables(
        self, item: Any, place: _Place, where: tuple[int, int]
    ) -> tuple[FieldType, Any]:
        elements = list(item.body if isinstance(item, tomlkit.items.AoT) else item)
        entries = [(str(index), element) for index, element in enumerate(elements)]
        entry_type = self.entry_class(entries, place, "Item", where)
        return ListOf(entry_type), [plain(element) for element in elements]

    def entry_class(
        self, entries: list[tuple[str, Any]], place: _Place, suffix: str, where: tuple[int, int]
    ) -> SectionRef:
        """One class for every entry of a map or array of tables; they must share a shape."""
        dotted = ".".join(place.path)
        entry_place = _Place(place.path, place.class_name + suffix, (*place.shape, "*"),
                             in_entry=True)  # fmt: skip
        self.claim_class(entry_place, dotted, where)
        shapes: list[Section] = []
        failed = False
        for entry_key, entry in entries:
            entry_where = self.position(entry)
            if self.attempt(self.no_directives, entry, f"{dotted}.{entry_key}", entry_where):
                failed = True
                continue
            before = len(self.problems)
            shape = self.section(
                entry,
                dataclasses.replace(entry_place, path=(*place.path, entry_key)),
                entry_key,
                entry_key,
                entry_where,
                "",
            )
            if len(self.problems) > before:
                failed = True
            elif shapes and _shape(shape) != _shape(shapes[0]):
                what = "map values differ in type: entry" if suffix == "Entry" else "entry"
                self.report(entry_where, f"{dotted}.{entry_key}",
                            f"{what} '{entry_key}' has keys {_describe(shape)}, entry "
                            f"'{shapes[0].key}' has {_describe(shapes[0])}"
                            + ("" if suffix == "Entry" else
                               ": every table of an array has the same keys and types"))  # fmt: skip
                failed = True
            elif not shapes:
                shapes.append(shape)
        if failed or not shapes:
            raise Reported
        first = shapes[0]
        section = Section(
            class_name=entry_place.class_name,
            key="",
            name="",
            path=place.path,
            doc=self.source.comment_above(where[0]),
            fields=tuple(dataclasses.replace(f, path=(*place.path, f.key)) for f in first.fields),
            sections=first.sections,
            is_entry=True,
            line=where[0],
            col=where[1],
        )
        # inside the entries of an outer map or array, every entry of the outer one
        # reaches this class again: all of them must agree with the first
        known = self.entry_sections.setdefault(section.class_name, section)
        if known is section:
            self.entries.append(section)
        elif _shape(known) != _shape(section):
            raise Reject(where, dotted,
                         f"the tables here have keys {_describe(section)}, those at line "
                         f"{known.line} have {_describe(known)}: they share one class, so they "
                         "must have the same keys and types")  # fmt: skip
        return SectionRef(entry_place.class_name)

    def no_directives(self, entry: Any, dotted: str, where: tuple[int, int]) -> bool:
        """The header of a map entry or of an array's table takes no directives."""
        if self.directives_of(entry, dotted, where) != directives.Directives():
            raise Reject(where, dotted,
                         "directives are not supported on the entries of a map or an array of "
                         "tables (put them on the map's header, or leave them out)")  # fmt: skip
        return False


def _shape(section: Section) -> tuple[Any, ...]:
    return (
        tuple((f.name, f.type) for f in section.fields),
        tuple((s.name, _shape(s)) for s in section.sections),
    )


def _describe(section: Section) -> str:
    keys = [f"{f.key}: {f.type.spelling}" for f in section.fields] + [
        f"{s.key}: {_describe(s)}" for s in section.sections
    ]
    return "{" + ", ".join(keys) + "}"


__all__ = ["read_config"]
