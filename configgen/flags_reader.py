"""The flags.toml reader: ``[flags.*]`` and ``[segments.*]`` -> `FlagsSchema`, or diagnostics."""

from __future__ import annotations

import datetime
import math
from pathlib import Path
from typing import Any

from configgen import naming
from configgen.diagnostics import Diagnostic, Severity, did_you_mean
from configgen.fieldtypes import INT64_MAX, INT64_MIN, article
from configgen.model import FLAG_KINDS, Category, Flag, FlagsSchema, Segment
from configgen.naming import class_name_for
from configgen.reading import ReaderBase, Reject, TypeNameMessages, is_table, members
from configgen.toml_source import SourceFile, parse_source, read_source

FLAG_KEYS = (
    "default",
    "description",
    "expires",
    "permanent",
    "review-after",
    "rollout",
    "segments",
    "type",
    "users",
    "values",
)
SEGMENT_KEYS = ("attribute", "in", "users")


def read_flags(path: Path, shown_as: str) -> tuple[FlagsSchema | None, list[Diagnostic]]:
    """Read flags.toml at *path* (shown to users as *shown_as*) into a schema."""
    source, problems = read_source(path, shown_as)
    if source is None:
        return None, problems
    return _Reader(source).read()


def parse_flags(text: str, shown_as: str) -> tuple[FlagsSchema | None, list[Diagnostic]]:
    """Read flags.toml from *text* (an editor's unsaved buffer) as `read_flags` reads a file."""
    source, problems = parse_source(text.removeprefix("\ufeff"), shown_as)
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


_CATEGORY_NAMES = TypeNameMessages(
    invalid="the category cannot name a class (it would be '{name}'); start its name with a letter",
    reserved="the category would generate the name {name}, which the module already defines",
    taken="the category would generate the name {name}, as {other} does; rename one",
)
_EXPECTED_DEFAULT = {
    "bool": "a bool",
    "int": "an int",
    "float": "a number",
    "string": "a string",
    "enum": "one of the values",
    "percent": "a percentage from 0 to 100",
}


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _default_fits(kind: str, value: object) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("string", "enum"):
        return isinstance(value, str)
    return _is_number(value)


class _Reader(ReaderBase):
    def __init__(self, source: SourceFile) -> None:
        super().__init__(source)
        self.declared_segments: set[str] = set()

    def read(self) -> tuple[FlagsSchema | None, list[Diagnostic]]:
        document = self.source.document
        flags_table: Any = None
        segments: list[Segment] = []
        for key, item in members(document):
            if key == "flags" and is_table(item):
                flags_table = item
            elif key == "segments" and is_table(item):
                segments = self.segments(item)
            else:
                self.report(item, key,
                            "unknown top-level key: flags.toml holds [flags.NAME] tables "
                            "and [segments.NAME] tables")  # fmt: skip
        if flags_table is None:
            root = Category("", (), "Flags", (), ())
            if not self.problems:
                self.report(document, "flags",
                            "no flags: add a [flags.NAME] table with a type and a default")  # fmt: skip
        else:
            root = self.category(flags_table, (), (), self.declared_segments)
        self.check_keywords(root)
        if self.problems:
            return None, self.problems
        return FlagsSchema(self.source.display_path, root, tuple(segments)), []

    # -- segments --------------------------------------------------------------------

    def segments(self, table: Any) -> list[Segment]:
        # a flag naming a segment that has problems of its own is not told it is unknown
        self.declared_segments = {name for name, _ in members(table)}
        found = [self.attempt(self.segment, name, item) for name, item in members(table)]
        return [segment for segment in found if segment is not None]

    def segment(self, name: str, item: Any) -> Segment | None:
        dotted = f"segments.{name}"
        if not is_table(item):
            raise Reject(item, dotted,
                         "a segment is a table: [segments.NAME] with users = [...] "
                         'or attribute = "..." and in = [...]')  # fmt: skip
        values = dict(members(item))
        unknown = [key for key in values if key not in SEGMENT_KEYS]
        for key in unknown:
            self.report(values[key], f"{dotted}.{key}",
                        f"unknown key in a segment{did_you_mean(key, SEGMENT_KEYS)}; a segment "
                        "has 'users', or 'attribute' and 'in'")  # fmt: skip
        if unknown:
            return None
        has_users = "users" in values
        if has_users == ("attribute" in values or "in" in values):
            raise Reject(item, dotted,
                         "a segment needs either 'users' or 'attribute' with 'in', "
                         + ("not both" if has_users else "and has neither"))  # fmt: skip
        line, col = self.position(item)
        if has_users:
            return Segment(name, self.strings(values["users"], f"{dotted}.users"), None, (),
                           line, col)  # fmt: skip
        attribute = values.get("attribute")
        if attribute is None or not isinstance(attribute.unwrap(), str) or not attribute.unwrap():
            raise Reject(attribute if attribute is not None else item, f"{dotted}.attribute",
                         "'attribute' must name the context attribute to match, as a string")  # fmt: skip
        problem = _attribute_problem(attribute.unwrap())
        if problem:
            raise Reject(attribute, f"{dotted}.attribute", problem)
        choices = values.get("in")
        plain = choices.unwrap() if choices is not None else None
        if (
            not isinstance(plain, list)
            or not plain
            or not all(isinstance(v, (str, int, float, bool)) for v in plain)
        ):
            raise Reject(choices if choices is not None else item, f"{dotted}.in",
                         "'in' must be a non-empty array of the attribute's accepted values")  # fmt: skip
        if any(isinstance(v, float) and math.isnan(v) for v in plain):
            raise Reject(
                choices, f"{dotted}.in", "nan equals nothing, so it would match no context"
            )
        if any(isinstance(v, float) and math.isinf(v) for v in plain):
            raise Reject(choices, f"{dotted}.in",
                         "inf is no JSON number: OpenFeature contexts cannot carry it")  # fmt: skip
        return Segment(name, (), attribute.unwrap(), tuple(plain), line, col)

    def strings(self, item: Any, key: str) -> tuple[str, ...]:
        value = item.unwrap()
        if not isinstance(value, list):
            raise Reject(
                item, key, f"expected an array of non-empty strings, got {_spelling(value)}"
            )
        if not all(isinstance(v, str) and v for v in value):
            raise Reject(item, key, "expected an array of non-empty strings")
        return tuple(value)

    # -- names -----------------------------------------------------------------------

    def name_of(self, item: Any, key: str, dotted: str, at_root: bool) -> str:
        name = naming.attribute_name(key)
        problem = naming.identifier_problem(key)
        if problem is None and name.startswith("_"):
            problem = f"'{key}' starts with '_': flag and category names start with a letter"
        elif problem is None and at_root and name in naming.FLAGS_MEMBERS:
            problem = f"'{key}' would hide Flags.{name}(); rename it"
        elif problem is None and name in naming.FLAGS_BODY_NAMES:
            problem = (
                f"'{key}' would shadow the name '{name}' that the generated module uses; rename it"
            )
        if problem is not None:
            raise Reject(item, dotted, problem)
        return name

    # -- categories and flags ------------------------------------------------------------

    def category(
        self, table: Any, path: tuple[str, ...], keys: tuple[str, ...], segments: set[str]
    ) -> Category:
        flags: list[Flag] = []
        categories: list[Category] = []
        seen: dict[str, str] = {}
        for key, item in members(table):
            read = self.attempt(self.member, item, path, (*keys, key), segments, seen)
            if isinstance(read, Flag):
                flags.append(read)
            elif isinstance(read, Category):
                categories.append(read)
        return Category(
            path[-1] if path else "",
            path,
            class_name_for(path) + "Flags" if path else "Flags",
            tuple(sorted(flags, key=lambda f: f.name)),
            tuple(sorted(categories, key=lambda c: c.name)),
        )

    def member(
        self,
        item: Any,
        path: tuple[str, ...],
        keys: tuple[str, ...],
        segments: set[str],
        seen: dict[str, str],
    ) -> Flag | Category | None:
        """One key of a category: a flag (a table with a type), a category, or a problem."""
        key = keys[-1]
        dotted = "flags." + ".".join(keys)
        if not is_table(item):
            raise Reject(item, dotted,
                         f"expected a table [{dotted}] with a type and a default, "
                         f"got {_spelling(item.unwrap())}")  # fmt: skip
        name = self.name_of(item, key, dotted, at_root=not path)
        if name in seen:
            raise Reject(
                item, dotted, f"'{key}' and '{seen[name]}' both become '{name}'; rename one"
            )
        seen[name] = key
        items = dict(members(item))
        if "type" in items:
            return self.flag(item, items, (*path, name), keys, segments)
        owner = f"[{dotted}]"
        class_name = class_name_for((*path, name)) + "Flags"
        self.claim_type(class_name, owner, owner, item, dotted, _CATEGORY_NAMES)
        return self.category(item, (*path, name), keys, segments)

    def flag(
        self,
        table: Any,
        items: dict[str, Any],
        path: tuple[str, ...],
        keys: tuple[str, ...],
        known_segments: set[str],
    ) -> Flag | None:
        dotted = "flags." + ".".join(keys)
        before = len(self.problems)
        for name, item in items.items():
            if is_table(item):
                self.report(item, f"{dotted}.{name}",
                            f"[{dotted}] is a flag (it has a type), so it cannot also be a "
                            f"category holding '{name}'; a flag and a category cannot share a name")  # fmt: skip
            elif name not in FLAG_KEYS:
                self.report(item, f"{dotted}.{name}",
                            f"unknown key in a flag{did_you_mean(name, FLAG_KEYS)}; a flag has "
                            f"{', '.join(FLAG_KEYS)}")  # fmt: skip
        if len(self.problems) > before:
            return None
        kind = items["type"].unwrap()
        if kind not in FLAG_KINDS:
            raise Reject(items["type"], f"{dotted}.type",
                         f"unknown type {kind!r}{did_you_mean(str(kind), FLAG_KINDS)}; expected "
                         f"one of {', '.join(FLAG_KINDS)}")  # fmt: skip
        values = self.enum_values(table, items, dotted, kind)
        if "default" not in items:
            raise Reject(table, dotted, f"a flag needs a default ({article(kind)} value)")
        default = self.default(items["default"], f"{dotted}.default", kind, values)
        description = self.optional(items, "description", dotted, str, "", "a string")
        expires = self.date(items, "expires", dotted)
        review_after = self.date(items, "review-after", dotted)
        permanent = self.optional(items, "permanent", dotted, bool, False, "true or false")
        if permanent:
            for lifetime in ("expires", "review-after"):
                if lifetime in items:
                    raise Reject(items[lifetime], f"{dotted}.{lifetime}",
                                 f"a permanent flag has no '{lifetime}' date; remove one of "
                                 f"'permanent = true' and '{lifetime}'")  # fmt: skip
        for targeting in ("users", "segments", "rollout"):
            if targeting in items and kind != "bool":
                raise Reject(items[targeting], f"{dotted}.{targeting}",
                             f"'{targeting}' targets bool flags; this flag is {kind}")  # fmt: skip
        users = self.strings(items["users"], f"{dotted}.users") if "users" in items else ()
        segments = self.flag_segments(items, dotted, known_segments)
        line, col = self.position(table)
        return Flag(
            key=".".join(path),
            name=path[-1],
            path=path,
            kind=kind,
            default=default,
            description=description,
            expires=expires,
            users=users,
            segments=segments,
            rollout=self.rollout(items, dotted),
            values=values,
            line=line,
            col=col,
            review_after=review_after,
            permanent=permanent,
        )

    def enum_values(
        self, table: Any, items: dict[str, Any], dotted: str, kind: str
    ) -> tuple[str, ...]:
        if kind != "enum":
            if "values" in items:
                raise Reject(items["values"], f"{dotted}.values",
                             f"'values' is for enum flags; this flag is {kind}")  # fmt: skip
            return ()
        if "values" not in items:
            raise Reject(table, dotted, 'an enum flag needs values = ["a", "b", ...]')
        raw = items["values"].unwrap()
        if not isinstance(raw, list) or not raw or not all(isinstance(v, str) and v for v in raw):
            raise Reject(items["values"], f"{dotted}.values",
                         "an enum's values must be a non-empty array of non-empty strings")  # fmt: skip
        duplicates = sorted({v for v in raw if raw.count(v) > 1})
        if duplicates:
            raise Reject(items["values"], f"{dotted}.values",
                         f"an enum's values must differ: {', '.join(map(repr, duplicates))} "
                         "given more than once")  # fmt: skip
        return tuple(raw)

    def optional(
        self, items: dict[str, Any], key: str, dotted: str, kind: type, empty: Any, spelled: str
    ) -> Any:
        if key not in items:
            return empty
        value = items[key].unwrap()
        if not isinstance(value, kind):
            raise Reject(items[key], f"{dotted}.{key}",
                         f"'{key}' must be {spelled}, not {_spelling(value)}")  # fmt: skip
        return value

    def date(self, items: dict[str, Any], key: str, dotted: str) -> datetime.date | None:
        """``expires`` or ``review-after``: a TOML date (not a datetime), or None."""
        if key not in items:
            return None
        value = items[key].unwrap()
        if isinstance(value, datetime.datetime) or not isinstance(value, datetime.date):
            raise Reject(items[key], f"{dotted}.{key}",
                         f"'{key}' must be a date such as 2027-03-01, not {_spelling(value)}")  # fmt: skip
        return value

    def flag_segments(self, items: dict[str, Any], dotted: str, known: set[str]) -> tuple[str, ...]:
        if "segments" not in items:
            return ()
        found = self.strings(items["segments"], f"{dotted}.segments")
        unknown = [s for s in found if s not in known]
        if unknown:
            hint = did_you_mean(unknown[0], sorted(known))
            raise Reject(items["segments"], f"{dotted}.segments",
                         f"unknown segment '{unknown[0]}'{hint}; define it as "
                         f"[segments.{unknown[0]}]")  # fmt: skip
        return found

    def rollout(self, items: dict[str, Any], dotted: str) -> float | None:
        if "rollout" not in items:
            return None
        value = items["rollout"].unwrap()
        if not _is_number(value) or not 0 <= value <= 100:
            raise Reject(items["rollout"], f"{dotted}.rollout",
                         f"'rollout' is a percentage from 0 to 100, got {value!r}")  # fmt: skip
        return float(value)

    def default(self, item: Any, key: str, kind: str, values: tuple[str, ...]) -> Any:
        value = item.unwrap()
        if not _default_fits(kind, value):
            raise Reject(item, key,
                         f"the default of {article(kind)} flag must be {_EXPECTED_DEFAULT[kind]}, "
                         f"not {_spelling(value)} {value!r}")  # fmt: skip
        if kind == "int" and not INT64_MIN <= value <= INT64_MAX:
            raise Reject(item, key, "integer out of the 64-bit range TOML allows")
        if kind == "enum" and value not in values:
            raise Reject(item, key,
                         f"the default {value!r} is not one of the values "
                         f"{', '.join(map(repr, values))}")  # fmt: skip
        if kind == "percent" and not 0 <= value <= 100:
            raise Reject(item, key,
                         f"a percent flag's default is a percentage from 0 to 100, got {value!r}")  # fmt: skip
        if kind not in ("float", "percent"):
            return value
        try:
            number = float(value)
        except OverflowError:
            raise Reject(
                item, key, "the default is too large for a float (floats reach about 1.8e308)"
            ) from None
        if not math.isfinite(number):  # as a stored value must be; JSON has no inf or nan
            raise Reject(item, key, f"the default must be a finite number, not {value!r}")
        return number

    def check_keywords(self, root: Category) -> None:
        """``test_flags_with`` takes one keyword per flag: its path joined by '_'."""
        seen: dict[str, Flag] = {}
        for flag in root.all_flags():
            where = (flag.line, flag.col)
            dotted = f"flags.{flag.key}"
            keyword_name = "_".join(flag.path)
            if keyword_name in seen:
                self.report(where, dotted,
                            f"'{flag.key}' and '{seen[keyword_name].key}' would both be "
                            f"test_flags_with({keyword_name}=...); rename one")  # fmt: skip
            elif keyword_name in naming.TEST_FLAGS_LOCALS:
                self.report(where, dotted,
                            f"'{flag.key}' would be test_flags_with({keyword_name}=...), which "
                            "shadows a name the helper uses; rename it")  # fmt: skip
            seen[keyword_name] = flag
            if flag.kind == "enum":
                in_use = f"the values of '{flag.key}' would be named {{name}}, a name already in use; rename it"
                says = TypeNameMessages(
                    invalid=f"the values of '{flag.key}' would be named '{{name}}', not a valid "
                    "name; rename the flag",
                    reserved=in_use,
                    taken=in_use,
                )
                alias = class_name_for(flag.path)
                self.attempt(self.claim_type, alias, dotted, dotted, where, dotted, says)


def _attribute_problem(name: str) -> str | None:
    """Why *name* cannot be a segment attribute, which OpenFeature evaluators (flagd, OFREP)
    read as a JSONLogic ``var`` path, or None."""
    if "." in name:
        return (f"a segment attribute cannot contain '.': flagd reads {name!r} as a path into "
                "nested attributes, the getters as one name; use a plain name")  # fmt: skip
    if name == "targetingKey" or name.startswith("$flagd"):
        return (f"{name!r} is the evaluation context's own, not an attribute; segments match "
                "the targeting key with 'users'")  # fmt: skip
    return None
