"""Rendering: the model -> the text of the generated modules, through jinja2 templates."""

from __future__ import annotations

import datetime
import functools
import re
import textwrap
from collections.abc import Callable
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
        kind_of=kind_expr,
        field_spec=field_spec,
        call=pyexpr.call,
        tuple_of=pyexpr.tuple_of,
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
        strings_tuple=lambda names: pyexpr.tuple_of([pyexpr.Atom(pyexpr.string(n)) for n in names]),
    )
    return env


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
    context = {
        "default_of": lambda field: default_expr(field, entries),
        "schema": schema,
        "classes": classes,
        "public": list(naming.CONFIG_PUBLIC),
        "sections": sections,
        "fields": fields,
        "entries": [s for entry in schema.entries for s in entry.walk()],
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
        "snake": _snake,
        "entry_specs": entry_specs,
        "field_specs": lambda fields: [field_spec(f, owners[id(f)]) for f in fields],
        "section_specs": lambda sections: [section_spec(s) for s in sections],
        "scalar_kind": scalar_kind,
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


def _bucketing_source(scheme: bucketing.Scheme) -> str:
    """`configgen.bucketing`'s functions for *scheme*, renamed private, for the generated
    module."""
    import inspect

    functions: list[Callable[..., object]]
    if scheme == "flagd-v2":
        functions = [bucketing.murmur3_32, bucketing.bucket_v2, bucketing.in_rollout_v2]
    else:
        functions = [
            bucketing.murmur3_32,
            bucketing.cbor_pair,
            bucketing.bucket,
            bucketing.in_rollout,
        ]
    text = "\n\n".join(inspect.getsource(function).rstrip("\n") for function in functions)
    text = re.sub(r"\b(bucket|in_rollout)_v2\(", r"\1(", text)
    for public in ("murmur3_32", "cbor_pair", "bucket", "in_rollout"):
        text = re.sub(rf"\b{public}\(", f"_{public}(", text)
    text = text.replace("RESOLUTION", "100_000")
    text = text.replace("def _bucket(", "@functools.lru_cache(maxsize=65_536)\ndef _bucket(")
    return text.replace("\n\ndef ", "\n\n\ndef ").replace("\n\n@functools", "\n\n\n@functools")


_FLAG_READERS = {
    "bool": "_bool",
    "int": "_int",
    "float": "_float",
    "string": "_str",
    "percent": "_percentage",
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


def _segment_name(segment: Segment) -> str:
    return "_SEGMENT_" + re.sub(r"\W", "_", segment.name).upper()


def _strings_set(values: tuple[object, ...]) -> pyexpr.Expr:
    ordered = sorted(values, key=lambda v: (type(v).__name__, str(v)))
    return pyexpr.call(
        "frozenset", pyexpr.Bracketed("{", "}", tuple(pyexpr.scalar(v) for v in ordered))
    )


def _typed_set(values: tuple[object, ...]) -> pyexpr.Expr:
    """``frozenset({("str", "DE"), ("number", 1), ("bool", True)})``: each value with its
    kind, as the generated ``_typed()`` gives them (``True`` is not ``1``, ``1`` is ``1.0``)."""
    kinds = [segment_value(v) for v in values]
    if any(kind == "other" for kind, _ in kinds):
        raise TypeError(f"a segment value must be a str, int, float or bool, not {values!r}")
    ordered = sorted(set(kinds), key=lambda pair: (pair[0], str(pair[1])))
    return pyexpr.call(
        "frozenset",
        pyexpr.Bracketed(
            "{",
            "}",
            tuple(
                pyexpr.tuple_of([pyexpr.Atom(pyexpr.string(k)), pyexpr.scalar(v)])
                for k, v in ordered
            ),
        ),
    )


def _segment_expr(segment: Segment) -> pyexpr.Expr:
    if segment.attribute is None:
        return pyexpr.call("_Segment", users=_strings_set(segment.users))
    return pyexpr.call(
        "_Segment",
        attribute=pyexpr.Atom(pyexpr.string(segment.attribute)),
        values=_typed_set(segment.values),
    )


def _targeting_name(flag: Flag) -> str:
    return "_TARGETING_" + "_".join(flag.path).upper()


def _targeting_expr(flag: Flag, segments: dict[str, Segment]) -> pyexpr.Expr:
    arguments: dict[str, pyexpr.Expr] = {"key": pyexpr.Atom(pyexpr.string(flag.key))}
    if flag.users:
        arguments["users"] = _strings_set(flag.users)
    if flag.segments:
        arguments["segments"] = pyexpr.tuple_of(
            [pyexpr.Atom(_segment_name(segments[name])) for name in flag.segments]
        )
    if flag.rollout is not None:
        arguments["rollout"] = pyexpr.scalar(flag.rollout)
    return pyexpr.call("_Targeting", **arguments)


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


def render_flags(schema: FlagsSchema, *, provenance: Provenance) -> str:
    """The text of ``configgen_flags.py`` for *schema*."""
    flags = schema.flags()
    categories = [c for c in schema.root.walk() if c is not schema.root]
    enums = [flag for flag in flags if flag.kind == "enum"]
    segments = {segment.name: segment for segment in schema.segments}
    used_segments = sorted({name for flag in flags for name in flag.segments})
    owners: dict[str, str] = {}
    for flag in flags:
        owners[flag.key] = ".".join(["self", *flag.path[:-1]])

    def category_slots(category: Category) -> list[str]:
        slots = [sub.name for sub in category.categories]
        slots += [f"_{flag.name}_value" for flag in category.flags]
        if category is schema.root:
            slots += ["__weakref__", "_fallbacks", "_lock", "_store"]
        else:
            slots.append("_root")
        return sorted(slots, key=natural_key)  # as ruff's RUF023 sorts __slots__

    def state_type(flag: Flag) -> str:
        if flag.kind == "percent":
            return "float"
        if flag.targeted:
            return "bool | None"
        return class_name_for(flag.path) if flag.kind == "enum" else flag.python

    def state_default(flag: Flag) -> str:
        return "None" if flag.targeted else _flag_literal(flag.default)

    def reader(flag: Flag) -> pyexpr.Expr:
        if flag.kind == "enum":
            return pyexpr.call("_one_of", *(pyexpr.Atom(pyexpr.string(v)) for v in flag.values))
        return pyexpr.Atom(_FLAG_READERS[flag.kind])

    kinds_order = ("bool", "int", "float", "string", "enum", "percent")
    readers_used = sorted({flag.kind for flag in flags}, key=kinds_order.index)
    uses_targeting = any(flag.targeted for flag in flags)
    uses_percent = any(flag.kind == "percent" for flag in flags)
    exported = list(naming.FLAGS_PUBLIC)
    exported += [c.class_name for c in categories] + [class_name_for(f.path) for f in enums]
    defaults = pyexpr.call(
        "types.MappingProxyType",
        pyexpr.dict_of(
            [(pyexpr.Atom(pyexpr.string(f.key)), pyexpr.scalar(f.default)) for f in flags]
        ),
    )
    first = flags[0] if flags else None
    context = {
        "schema": schema,
        "flags": flags,
        "root": schema.root,
        "categories": categories,
        "enums": enums,
        "segments": [segments[name] for name in used_segments],
        "exported": sorted(exported, key=dunder_all_key),
        "defaults_expr": defaults,
        "example_getter": ".".join(first.path) if first else "name",
        "example_key": first.key if first else "name",
        "uses_targeting": uses_targeting,
        "uses_percent": uses_percent,
        "uses_rollout": uses_targeting or uses_percent,
        "uses_expiry": any(flag.expires is not None for flag in flags),
        "readers_used": readers_used,
        "bucketing_source": _bucketing_source(schema.bucketing),
        "provenance": provenance,
        "alias": lambda flag: class_name_for(flag.path),
        "literal": lambda flag: pyexpr.Bracketed(
            "Literal[", "]", tuple(pyexpr.Atom(pyexpr.string(v)) for v in flag.values)
        ),
        "category_slots": category_slots,
        "state_type": state_type,
        "state_default": state_default,
        "default_literal": lambda flag: _flag_literal(flag.default),
        "owner_expr": lambda flag: owners[flag.key],
        "root_expr": lambda flag: "self._root" if len(flag.path) > 1 else "self",
        "reader": reader,
        "signature": _signature,
        "getter_doc": _getter_doc,
        "expiry_timestamp": _expiry_timestamp,
        "segment_name": _segment_name,
        "segment_expr": _segment_expr,
        "targeting_name": _targeting_name,
        "targeting_expr": lambda flag: _targeting_expr(flag, segments),
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
        "override_type": lambda flag: (
            class_name_for(flag.path) if flag.kind == "enum" else flag.stored_python
        ),
    }
    return environment().get_template("testing.py.j2").render(context)
