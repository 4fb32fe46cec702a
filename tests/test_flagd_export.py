"""The flagd export gives what the generated getters give: checked with flagd's own
evaluator (openfeature-flagd-core) over many random contexts, for every flag kind and
targeting shape, with and without stored values."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import random
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openfeature.contrib.tools.flagd import core
from openfeature.evaluation_context import EvaluationContext

from configgen import bulk, flagd
from configgen.flags_reader import read_flags
from configgen.model import FlagsSchema
from configgen.render import render_flags
from tests.test_fuzz import _PROVENANCE, _exec

FLAGS_TOML = """\
[flags.checkout]
type = "bool"
default = false
users = ["alice", "carol"]
segments = ["staff", "eu", "tier", "beta", "mixed"]
rollout = 10.5

[flags.users_only]
type = "bool"
default = false
users = ["alice", "ünïcødé-✓"]

[flags.segment_only]
type = "bool"
default = false
segments = ["eu"]

[flags.rollout_only]
type = "bool"
default = false
rollout = 33.333

[flags.tiny_rollout]
type = "bool"
default = false
rollout = 0.001

[flags.almost_all]
type = "bool"
default = false
rollout = 99.999

[flags.zero_rollout]
type = "bool"
default = false
rollout = 0
users = ["bob"]

[flags.full_rollout]
type = "bool"
default = false
rollout = 100

[flags.on_by_default]
type = "bool"
default = true
rollout = 50
segments = ["beta"]

[flags.expired_targeted]
type = "bool"
default = false
users = ["alice"]
rollout = 80
expires = 2020-01-01

[flags.future_targeted]
type = "bool"
default = true
users = ["alice"]
rollout = 25
expires = 2999-12-31

[flags.plain]
type = "bool"
default = true

[flags.old_bool]
type = "bool"
default = true
expires = 2020-01-01

[flags.limits.max_items]
type = "int"
default = 50

[flags.limits.old_limit]
type = "int"
default = 7
expires = 2021-06-30

[flags.discount]
type = "float"
default = 0.15

[flags.greeting]
type = "string"
default = "Hello, \\"friend\\" ✓"

[flags.ui.theme]
type = "enum"
values = ["light", "dark", "high-contrast"]
default = "light"

[flags.ui.old_theme]
type = "enum"
values = ["light", "dark"]
default = "dark"
expires = 2020-01-01

[flags.ranker]
type = "percent"
default = 12.345

[flags.half]
type = "percent"
default = 50

[flags.none_yet]
type = "percent"
default = 0

[flags.everyone]
type = "percent"
default = 100

[flags.old_percent]
type = "percent"
default = 30
expires = 2020-01-01

[flags.future_percent]
type = "percent"
default = 10.5
expires = 2999-12-31

[segments.staff]
users = ["alice", "bob"]

[segments.eu]
attribute = "country"
in = ["DE", "FR", "AT"]

[segments.tier]
attribute = "tier"
in = [1, 2, 3.5]

[segments.beta]
attribute = "beta"
in = [true]

[segments.mixed]
attribute = "plan"
in = ["pro", 0, false, 7]
"""

STORED_VALUES: dict[str, object] = {
    "checkout": True,
    "users_only": False,
    "on_by_default": False,
    "expired_targeted": True,
    "future_targeted": False,
    "plain": False,
    "old_bool": False,
    "limits.max_items": 12,
    "limits.old_limit": 9,
    "discount": 0.5,
    "greeting": "hi",
    "ui.theme": "dark",
    "ui.old_theme": "light",
    "ranker": 66.6,
    "half": 100,
    "none_yet": 25.25,
    "everyone": 0,
    "old_percent": 90,
    "future_percent": 0.5,
}
LISTED = ["alice", "bob", "carol", "ünïcødé-✓", ""]
ATTRIBUTE_VALUES: list[object] = [
    "DE", "FR", "AT", "US", "de", "pro", "free", "1", "true", "false", "",
    1, 2, 3, 0, 7, 3.5, 2.5, -1, 10**6, True, False, 1.0, 0.0, 2.0, -1.0, 1e6,
    None, [1], ["DE"], [True], {"DE": 1}, {},
]  # fmt: skip


def _schema(tmp_path: Path) -> FlagsSchema:
    path = tmp_path / "flags.toml"
    path.write_text(FLAGS_TOML, encoding="utf-8")
    schema, diagnostics = read_flags(path, "flags.toml")
    assert schema is not None, diagnostics
    return schema


def _getter(flags: Any, key: str) -> Any:
    target = flags
    for part in key.split("."):
        target = getattr(target, part)
    return target


_RESOLVERS = {
    "bool": "resolve_boolean_value",
    "percent": "resolve_boolean_value",
    "int": "resolve_integer_value",
    "float": "resolve_float_value",
    "string": "resolve_string_value",
    "enum": "resolve_string_value",
}
_CALLER_DEFAULTS: dict[str, object] = {
    "bool": False, "percent": False, "int": -999, "float": -9.5, "string": "?", "enum": "?",
}  # fmt: skip


def _random_key(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.55:
        return str(uuid.UUID(int=rng.getrandbits(128)))
    if roll < 0.75:
        return rng.choice(LISTED)
    if roll < 0.9:
        return "".join(chr(rng.choice([rng.randint(32, 0x2FF), rng.randint(0x400, 0xD7FF), rng.randint(0x1F300, 0x1F64F)]))
                       for _ in range(rng.randint(1, 12)))  # fmt: skip
    return None


def _random_attributes(rng: random.Random) -> dict[str, object]:
    found = {}
    for name in ("country", "tier", "beta", "plan"):
        if rng.random() < 0.6:
            value = rng.choice(ATTRIBUTE_VALUES)
            if isinstance(value, str) and "\ud800" <= value <= "\udfff":
                continue
            found[name] = value
    return found


def _compare(
    module: ModuleType,
    evaluator: Any,
    schema: FlagsSchema,
    stored: dict[str, object],
    contexts: list[tuple[bool, str | None, dict[str, object]]],
) -> list[str]:
    flags = module.Flags(module.MemoryStore(stored))
    differences = []
    for has_context, key, attributes in contexts:
        ctx = module.EvaluationContext(key, attributes) if has_context else None
        theirs = EvaluationContext(key, dict(attributes)) if has_context else None
        for flag in schema.flags():
            expected = _getter(flags, flag.key)(ctx)
            resolve = getattr(evaluator, _RESOLVERS[flag.kind])
            found = resolve(flag.key, _CALLER_DEFAULTS[flag.kind], theirs)
            if (
                found.value != expected
                or type(found.value) is not type(expected)
                or found.variant is None  # the caller's default: never what a getter gives
            ):
                differences.append(
                    f"{flag.key} key={key!r} attributes={attributes!r}: "
                    f"getter {expected!r}, flagd {found.value!r} ({found.variant}, {found.reason})"
                )
    return differences


def _evaluator(document: dict[str, Any]) -> Any:
    evaluator = core.FlagdCore()
    evaluator.set_flags(json.dumps(document))  # as a file would carry it
    return evaluator


@pytest.mark.parametrize("with_stored", [False, True], ids=["defaults", "stored"])
def test_flagd_evaluates_the_export_as_the_getters_do(tmp_path: Path, with_stored: bool) -> None:
    schema = _schema(tmp_path)
    module = _exec(render_flags(schema, provenance=_PROVENANCE))
    flags = {flag.key: flag for flag in schema.flags()}
    stored = STORED_VALUES if with_stored else {}
    exported = bulk.export_values(stored, flags)
    assert not exported.invalid
    segments = {segment.name: segment for segment in schema.segments}
    evaluator = _evaluator(flagd.document(flags, segments, exported.values))
    rng = random.Random(20261125 + with_stored)
    contexts = [(False, None, {}), (True, "", {}), (True, None, {}), (True, "", {"beta": True})]
    contexts += [(True, _random_key(rng), _random_attributes(rng)) for _ in range(20_000)]
    assert _compare(module, evaluator, schema, stored, contexts) == []


def test_rollout_edges_over_many_keys(tmp_path: Path) -> None:
    """Decimal rollouts: flagd's fractional split and the getters agree key for key."""
    schema = _schema(tmp_path)
    module = _exec(render_flags(schema, provenance=_PROVENANCE))
    flags = {flag.key: flag for flag in schema.flags()}
    segments = {segment.name: segment for segment in schema.segments}
    rng = random.Random(7)
    for percentage in (0.001, 10.5, 12.345, 33.333, 99.999):
        stored = {"ranker": percentage}
        evaluator = _evaluator(flagd.document(flags, segments, stored))
        ranker = module.Flags(module.MemoryStore(stored)).ranker
        got = 0
        for _ in range(30_000):
            key = str(uuid.UUID(int=rng.getrandbits(128)))
            expected = ranker(module.EvaluationContext(key))
            found = evaluator.resolve_boolean_value("ranker", False, EvaluationContext(key))
            assert found.value is expected, (percentage, key)
            got += expected
        assert abs(got / 30_000 - percentage / 100) < 0.01


def test_the_document(tmp_path: Path) -> None:
    schema = _schema(tmp_path)
    flags = {flag.key: flag for flag in schema.flags()}
    segments = {segment.name: segment for segment in schema.segments}
    found = flagd.document(flags, segments, {"ranker": 20.5})
    assert found["$schema"] == "https://flagd.dev/schema/v0/flags.json"
    assert all(flag["state"] == "ENABLED" for flag in found["flags"].values())
    assert found["flags"]["ranker"]["targeting"] == {
        "if": [
            {"var": "targetingKey"},
            {"fractional": [["on", 20_500], ["off", 79_500]]},
            "off",
        ]
    }
    assert found["flags"]["old_bool"] == {
        "state": "ENABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": "on",
        "targeting": {"if": [{">=": [{"var": "$flagd.timestamp"}, 1_577_923_200]}, "on"]},
    }
    assert found["flags"]["limits.max_items"] == {
        "state": "ENABLED",
        "variants": {"default": 50},
        "defaultVariant": "default",
    }
    assert found["flags"]["ui.theme"]["variants"] == {
        "light": "light", "dark": "dark", "high-contrast": "high-contrast"
    }  # fmt: skip
    assert found["flags"]["users_only"]["targeting"] == {
        "if": [{"in": [{"var": "targetingKey"}, ["alice", "ünïcødé-✓"]]}, "on", "off"]
    }


def test_the_v2_export_guards_only_a_missing_key(tmp_path: Path) -> None:
    schema = dataclasses.replace(_schema(tmp_path), bucketing="flagd-v2")
    flags = {flag.key: flag for flag in schema.flags()}
    segments = {segment.name: segment for segment in schema.segments}
    found = flagd.document(flags, segments, {}, "flagd-v2")
    assert found["flags"]["ranker"]["targeting"]["if"][0] == {
        "!==": [{"var": "targetingKey"}, None]
    }


def test_numbers_compare_by_value_and_lists_match_nothing(tmp_path: Path) -> None:
    """JSON has one number type: a segment value 1 matches an attribute 1.0 in both; a list
    or an object matches no segment value in either, and the next rule is tried."""
    schema = _schema(tmp_path)
    module = _exec(render_flags(schema, provenance=_PROVENANCE))
    flags = {flag.key: flag for flag in schema.flags()}
    segments = {segment.name: segment for segment in schema.segments}
    evaluator = _evaluator(flagd.document(flags, segments))
    getters = module.Flags(module.MemoryStore())
    for attributes, expected in [
        ({"tier": 1.0}, True),
        ({"tier": 1}, True),
        ({"tier": True}, False),
        ({"tier": [1]}, False),
        ({"tier": {"1": 1}}, False),
    ]:
        ctx = module.EvaluationContext("zed", attributes)
        assert getters.checkout(ctx) is expected
        found = evaluator.resolve_boolean_value(
            "checkout", False, EvaluationContext("zed", attributes)
        )
        assert found.value is expected
    assert getters.fallbacks() == {}


def test_the_command(tmp_path: Path, cli: Any) -> None:
    from tests.conftest import write_project

    root = write_project(tmp_path / "proj", "[server]\nport = 1\n", extra='flags = "flags.toml"\n')
    (root / "flags.toml").write_text(FLAGS_TOML, encoding="utf-8")
    store = ["--store", f"file://{tmp_path / 'o.toml'}"]
    assert cli("flags", "set", "ranker", "40", "--project", root, *store).code == 0
    assert cli("flags", "set", "ui.theme", "dark", "--project", root, *store).code == 0
    out = tmp_path / "flags.flagd.json"
    done = cli("flags", "export", "--format", "flagd", "--project", root, *store, "-o", out)
    assert (done.code, done.err) == (0, "")
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["$schema"] == flagd.SCHEMA_URL
    assert document["flags"]["ui.theme"]["defaultVariant"] == "dark"
    split = document["flags"]["ranker"]["targeting"]["if"][1]["fractional"]
    assert split == [["on", 40_000], ["off", 60_000]]
    # without --store: the definitions alone, on standard output
    alone = cli("flags", "export", "--format", "flagd", "--project", root, "ui.theme")
    assert alone.code == 0
    assert json.loads(alone.out)["flags"] == {
        "ui.theme": {
            "state": "ENABLED",
            "variants": {"light": "light", "dark": "dark", "high-contrast": "high-contrast"},
            "defaultVariant": "light",
        }
    }
    # json and toml still need a store
    assert cli("flags", "export", "--project", root).code == 2
    values = cli("flags", "export", "--project", root, *store)
    assert json.loads(values.out) == {"ranker": 40.0, "ui.theme": "dark"}


def test_the_command_follows_the_bucketing_setting(tmp_path: Path, cli: Any) -> None:
    from tests.conftest import write_project

    extra = 'flags = "flags.toml"\nbucketing = "flagd-v2"\n'
    root = write_project(tmp_path / "proj", "[server]\nport = 1\n", extra=extra)
    (root / "flags.toml").write_text(FLAGS_TOML, encoding="utf-8")
    done = cli("flags", "export", "--format", "flagd", "--project", root, "ranker")
    assert done.code == 0, done.err
    guard = json.loads(done.out)["flags"]["ranker"]["targeting"]["if"][0]
    assert guard == {"!==": [{"var": "targetingKey"}, None]}


_NAMES = st.text(alphabet="abAB-_", min_size=1, max_size=3)  # names that meet when upper-cased
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=8)
_USERS = st.lists(st.sampled_from([u for u in LISTED if u]), min_size=1, max_size=3, unique=True)
_PERCENT = st.one_of(
    st.sampled_from([0, 100, 0.001, 99.999, 50]), st.floats(0, 100), st.integers(0, 100)
)
_EXPIRES = st.sampled_from([datetime.date(2020, 1, 1), datetime.date(2999, 1, 1)])
_SEGMENT_VALUE = st.one_of(
    st.sampled_from([v for v in ATTRIBUTE_VALUES if isinstance(v, (str, int, float))]),
    st.integers(-3, 3),
    st.floats(-3, 3, allow_nan=False).map(lambda f: round(f, 1)),
)


@st.composite
def _flags_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A random valid flags.toml, as data: every kind, every targeting shape."""
    segments: dict[str, Any] = {}
    for name in draw(st.lists(_NAMES, max_size=3, unique=True)):
        if draw(st.booleans()):
            segments[name] = {"users": draw(st.one_of(_USERS, st.just([])))}
        else:
            attribute = draw(st.sampled_from(["country", "tier", "beta", "plan"]))
            segments[name] = {
                "attribute": attribute,
                "in": draw(st.lists(_SEGMENT_VALUE, min_size=1, max_size=4)),
            }
    flags: dict[str, Any] = {}
    for index in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["bool", "percent", "int", "float", "string", "enum"]))
        flag: dict[str, Any] = {"type": kind}
        if kind == "bool":
            flag["default"] = draw(st.booleans())
            if draw(st.booleans()):
                flag["users"] = draw(_USERS)
            if segments and draw(st.booleans()):
                flag["segments"] = draw(
                    st.lists(st.sampled_from(sorted(segments)), min_size=1, unique=True)
                )
            if draw(st.booleans()):
                flag["rollout"] = draw(_PERCENT)
        elif kind == "percent":
            flag["default"] = draw(_PERCENT)
        elif kind == "int":
            flag["default"] = draw(st.integers(-(2**63), 2**63 - 1))
        elif kind == "float":
            flag["default"] = draw(st.floats(allow_nan=False, allow_infinity=False))
        elif kind == "string":
            flag["default"] = draw(_TEXT)
        else:
            flag["values"] = draw(st.lists(_TEXT.filter(bool), min_size=1, max_size=4, unique=True))
            flag["default"] = draw(st.sampled_from(flag["values"]))
        if draw(st.booleans()):
            flag["expires"] = draw(_EXPIRES)
        (flags.setdefault("group", {}) if index % 2 else flags)[f"f{index}"] = flag
    return {"flags": flags, "segments": segments} if segments else {"flags": flags}


@settings(
    max_examples=int(os.environ.get("FLAGD_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(document=_flags_documents(), seed=st.integers(0, 2**32))
def test_any_flags_file_exports_exactly(
    tmp_path_factory: pytest.TempPathFactory, document: dict[str, Any], seed: int
) -> None:
    """Random flags.toml files, each compared with flagd over random contexts."""
    path = tmp_path_factory.mktemp("flags") / "flags.toml"
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
    schema, diagnostics = read_flags(path, "flags.toml")
    assert schema is not None, diagnostics
    module = _exec(render_flags(schema, provenance=_PROVENANCE))
    flags = {flag.key: flag for flag in schema.flags()}
    segments = {segment.name: segment for segment in schema.segments}
    evaluator = _evaluator(flagd.document(flags, segments))
    rng = random.Random(seed)
    contexts = [(False, None, {}), (True, "", {}), (True, None, {})]
    contexts += [(True, _random_key(rng), _random_attributes(rng)) for _ in range(300)]
    assert _compare(module, evaluator, schema, {}, contexts) == []


def test_segment_names_that_meet_in_upper_case_stay_apart(tmp_path: Path) -> None:
    document = {
        "flags": {"y": {"type": "bool", "default": False, "segments": ["EU", "eu-west"]}},
        "segments": {
            "eu": {"attribute": "country", "in": ["DE"]},
            "EU": {"attribute": "country", "in": [1]},
            "eu_west": {"attribute": "region", "in": ["x"]},
            "eu-west": {"attribute": "region", "in": ["y"]},
            "nobody": {"users": []},
        },
    }
    path = tmp_path / "flags.toml"
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
    schema, diagnostics = read_flags(path, "flags.toml")
    assert schema is not None, diagnostics
    module = _exec(render_flags(schema, provenance=_PROVENANCE))
    flags = module.Flags(module.MemoryStore())
    assert flags.y(module.EvaluationContext("k", {"country": 1})) is True
    assert flags.y(module.EvaluationContext("k", {"country": "DE"})) is False
    assert flags.y(module.EvaluationContext("k", {"region": "y"})) is True
    assert flags.y(module.EvaluationContext("k", {"region": "x"})) is False
