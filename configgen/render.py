"""Rendering: the model -> the text of the generated modules, through jinja2 templates."""

from __future__ import annotations

import dataclasses
import datetime
import functools
import re
import textwrap
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

from configgen import bucketing, naming, pyexpr
from configgen.fingerprint import Provenance, templates_dir
from configgen.model import (
    Category,
    ConfigSchema,
    Field,
    FieldType,
    Flag,
    FlagsSchema,
    ListOf,
    MapOf,
    Scalar,
    Section,
    Segment,
    segment_value,
)
from configgen.naming import class_name_for


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.update(
        assign=pyexpr.format_assignment,
        layout=pyexpr.format_expr,
        docstring=pyexpr.docstring,
        string=pyexpr.string,
        call=pyexpr.call,
        atom=pyexpr.Atom,
        all_names=lambda names: sorted(names, key=dunder_all_key),
        import_from=lambda module, names: (
            pyexpr.format_expr(
                pyexpr.Bracketed("(", ")", tuple(pyexpr.Atom(n) for n in names)),
                "",
                f"from {module} import ",
            )
            if len(f"from {module} import {', '.join(names)}") > pyexpr.LINE_LENGTH
            else f"from {module} import {', '.join(names)}"
        ),
        strings_tuple=_strings_tuple,
    )
    return env


def _strings_tuple(names: list[str]) -> pyexpr.Expr:
    """``("a", "b")``."""
    return pyexpr.tuple_of([pyexpr.Atom(pyexpr.string(n)) for n in names])


def value_expr(field_type: FieldType, value: Any, entries: dict[str, Section]) -> pyexpr.Expr:
    """The expression that builds *value* of *field_type* in generated code."""
    if isinstance(field_type, Scalar):
        return pyexpr.scalar(value)
    if isinstance(field_type, ListOf):
        return pyexpr.tuple_of([value_expr(field_type.item, item, entries) for item in value])
    if isinstance(field_type, MapOf):
        return pyexpr.dict_of(
            [
                (pyexpr.Atom(pyexpr.string(key)), value_expr(field_type.value, item, entries))
                for key, item in value.items()
            ]
        )
    return entry_expr(entries[field_type.class_name], value, entries)


def entry_expr(section: Section, value: dict[str, Any], entries: dict[str, Section]) -> pyexpr.Expr:
    arguments: dict[str, pyexpr.Expr] = {}
    for field in section.fields:
        arguments[field.name] = value_expr(field.type, value[field.key], entries)
    for sub in section.sections:
        arguments[sub.name] = entry_expr(sub, value[sub.key], entries)
    return pyexpr.call(section.class_name, **arguments)


def default_expr(field: Field, entries: dict[str, Section]) -> pyexpr.Expr:
    """The right-hand side of a field's line in its dataclass."""
    built = value_expr(field.type, field.default, entries)
    if isinstance(field.type, MapOf):
        factory = pyexpr.Prefixed("lambda: ", pyexpr.call("MappingProxyType", built))
        return pyexpr.call("dataclasses.field", default_factory=factory)
    return built


def kind_expr(field_type: FieldType) -> pyexpr.Expr:
    """The loader's reader for values of *field_type*."""
    if isinstance(field_type, Scalar):
        return pyexpr.Atom(f"_{field_type.kind.upper()}")
    if isinstance(field_type, ListOf):
        return pyexpr.call("_ListOf", kind_expr(field_type.item))
    if isinstance(field_type, MapOf):
        return pyexpr.call("_MapOf", kind_expr(field_type.value))
    return pyexpr.Atom(f"_{_snake(field_type.class_name).upper()}")


def _snake(name: str) -> str:
    return "".join(
        f"_{char.lower()}" if char.isupper() and index else char.lower()
        for index, char in enumerate(name)
    )


def rules_expr(field: Field) -> pyexpr.Expr | None:
    rules = field.rules
    if not rules:
        return None
    arguments: dict[str, pyexpr.Expr] = {}
    if rules.min is not None:
        arguments["min"] = pyexpr.scalar(rules.min)
    if rules.max is not None:
        arguments["max"] = pyexpr.scalar(rules.max)
    if rules.pattern is not None:
        arguments["pattern"] = pyexpr.Atom(pyexpr.string(rules.pattern))
    if rules.oneof:
        arguments["oneof"] = pyexpr.tuple_of([pyexpr.Atom(pyexpr.string(c)) for c in rules.oneof])
    sized = isinstance(field.type, (ListOf, MapOf)) or field.type == Scalar("str")
    if sized and (rules.min is not None or rules.max is not None):
        arguments["sized"] = pyexpr.Atom("True")
    return pyexpr.call("_Rules", **arguments)


def field_spec(field: Field, section: Section) -> pyexpr.Expr:
    """The loader's entry for one field: where it lives, its variable, how to read it."""
    arguments: list[pyexpr.Expr] = [
        pyexpr.Atom(pyexpr.string(section.dotted)),
        pyexpr.Atom(pyexpr.string(field.key)),
        pyexpr.Atom(pyexpr.string(field.name)),
        pyexpr.Atom(pyexpr.string(field.env or "")),
        kind_expr(field.type),
    ]
    keywords: dict[str, pyexpr.Expr] = {}
    rules = rules_expr(field)
    if rules is not None:
        keywords["rules"] = rules
    if field.sensitive:
        keywords["sensitive"] = pyexpr.Atom("True")
    if field.required:
        keywords["required"] = pyexpr.Atom("True")
    return pyexpr.call("_Field", *arguments, **keywords)


_ENV_HINTS = {
    "bool": "true/false, 1/0, yes/no, on/off",
    "datetime": "ISO 8601",
    "date": "ISO 8601",
    "time": "ISO 8601",
}


def scalar_kind(kind: str) -> pyexpr.Expr:
    """The loader's reader for one scalar type."""
    parse = "_str" if kind == "str" else f"_parse_{kind}"
    arguments = [pyexpr.Atom(pyexpr.string(kind)), pyexpr.Atom(f"_{kind}"), pyexpr.Atom(parse)]
    if kind in _ENV_HINTS:
        arguments.append(pyexpr.Atom(pyexpr.string(_ENV_HINTS[kind])))
    return pyexpr.call("_Kind", *arguments)


def entry_specs(section: Section) -> list[pyexpr.Expr]:
    """``(key, name, reader)`` for each field of a map-of-tables entry class."""
    specs: list[pyexpr.Expr] = [
        pyexpr.tuple_of(
            [
                pyexpr.Atom(pyexpr.string(f.key)),
                pyexpr.Atom(pyexpr.string(f.name)),
                kind_expr(f.type),
            ]
        )
        for f in section.fields
    ]
    for sub in section.sections:
        specs.append(
            pyexpr.tuple_of(
                [
                    pyexpr.Atom(pyexpr.string(sub.key)),
                    pyexpr.Atom(pyexpr.string(sub.name)),
                    pyexpr.Atom(f"_{_snake(sub.class_name).upper()}"),
                ]
            )
        )
    return specs


def section_spec(section: Section) -> pyexpr.Expr:
    """The loader's entry for one section: its path, its parent's, its attribute, its class."""
    parent = ".".join(section.path[:-1])
    return pyexpr.tuple_of(
        [pyexpr.Atom(pyexpr.string(text)) for text in (section.dotted, parent, section.name)]
        + [pyexpr.Atom(section.class_name)]
    )


def render_config(schema: ConfigSchema, *, provenance: Provenance) -> str:
    """The text of ``configgen_config.py`` for *schema*."""
    classes = schema.classes()
    sections = [s for s in schema.root.walk() if s is not schema.root]
    fields = schema.fields()
    types = _all_types(schema)

    scalars = sorted(
        {t.kind for t in types if isinstance(t, Scalar)},
        key=("str", "int", "float", "bool", "datetime", "date", "time").index,
    )
    owners = {id(f): s for s in schema.root.walk() for f in s.fields}
    entries = {section.class_name: section for section in classes}
    entry_sections = [s for entry in schema.entries for s in entry.walk()]
    declared = {  # "section.field": the field's declaration in its class
        f"{section.dotted}.{field.name}": pyexpr.format_assignment(
            f"{field.name}: {field.type.python}", default_expr(field, entries), "    "
        )
        for section in schema.root.walk()
        if not section.is_entry
        for field in section.fields
    }
    context = {
        "declared": declared,
        "schema": schema,
        "classes": classes,
        "public": list(naming.CONFIG_PUBLIC),
        "sections": sections,
        "fields": fields,
        "scalars": scalars,
        "uses_datetime": any(
            isinstance(t, Scalar) and t.kind in ("datetime", "date", "time") for t in types
        ),
        "uses_lists": any(isinstance(t, ListOf) for t in types),
        "uses_maps": any(isinstance(t, MapOf) for t in types),
        "uses_rules": any(f.rules for f in fields),
        "uses_pattern": any(f.rules.pattern is not None for f in fields),
        "config_file_env": f"{schema.env_prefix}CONFIG_FILE",
        "provenance": provenance,
        "scalar_kinds": [
            pyexpr.format_assignment(f"_{scalar.upper()}", scalar_kind(scalar))
            for scalar in scalars
        ],
        "entry_kinds": [
            pyexpr.format_assignment(
                f"_{_snake(entry.class_name).upper()}",
                pyexpr.call(
                    "_TableOf", pyexpr.Atom(entry.class_name), pyexpr.tuple_of(entry_specs(entry))
                ),
            )
            for entry in entry_sections
        ],
        "fields_table": pyexpr.format_assignment(
            "_FIELDS: tuple[_Field, ...]",
            pyexpr.tuple_of([field_spec(f, owners[id(f)]) for f in fields]),
        ),
        "sections_table": pyexpr.format_assignment(
            "_SECTIONS: tuple[tuple[str, str, str, Callable[..., Any]], ...]",
            pyexpr.tuple_of([section_spec(s) for s in sections]),
        ),
    }
    return environment().get_template("config.py.j2").render(context)


def _all_types(schema: ConfigSchema) -> set[FieldType]:
    """Every field type of every generated class, element and value types included."""
    found: set[FieldType] = set()

    def add(field_type: FieldType) -> None:
        found.add(field_type)
        if isinstance(field_type, ListOf):
            add(field_type.item)
        elif isinstance(field_type, MapOf):
            add(field_type.value)

    for section in schema.classes():
        for field in section.fields:
            add(field.type)
    return found


# -- flags --------------------------------------------------------------------------------


def _bucketing_source() -> str:
    """`configgen.bucketing`'s `Rollout` and what it uses, renamed private, for the generated
    module: one implementation of the buckets for the library and the generated code."""
    import inspect

    pieces: list[object] = [
        bucketing.murmur3_32,
        bucketing._murmur3_mix,
        bucketing._murmur3_finish,
        bucketing._c_murmur3,
        "_C_MURMUR3 = _c_murmur3()",
        "EVERYONE = 100_001",
        bucketing.cbor_text,
        bucketing._utf8,
        bucketing.threshold,
        bucketing.Rollout,
    ]
    text = "\n\n\n".join(
        piece if isinstance(piece, str) else inspect.getsource(piece).rstrip("\n")  # type: ignore[arg-type]
        for piece in pieces
    )
    for public in ("murmur3_32", "cbor_text", "threshold", "Rollout", "EVERYONE"):
        text = re.sub(rf"(?<![\w.]){public}\b", f"_{public}", text)
    return text


_FLAG_READERS = {
    "bool": "_bool",
    "int": "_int",
    "float": "_float",
    "string": "_str",
    "percent": "_threshold_of",
}


def _flag_literal(value: object) -> str:
    return pyexpr.flat(pyexpr.scalar(value))


def _getter_doc(flag: Flag) -> str:
    summary = " ".join(flag.description.split()) or f"The flag {flag.key}"
    if summary[-1] not in ".!?":
        summary += "."
    facts = [f"Default: {_flag_literal(flag.default)}."]
    if flag.kind == "percent":
        facts = [f"True for the given percentage of targeting keys (default {flag.default:g}%)."]
    if flag.users:
        facts.append(f"True for targeting keys {', '.join(flag.users)}.")
    if flag.segments:
        facts.append(f"True for segments {', '.join(flag.segments)}.")
    if flag.rollout is not None:
        facts.append(f"True for {flag.rollout:g}% of other targeting keys.")
    if flag.expires is not None:
        facts.append(f"After {flag.expires.isoformat()} always the default.")
    return summary + "\n\n" + textwrap.fill(" ".join(facts), width=76, break_long_words=False)


def _signature(flag: Flag, indent: str) -> str:
    returns = class_name_for(flag.path) if flag.kind == "enum" else flag.python
    one_line = f"{indent}def {flag.name}(self, ctx: EvaluationContext | None = None) -> {returns}:"
    if len(one_line) <= pyexpr.LINE_LENGTH:
        return one_line
    inner = indent + pyexpr.INDENT
    return (
        f"{indent}def {flag.name}(\n{inner}self, ctx: EvaluationContext | None = None\n"
        f"{indent}) -> {returns}:"
    )


def _segment_names(segments: list[Segment]) -> dict[str, str]:
    """Each segment's constant, ``_SEGMENT_EU``; names that would meet (``eu`` and ``EU``,
    ``eu-west`` and ``eu_west``) are told apart by a number, in flags.toml's order."""
    names: dict[str, str] = {}
    for segment in segments:
        base = "_SEGMENT_" + re.sub(r"\W", "_", segment.name).upper()
        name, number = base, 1
        while name in names.values():
            number += 1
            name = f"{base}_{number}"
        names[segment.name] = name
    return names


def _strings_set(values: tuple[object, ...]) -> pyexpr.Expr:
    ordered = sorted(values, key=lambda v: (type(v).__name__, str(v)))
    return pyexpr.call(
        "frozenset", pyexpr.Bracketed("{", "}", tuple(pyexpr.scalar(v) for v in ordered))
    )


def _segment_kinds(segment: Segment) -> set[str]:
    return {segment_value(v)[0] for v in segment.values}


def _segment_expr(segment: Segment) -> pyexpr.Expr:
    """A segment of users: their keys. Of one kind of value: the values. Of several: each
    value with its kind, ``("number", 1)``, as the generated ``_typed()`` gives them."""
    if segment.attribute is None:
        return _strings_set(segment.users)
    if len(_segment_kinds(segment)) == 1:
        return _strings_set(tuple(dict.fromkeys(segment.values)))
    typed = sorted(set(map(segment_value, segment.values)), key=lambda p: (p[0], str(p[1])))
    return pyexpr.call(
        "frozenset",
        pyexpr.Bracketed(
            "{",
            "}",
            tuple(
                pyexpr.tuple_of([pyexpr.Atom(pyexpr.string(k)), pyexpr.scalar(v)]) for k, v in typed
            ),
        ),
    )


_KIND_TESTS = {
    "str": ["isinstance(value, str)"],
    "bool": ["isinstance(value, bool)"],
    "number": ["isinstance(value, (int, float))", "not isinstance(value, bool)"],
}


def _segment_test(segment: Segment, name: str) -> list[str]:
    """The conditions on ``value`` (the segment's attribute) that put a context in it."""
    kinds = _segment_kinds(segment)
    if len(kinds) == 1:
        return [*_KIND_TESTS[kinds.pop()], f"value in {name}"]
    return [f"_typed(value) in {name}"]


def _conjunction(head: str, conditions: list[str], indent: str, tail: str = "") -> str:
    """``head a and b tail`` on one line, or split before each ``and`` as ruff does."""
    one_line = f"{indent}{head} {' and '.join(conditions)}{tail}"
    if len(one_line) <= pyexpr.LINE_LENGTH or len(conditions) == 1:
        return one_line
    inner = indent + pyexpr.INDENT
    lines = [f"{indent}{head} (", f"{inner}{conditions[0]}"]
    lines += [f"{inner}and {condition}" for condition in conditions[1:]]
    return "\n".join([*lines, f"{indent}){tail}"])


def _flag_constant(flag: Flag, what: str) -> str:
    return "_" + "_".join(flag.path).upper() + "_" + what


def _evaluator_name(flag: Flag) -> str:
    return "_evaluate_" + "_".join(flag.path)


def _rollout_constant(flag: Flag, scheme: bucketing.Scheme) -> str:
    """``_NAME_ROLLOUT = _Rollout("name")``: the flag's rollout buckets."""
    arguments = [pyexpr.Atom(pyexpr.string(flag.key))]
    if scheme != bucketing.DEFAULT_SCHEME:
        arguments.append(pyexpr.Atom(pyexpr.string(scheme)))
    return pyexpr.format_assignment(
        _flag_constant(flag, "ROLLOUT"), pyexpr.call("_Rollout", *arguments)
    )


def _evaluator_source(
    flag: Flag, segments: dict[str, Segment], names: dict[str, str], scheme: bucketing.Scheme
) -> str:
    """The constants and the function that evaluate a targeted bool flag's rules for a
    context: one set lookup for its users and segments of users, a direct check of each
    attribute segment, then its rollout. Rules are tried in flags.toml's order; the first
    that holds makes the flag true."""
    rollout = flag.rollout or 0
    what = [f"users {', '.join(sorted(flag.users))}"] if flag.users else []
    what += [f"segments {', '.join(flag.segments)}"] if flag.segments else []
    what += [f"a rollout of {rollout:g}%"] if rollout else []
    summary = f"Whether {flag.key} is on for *ctx*: {'; '.join(what) or 'no rule turns it on'}."
    lines = [
        f"def {_evaluator_name(flag)}(ctx: EvaluationContext | None) -> bool:",
        pyexpr.docstring("\n".join(textwrap.wrap(summary, 81)), "    "),
    ]
    if rollout >= 100:
        return "\n".join([*lines, "    return True  # a rollout of 100%: everyone"])
    chosen = [segments[name] for name in flag.segments]
    users = set(flag.users).union(*(s.users for s in chosen if s.attribute is None))
    constants: list[str] = []
    # each step: a line that reads an attribute (or ""), its conditions, what it returns
    steps: list[tuple[str, list[str], bool]] = []
    if users:
        name = _flag_constant(flag, "USERS")
        constants.append(pyexpr.format_assignment(name, _strings_set(tuple(users))))
        steps.append(("", [f"key in {name}"], True))
    for segment in chosen:
        if segment.attribute is not None:
            read = pyexpr.call("ctx._attributes.get", pyexpr.Atom(pyexpr.string(segment.attribute)))
            reading = pyexpr.format_assignment("value", read, "    ")
            steps.append((reading, _segment_test(segment, names[segment.name]), True))
    if 0 < rollout < 100:
        name = _flag_constant(flag, "ROLLOUT")
        constants.append(_rollout_constant(flag, scheme))
        keyless = "key is None" if scheme == "flagd-v2" else "not key"  # no bucket
        steps.append(("", [keyless], False))
        steps.append(("", [f"{name}.bucket(key) < {bucketing.threshold(rollout)}"], True))
    lines += ["    if ctx is None:", "        return False"]
    if users or 0 < rollout < 100:
        lines.append("    key = ctx._targeting_key")
    for index, (reading, conditions, gives) in enumerate(steps):
        lines += [reading] if reading else []
        if index < len(steps) - 1:
            lines += [_conjunction("if", conditions, "    ", ":"), f"        return {gives}"]
        else:  # the last step gives True: its conditions are the answer
            lines.append(_conjunction("return", conditions, "    "))
    if not steps:
        lines.append("    return False")
    return "\n\n".join(constants) + ("\n\n\n" if constants else "") + "\n".join(lines)


def _expiry_timestamp(flag: Flag) -> int:
    assert flag.expires is not None
    # The start of the next day, UTC, counted in days: 9999-12-31 has no next date.
    days = flag.expires.toordinal() - datetime.date(1970, 1, 1).toordinal() + 1
    return days * 86_400


_NUMBER_OR_CHARACTER = re.compile(r"[0-9]+|.", re.DOTALL)
_NaturalKey = tuple[tuple[int | str, ...], ...]


def natural_key(name: str) -> _NaturalKey:
    """The natural order ruff sorts by (``x9`` before ``x10``; digits before letters)."""
    key: list[tuple[int | str, ...]] = []
    for token in _NUMBER_OR_CHARACTER.findall(name):
        if not token.isdigit():
            key.append((ord(token),))
        elif token.startswith("0"):  # compared digit by digit
            key.append((ord("0"), 0, token))
        else:  # the longer number is the larger
            key.append((ord("0"), 1, len(token), token))
    return tuple(key)


def _member_type(name: str) -> int:
    """isort's order by type: CONSTANTS (two characters or more), then Classes, then the rest."""
    if len(name) > 1 and name.isupper():
        return 0
    return 1 if name[:1].isupper() else 2


def dunder_all_key(name: str) -> tuple[int, _NaturalKey]:
    """The order of ``__all__`` that ruff's RUF022 (its "isort-style" sort) expects."""
    return (_member_type(name), natural_key(name))


def import_key(name: str) -> tuple[int, _NaturalKey, _NaturalKey]:
    """The order of the names of a ``from ... import`` that isort (ruff's I001) expects."""
    return (_member_type(name), natural_key(name.lower()), natural_key(name))


@dataclasses.dataclass(frozen=True)
class FlagView:
    """One flag as the flags templates write it: every piece of its code worked out here,
    so that the templates hold only the shape of the module."""

    flag: Flag
    state: str  # the value attribute's declaration in __init__
    refresh: str  # its assignment in refresh()
    signature: str
    doc: str
    kind: str  # "percent", "targeted" (evaluated), "on" (targeted, default true), "plain"
    expiry: str  # the clock test of an expiring flag, or ""
    default: str  # the literal the getter returns (a percent flag: its threshold)
    evaluator: str = ""  # the function that evaluates a targeted flag
    evaluator_source: str = ""
    rollout: str = ""  # the _Rollout constant of a percent flag
    rollout_source: str = ""
    failed: tuple[str, ...] = ()  # the except clause's body: log, count, default

    @property
    def name(self) -> str:
        return self.flag.name


def _flag_view(
    flag: Flag, segments: dict[str, Segment], names: dict[str, str], scheme: bucketing.Scheme
) -> FlagView:
    root = "self._root" if len(flag.path) > 1 else "self"
    owner = ".".join(["self", *flag.path[:-1]])  # who holds the value, as refresh() sees it
    state_type = class_name_for(flag.path) if flag.kind == "enum" else flag.python
    state_default = _flag_literal(flag.default)
    default = state_default
    if flag.kind == "percent":
        kind, state_type = "percent", "int"  # a percent flag keeps its rollout's threshold
        state_default = default = str(bucketing.threshold(float(flag.default)))
    elif flag.targeted:
        kind = "targeted" if flag.default is False else "on"
        state_type, state_default = "bool | None", "None"
    else:
        kind = "plain"
    reader = (
        pyexpr.call("_one_of", *(pyexpr.Atom(pyexpr.string(v)) for v in flag.values))
        if flag.kind == "enum"
        else pyexpr.Atom(_FLAG_READERS[flag.kind])
    )
    refresh = pyexpr.format_assignment(
        f"{owner}._{flag.name}_value",
        pyexpr.call(
            "self._read", pyexpr.Atom(pyexpr.string(flag.key)), reader, pyexpr.Atom(state_default)
        ),
        "        ",
    )
    expiry = ""
    if flag.expires is not None:
        expiry = (
            f"        if time.time() >= {_expiry_timestamp(flag)}:"
            f"  # after {flag.expires.isoformat()}: the default"
        )
    key = pyexpr.Atom(pyexpr.string(flag.key))
    failed = (
        pyexpr.format_expr(
            pyexpr.call(
                "logger.debug",
                pyexpr.Atom(pyexpr.string("flag %s: evaluation failed")),
                key,
                pyexpr.Atom("exc_info=True"),
            ),
            "            ",
        ),
        pyexpr.format_expr(
            pyexpr.call(f"{root}._evaluation_failed", key, pyexpr.Atom("exc"), pyexpr.Atom("ctx")),
            "            ",
            "return ",
        ),
    )
    view = FlagView(
        flag=flag,
        state=f"        self._{flag.name}_value: {state_type} = {state_default}",
        refresh=refresh,
        signature=_signature(flag, "    "),
        doc=pyexpr.docstring(_getter_doc(flag), "        "),
        kind=kind,
        expiry=expiry,
        default=default,
        failed=failed,
    )
    if kind == "targeted":
        view = dataclasses.replace(
            view,
            evaluator=_evaluator_name(flag),
            evaluator_source=_evaluator_source(flag, segments, names, scheme),
        )
    if kind == "percent":
        view = dataclasses.replace(
            view,
            rollout=_flag_constant(flag, "ROLLOUT"),
            rollout_source=_rollout_constant(flag, scheme),
        )
    return view


def render_flags(schema: FlagsSchema, *, provenance: Provenance) -> str:
    """The text of ``configgen_flags.py`` for *schema*."""
    flags = schema.flags()
    categories = [c for c in schema.root.walk() if c is not schema.root]
    enums = [flag for flag in flags if flag.kind == "enum"]
    segments = {segment.name: segment for segment in schema.segments}
    used_segments = sorted({name for flag in flags for name in flag.segments})
    by_attribute = [segments[n] for n in used_segments if segments[n].attribute is not None]

    def slots(category: Category) -> str:
        names = [sub.name for sub in category.categories]
        names += [f"_{flag.name}_value" for flag in category.flags]
        if category is schema.root:
            names += ["__weakref__", "_fallbacks", "_lock", "_store"]
        else:
            names.append("_root")
        names.sort(key=natural_key)  # as ruff's RUF023 sorts __slots__
        return pyexpr.format_assignment("__slots__", _strings_tuple(names), "    ")

    names = _segment_names(list(schema.segments))
    views = {flag.key: _flag_view(flag, segments, names, schema.bucketing) for flag in flags}
    kinds_order = ("bool", "int", "float", "string", "enum", "percent")
    readers_used = sorted({flag.kind for flag in flags}, key=kinds_order.index)
    evaluated = [views[flag.key] for flag in flags if views[flag.key].kind == "targeted"]
    uses_percent = any(flag.kind == "percent" for flag in flags)
    uses_rollout = uses_percent or any(0 < (v.flag.rollout or 0) < 100 for v in evaluated)
    exported = list(naming.FLAGS_PUBLIC)
    exported += [c.class_name for c in categories] + [class_name_for(f.path) for f in enums]
    defaults = pyexpr.call(
        "types.MappingProxyType",
        pyexpr.dict_of(
            [(pyexpr.Atom(pyexpr.string(f.key)), pyexpr.scalar(f.default)) for f in flags]
        ),
    )
    aliases = [
        pyexpr.format_assignment(
            class_name_for(flag.path),
            pyexpr.Bracketed(
                "Literal[", "]", tuple(pyexpr.Atom(pyexpr.string(v)) for v in flag.values)
            ),
        )
        + "\n"
        + pyexpr.docstring(f"The values of the flag {flag.key}.", "")
        for flag in enums
    ]
    first = flags[0] if flags else None
    context = {
        "schema": schema,
        "views": views,
        "root": schema.root,
        "categories": categories,
        "aliases": aliases,
        "segments": [  # those of users are merged into each flag's users
            pyexpr.format_assignment(names[segment.name], _segment_expr(segment))
            for segment in by_attribute
        ],
        "evaluated": evaluated,
        "percent_views": [views[flag.key] for flag in flags if flag.kind == "percent"],
        "exported": sorted(exported, key=dunder_all_key),
        "defaults_expr": defaults,
        "example_getter": ".".join(first.path) if first else "name",
        "example_key": first.key if first else "name",
        "uses_targeting": bool(evaluated),
        "uses_percent": uses_percent,
        "uses_rollout": uses_rollout,
        "uses_typed": any(len(_segment_kinds(segment)) > 1 for segment in by_attribute),
        "readers_used": readers_used,
        "bucketing_source": _bucketing_source(),
        "provenance": provenance,
        "slots": {category.path: slots(category) for category in schema.root.walk()},
    }
    return environment().get_template("flags.py.j2").render(context)


def render_testing(config: ConfigSchema, flags: FlagsSchema | None, *, header: str) -> str:
    """The text of ``configgen_testing.py``: helpers for tests, left out of production."""
    root = config.root
    config_fields = [(f.name, f.type.python) for f in root.fields]
    config_fields += [(s.name, s.class_name) for s in root.sections]
    used = {name for _, annotation in config_fields for name in re.findall(r"[A-Z]\w*", annotation)}
    config_imports = sorted({"Config", "default_config"} | (used - {"Mapping"}), key=import_key)
    needs = [(annotation, name) for name, annotation in config_fields]
    flags_imports: list[str] = []
    if flags is not None:
        aliases = {class_name_for(f.path) for f in flags.flags() if f.kind == "enum"}
        flags_imports = sorted({"Flags", "MemoryStore"} | aliases, key=import_key)
    exported = [name for name in naming.TESTING_PUBLIC if flags is not None or "flags" not in name]
    uses = " ".join(annotation for annotation, _ in needs)
    context = {
        "sources": [config.source] + ([flags.source] if flags is not None else []),
        "header": header,
        "flags": flags,
        "config_fields": config_fields,
        "config_imports": config_imports,
        "flags_imports": flags_imports,
        "exported": exported,
        "uses_datetime": "datetime." in uses,
        "uses_mapping": "Mapping[" in uses,
        "flag_keywords": [
            "_".join(flag.path)
            + ": "
            + (class_name_for(flag.path) if flag.kind == "enum" else flag.stored_python)
            for flag in (flags.flags() if flags is not None else [])
        ],
    }
    return environment().get_template("testing.py.j2").render(context)
