"""Property: every leaf of the TOML ends up in the schema, or the file gets a diagnostic.

Documents are written with tables in random order, split across the file and as
dotted keys, the ways TOML allows one table to be written in several places.
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from configgen.config_reader import read_config
from configgen.flags_reader import read_flags
from configgen.model import Section

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

NAMES = st.sampled_from(["a", "b", "ui", "theme", "new-x", "c2"])
FLAG_VALUES = st.one_of(
    st.booleans(),
    st.integers(-5, 200),
    st.floats(-1, 150, allow_nan=False),
    st.sampled_from(["x", "y", ""]),
    st.just(datetime.date(2030, 1, 2)),
    st.lists(st.sampled_from(["u", "v", "staff"]), max_size=2),
)
RANDOM_BODIES = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["bool", "int", "float", "string", "enum", "percent", "nope"]),
        "default": FLAG_VALUES,
    },
    optional={
        "description": st.sampled_from(["d", 1]),
        "values": st.just(["x", "y"]),
        "users": st.lists(st.sampled_from(["u", "v"]), max_size=2),
        "segments": st.just(["staff"]),
        "rollout": st.sampled_from([0, 12.5, 100, 101]),
        "expires": st.just(datetime.date(2031, 5, 6)),
        "colour": st.just("red"),
    },
)
DEFAULTS = {
    "bool": st.booleans(),
    "int": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(-1e9, 1e9, allow_nan=False),
    "string": st.sampled_from(["", "x", "a b"]),
    "enum": st.sampled_from(["x", "y"]),
    "percent": st.floats(0, 100, allow_nan=False),
}


@st.composite
def valid_bodies(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(DEFAULTS)))
    body: dict[str, Any] = {"type": kind, "default": draw(DEFAULTS[kind])}
    if kind == "enum":
        body["values"] = ["x", "y"]
    optional = {
        "description": st.sampled_from(["d", "a longer one"]),
        "expires": st.just(datetime.date(2031, 5, 6)),
    }
    if kind == "bool":
        optional.update(
            users=st.lists(st.sampled_from(["u", "v"]), max_size=2),
            segments=st.just(["staff"]),
            rollout=st.floats(0, 100, allow_nan=False),
        )
    body.update(draw(st.fixed_dictionaries({}, optional=optional)))
    return body


FLAG_BODIES = st.one_of(valid_bodies(), valid_bodies(), valid_bodies(), RANDOM_BODIES)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, (datetime.date, int, float)):
        return str(value) if not isinstance(value, float) else repr(value)
    raise AssertionError(value)


@st.composite
def flags_documents(draw: st.DrawFn) -> str:
    """A flags.toml whose flags are written as headers or dotted keys, in any order."""
    paths = draw(st.lists(st.lists(NAMES, min_size=1, max_size=2).map(tuple), min_size=1,
                          max_size=5, unique=True))  # fmt: skip
    dotted_lines: list[str] = []
    tables: list[str] = []
    for path in paths:
        body = draw(FLAG_BODIES)
        key = "flags." + ".".join(path)
        if draw(st.booleans()):
            dotted_lines += [f"{key}.{name} = {_literal(value)}" for name, value in body.items()]
        else:
            lines = [f"{name} = {_literal(value)}" for name, value in body.items()]
            tables.append(f"[{key}]\n" + "\n".join(lines))
    segment = '[segments.staff]\nusers = ["alice"]'
    tables.insert(draw(st.integers(0, len(tables))), segment)
    return "\n".join(dotted_lines) + "\n" + "\n\n".join(tables) + "\n"


def _leaves(table: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for key, value in table.items():
        if isinstance(value, dict):
            found += _leaves(value, (*prefix, key))
        else:
            found.append((*prefix, key))
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=flags_documents())
def test_every_flag_leaf_is_in_the_schema_or_diagnosed(tmp_path_factory: Any, text: str) -> None:
    try:
        plain = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        assume(False)
    path = Path(tmp_path_factory.mktemp("f")) / "flags.toml"
    path.write_text(text, encoding="utf-8")
    schema, diagnostics = read_flags(path, "flags.toml")
    if schema is None:
        assert diagnostics, text
        return
    assert not diagnostics
    flags = {flag.key: flag for flag in schema.flags()}
    for leaf in _leaves(plain["flags"]):
        *flag_path, attribute = leaf
        key = ".".join(part.replace("-", "_") for part in flag_path)
        assert key in flags, (leaf, text)
        flag = flags[key]
        value = plain["flags"]
        for part in leaf:
            value = value[part]
        stored = getattr(flag, {"type": "kind"}.get(attribute, attribute))
        if attribute in ("users", "segments", "values"):
            stored = list(stored)
        assert stored == value, (leaf, stored, value, text)
    assert [segment.name for segment in schema.segments] == ["staff"]


CONFIG_VALUES = st.one_of(
    st.booleans(), st.integers(-5, 5), st.sampled_from(["s", "t"]), st.lists(st.integers(0, 3), min_size=1, max_size=2)
)  # fmt: skip


@st.composite
def config_documents(draw: st.DrawFn) -> str:
    """A config.toml with root keys, tables in any order, split tables and dotted keys."""
    root = draw(st.dictionaries(NAMES, CONFIG_VALUES, max_size=2))
    lines = [f"{key} = {_literal(value)}" for key, value in root.items()]
    paths = draw(st.lists(st.lists(NAMES, min_size=1, max_size=2).map(tuple), min_size=1,
                          max_size=4, unique=True))  # fmt: skip
    for path in paths:
        body = draw(st.dictionaries(NAMES, CONFIG_VALUES, min_size=1, max_size=3))
        if draw(st.booleans()):
            lines.append(f"[{'.'.join(path)}]")
            lines += [f"{key} = {_literal(value)}" for key, value in body.items()]
        else:
            lines.append(f"[{'.'.join(path[:-1])}]" if len(path) > 1 else "[zz]")
            lines += [f"{path[-1]}.{key} = {_literal(value)}" for key, value in body.items()]
    return "\n".join(lines) + "\n"


def _defaults(section: Section) -> dict[tuple[str, ...], Any]:
    found: dict[tuple[str, ...], Any] = {f.path: f.default for f in section.fields}
    for sub in section.sections:
        found.update(_defaults(sub))
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=config_documents())
def test_every_config_leaf_is_in_the_schema_or_diagnosed(tmp_path_factory: Any, text: str) -> None:
    try:
        plain = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        assume(False)
    path = Path(tmp_path_factory.mktemp("c")) / "config.toml"
    path.write_text(text, encoding="utf-8")
    schema, diagnostics = read_config(path, "config.toml", "APP_")
    if schema is None:
        assert diagnostics, text
        return
    defaults = _defaults(schema.root)
    for leaf in _leaves(plain):
        value: Any = plain
        for part in leaf:
            value = value[part]
        assert leaf in defaults, (leaf, text)
        assert defaults[leaf] == value, (leaf, text)
