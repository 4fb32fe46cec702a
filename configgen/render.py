"""Rendering: the model -> the text of the generated modules, through jinja2 templates."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2

from configgen import pyexpr
from configgen.model import (
    ConfigSchema,
    Field,
    FieldType,
    ListOf,
    MapOf,
    Scalar,
    Section,
    SectionRef,
)

_HERE = Path(__file__).resolve().parent


def templates_dir() -> Path:
    """Where the templates are: inside the installed package, or at the top of a checkout."""
    for candidate in (_HERE / "templates", _HERE.parent / "templates"):
        if (candidate / "config.py.j2").is_file():
            return candidate
    raise FileNotFoundError(f"configgen's templates are missing (looked in {_HERE / 'templates'})")


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
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
        all_names=lambda names: sorted(
            names, key=lambda n: (0 if n.isupper() else 1 if n[:1].isupper() else 2, n)
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


def render_config(schema: ConfigSchema, *, source_hash: str) -> str:
    """The text of ``configgen_config.py`` for *schema*."""
    classes = schema.classes()
    sections = [s for s in schema.root.walk() if s is not schema.root]
    fields = schema.fields()
    kinds = {f.type for f in fields}

    def uses(predicate: Any) -> bool:
        seen: set[FieldType] = set()

        def visit(field_type: FieldType) -> bool:
            if field_type in seen:
                return False
            seen.add(field_type)
            if predicate(field_type):
                return True
            if isinstance(field_type, ListOf):
                return visit(field_type.item)
            if isinstance(field_type, MapOf):
                return visit(field_type.value)
            return False

        every = kinds | {f.type for entry in schema.entries for s in entry.walk() for f in s.fields}
        return any(visit(kind) for kind in every)

    scalars = sorted(
        {t.kind for t in _all_types(schema) if isinstance(t, Scalar)},
        key=("str", "int", "float", "bool", "datetime", "date", "time").index,
    )
    owners = {id(f): s for s in schema.root.walk() for f in s.fields}
    entries = {section.class_name: section for section in classes}
    context = {
        "default_of": lambda field: default_expr(field, entries),
        "schema": schema,
        "classes": classes,
        "sections": sections,
        "fields": fields,
        "entries": [s for entry in schema.entries for s in entry.walk()],
        "scalars": scalars,
        "uses_datetime": uses(
            lambda t: isinstance(t, Scalar) and t.kind in ("datetime", "date", "time")
        ),
        "uses_lists": uses(lambda t: isinstance(t, ListOf)),
        "uses_maps": uses(lambda t: isinstance(t, MapOf)),
        "uses_rules": any(f.rules for f in fields),
        "uses_pattern": any(f.rules.pattern is not None for f in fields),
        "config_file_env": f"{schema.env_prefix}CONFIG_FILE",
        "source_hash": source_hash,
        "snake": _snake,
        "entry_specs": entry_specs,
        "field_specs": lambda fields: [field_spec(f, owners[id(f)]) for f in fields],
        "section_specs": lambda sections: [section_spec(s) for s in sections],
        "scalar_kind": scalar_kind,
    }
    return environment().get_template("config.py.j2").render(context)


def _all_types(schema: ConfigSchema) -> set[FieldType]:
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


__all__ = ["SectionRef", "render_config", "templates_dir", "value_expr"]
