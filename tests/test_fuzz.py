"""Property tests: any TOML document gives a module that round-trips it, or diagnostics."""

from __future__ import annotations

import contextlib
import datetime
import keyword
import math
import os
import string
from pathlib import Path
from types import ModuleType
from typing import Any

import tomlkit
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from configgen import directives
from configgen.config_reader import read_config
from configgen.render import Provenance, render_config

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

keys = st.one_of(
    st.from_regex(r"[a-z][a-z0-9_\-]{0,12}", fullmatch=True),
    st.text(string.ascii_letters + string.digits + "-_ .é", min_size=1, max_size=8),
)
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.datetimes(
        min_value=datetime.datetime(1, 1, 1),
        timezones=st.none()
        | st.just(datetime.timezone.utc)
        | st.builds(
            lambda m: datetime.timezone(datetime.timedelta(minutes=m)), st.integers(-1439, 1439)
        ),
    ),
    st.dates(),
    st.times(),
)
homogeneous_lists = st.one_of(
    st.lists(st.booleans(), min_size=1, max_size=4),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=1, max_size=4),
    st.lists(st.text(max_size=10), min_size=1, max_size=4),
    st.lists(st.lists(st.integers(-5, 5), min_size=1, max_size=3), min_size=1, max_size=3),
)
values = st.one_of(scalars, homogeneous_lists, st.lists(scalars, max_size=3))
documents = st.recursive(
    st.dictionaries(keys, values, min_size=1, max_size=5),
    lambda children: st.dictionaries(keys, st.one_of(values, children), min_size=1, max_size=4),
    max_leaves=12,
)


def _toml(document: dict[str, Any]) -> str:
    return tomlkit.dumps(document)


_PROVENANCE = Provenance("sha256:0", "config.toml", "../config.toml", "sha256:0")


def _exec(source: str) -> ModuleType:
    module = ModuleType("fuzzed_config")
    module.__file__ = "/nonexistent/configgen_config.py"
    import sys

    sys.modules["fuzzed_config"] = module  # dataclasses look their module up
    exec(compile(source, "configgen_config.py", "exec"), module.__dict__)
    return module


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, float):
        return isinstance(actual, float) and (
            expected == actual or (math.isnan(expected) and math.isnan(actual))
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, tuple)
            and len(expected) == len(actual)
            and all(_same(e, a) for e, a in zip(expected, actual, strict=False))
        )
    return type(expected) is type(actual) and expected == actual


def _round_trips(document: dict[str, Any], instance: Any) -> None:
    for key, value in document.items():
        attribute = getattr(instance, key.replace("-", "_"))
        if isinstance(value, dict):
            _round_trips(value, attribute)
        else:
            assert _same(value, attribute), (key, value, attribute)


@FUZZ
@given(documents)
def test_documents_round_trip_or_give_diagnostics(
    tmp_path_factory: Any, document: dict[str, Any]
) -> None:
    path: Path = tmp_path_factory.mktemp("fuzz") / "config.toml"
    path.write_text(_toml(document), encoding="utf-8")
    schema, diagnostics = read_config(path, "config.toml", "APP_")
    event("diagnostics" if schema is None else "module")
    if schema is None:
        assert diagnostics
        assert all(d.line >= 1 and d.col >= 1 and d.message for d in diagnostics)
        return
    module = _exec(render_config(schema, provenance=_PROVENANCE))
    _round_trips(document, module.default_config())


@FUZZ
@given(st.text(max_size=200))
def test_any_text_gives_a_schema_or_diagnostics(tmp_path_factory: Any, text: str) -> None:
    path: Path = tmp_path_factory.mktemp("fuzz") / "config.toml"
    path.write_text(
        text, encoding="utf-8", errors="surrogatepass"
    ) if "\ud800" not in text else None
    if not path.exists():
        return
    schema, diagnostics = read_config(path, "config.toml", "APP_")
    assert (schema is None) == bool(diagnostics)


@FUZZ
@given(st.text(max_size=60))
def test_directive_comments_parse_or_raise_directive_error(comment: str) -> None:
    if directives.is_directive_comment(comment):
        with contextlib.suppress(directives.DirectiveError):
            directives.parse(comment)


SAMPLE = """\
name = "svc"
ratio = 0.5  # validate: min=0,max=1
when = 2024-01-01T00:00:00Z
tags = ["a"]
matrix = [[1]]
[server]
port = 8080  # validate: min=1,max=65535
mode = "a"  # validate: oneof=a|b
token = ""  # sensitive
[labels]  # map
x = 1
"""


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "APP_NAME",
                "APP_RATIO",
                "APP_WHEN",
                "APP_TAGS",
                "APP_MATRIX",
                "APP_SERVER_PORT",
                "APP_SERVER_MODE",
                "APP_SERVER_TOKEN",
                "APP_LABELS",
                "APP_OTHER",
            ]
        ),
        st.one_of(
            st.text(max_size=20),
            st.from_regex(r"-?[0-9]{1,5}", fullmatch=True),
            st.sampled_from(["[1, 2]", "[[1]]", "{x = 2}", "true", "2024-02-03", "a,b"]),
        ),
    )
)
def test_random_environments_load_or_raise_config_error(
    tmp_path_factory: Any, env: dict[str, str]
) -> None:
    global _sample_module
    if _sample_module is None:
        path: Path = tmp_path_factory.mktemp("fuzz") / "config.toml"
        path.write_text(SAMPLE)
        schema, diagnostics = read_config(path, "config.toml", "APP_")
        assert schema is not None, diagnostics
        _sample_module = _exec(render_config(schema, provenance=_PROVENANCE))
    module = _sample_module
    try:
        config = module.load_config(env=env)
    except module.ConfigError as exc:
        assert exc.problems
        if "APP_SERVER_TOKEN" in env and env["APP_SERVER_TOKEN"].strip():
            assert all(
                env["APP_SERVER_TOKEN"] not in str(p) or env["APP_SERVER_TOKEN"] in "***"
                for p in exc.problems
                if p.field == "server.token"
            )
        return
    assert isinstance(config, module.Config)
    if "APP_SERVER_PORT" in env:
        assert config.server.port == int(env["APP_SERVER_PORT"])


_sample_module: ModuleType | None = None


def test_keywords_never_become_fields(tmp_path: Path) -> None:
    for word in keyword.kwlist[:5]:
        path = tmp_path / "config.toml"
        path.write_text(f"{word} = 1\n")
        assert read_config(path, "config.toml", "")[0] is None


long_values = st.one_of(
    st.text(string.printable, min_size=0, max_size=120),
    st.lists(st.text(string.ascii_letters + " \"'\\", max_size=40), min_size=1, max_size=8),
    st.lists(
        st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=6), min_size=1, max_size=5
    ),
    st.datetimes(
        timezones=st.none() | st.just(datetime.timezone(datetime.timedelta(hours=5, minutes=30)))
    ),
    st.dictionaries(
        st.from_regex(r"[a-z]{1,30}", fullmatch=True),
        st.text(string.ascii_letters, max_size=40),
        min_size=1,
        max_size=5,
    ),
)


@settings(
    max_examples=int(os.environ.get("RUFF_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z_]{0,40}", fullmatch=True), long_values, min_size=1, max_size=4
    )
)
def test_generated_code_is_stable_under_ruff_format(
    tmp_path_factory: Any, document: dict[str, Any]
) -> None:
    import subprocess
    import sys

    lines = []
    for key, value in document.items():
        if isinstance(value, dict):
            continue
        lines.append(f"{key} = {tomlkit.item(value).as_string()}")
    maps = {k: v for k, v in document.items() if isinstance(v, dict)}
    text = (
        "\n".join(lines)
        + "\n"
        + "".join(
            f"\n[{key}]  # map\n"
            + "".join(f"{k} = {tomlkit.item(v).as_string()}\n" for k, v in value.items())
            for key, value in maps.items()
        )
    )
    folder: Path = tmp_path_factory.mktemp("ruff")
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    schema, _diagnostics = read_config(path, "config.toml", "APP_")
    if schema is None:
        return
    out = folder / "configgen_config.py"
    out.write_text(render_config(schema, provenance=_PROVENANCE), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--isolated", "--no-cache", "--diff", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


flag_kinds = st.sampled_from(["bool", "int", "float", "string", "enum", "percent", "boolean", 3])
flag_values = st.one_of(
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.floats(-10, 200),
    st.text(max_size=8),
    st.dates(),
)
flag_tables = st.fixed_dictionaries(
    {"type": flag_kinds, "default": flag_values},
    optional={
        "values": st.lists(st.text(max_size=6), max_size=4),
        "users": st.lists(st.text(max_size=5), max_size=3),
        "segments": st.lists(st.sampled_from(["staff", "eu", "nope"]), max_size=2),
        "rollout": flag_values,
        "expires": st.one_of(st.dates(), st.text(max_size=5)),
        "description": st.text(max_size=20),
    },
)
valid_flag_tables = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("bool"), "default": st.booleans()},
        optional={
            "users": st.lists(st.text(min_size=1, max_size=5), max_size=3),
            "segments": st.lists(st.sampled_from(["staff", "eu"]), max_size=2, unique=True),
            "rollout": st.floats(0, 100),
            "expires": st.dates(),
        },
    ),
    st.fixed_dictionaries({"type": st.just("int"), "default": st.integers(-(2**63), 2**63 - 1)}),
    st.fixed_dictionaries({"type": st.just("string"), "default": st.text(max_size=10)}),
    st.fixed_dictionaries({"type": st.just("percent"), "default": st.floats(0, 100)}),
    st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=4, unique=True).flatmap(
        lambda values: st.fixed_dictionaries(
            {"type": st.just("enum"), "values": st.just(values), "default": st.sampled_from(values)}
        )
    ),
)
flag_tables = st.one_of(valid_flag_tables, valid_flag_tables, flag_tables)
flag_documents = st.fixed_dictionaries(
    {
        "flags": st.dictionaries(
            keys,
            st.one_of(flag_tables, st.dictionaries(keys, flag_tables, min_size=1, max_size=3)),
            min_size=1,
            max_size=4,
        )
    },
    optional={
        "segments": st.just({"staff": {"users": ["a"]}, "eu": {"attribute": "c", "in": ["x"]}})
    },
)


@FUZZ
@given(flag_documents)
def test_flags_documents_give_a_module_or_diagnostics(
    tmp_path_factory: Any, document: dict[str, Any]
) -> None:
    from configgen.flags_reader import read_flags
    from configgen.render import render_flags

    path: Path = tmp_path_factory.mktemp("fuzz") / "flags.toml"
    path.write_text(_toml(document), encoding="utf-8")
    schema, diagnostics = read_flags(path, "flags.toml")
    event("diagnostics" if schema is None else "module")
    if schema is None:
        assert diagnostics and all(d.line >= 1 and d.col >= 1 for d in diagnostics)
        return
    module = _exec(render_flags(schema, provenance=_PROVENANCE))
    flags = module.Flags()
    for flag in schema.flags():
        owner = flags
        for part in flag.path[:-1]:
            owner = getattr(owner, part)
        value = getattr(owner, flag.name)(module.EvaluationContext("someone"))
        if flag.kind == "percent":
            assert isinstance(value, bool)
        elif flag.expires is None or not flag.targeted:
            assert value == flag.default or flag.targeted
