"""`configgen.evaluation.explain` gives what the generated getters give, and says why."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from configgen.evaluation import explain
from configgen.flags_reader import read_flags
from configgen.render import render_flags
from tests.conftest import DATA

SCHEMA, _ = read_flags(DATA / "everything_flags.toml", "flags.toml")
assert SCHEMA is not None
FLAGS = {flag.key: flag for flag in SCHEMA.flags()}
SEGMENTS = {segment.name: segment for segment in SCHEMA.segments}

STORED = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 120),
    st.floats(-1, 150, allow_nan=False),
    st.sampled_from(["true", "no", "7", "12.5", "dark", "x", "", "1e400", "nan"]),
)
KEYS = st.one_of(st.none(), st.sampled_from(["alice", "bob", "carol", "dave"]), st.text(max_size=6))
ATTRIBUTES = st.dictionaries(
    st.sampled_from(["country", "plan"]),
    st.one_of(st.sampled_from(["DE", "US", "pro", 1, True]), st.just([1]), st.just({"a": 1})),
    max_size=2,
)


def _getter(flags: Any, key: str) -> Any:
    target = flags
    *categories, name = key.split(".")
    for category in categories:
        target = getattr(target, category)
    return getattr(target, name.replace("-", "_"))


@settings(max_examples=300, deadline=None)
@example(key="discount", stored="nan", targeting_key=None, attributes={}, has_context=False)
@example(key="discount", stored="1e400", targeting_key=None, attributes={}, has_context=False)
@example(key="max_items", stored=2**70, targeting_key=None, attributes={}, has_context=False)
@example(key="new_checkout", stored=None, targeting_key="x", attributes={"country": True},
         has_context=True)  # fmt: skip
@example(key="new_checkout", stored=None, targeting_key="", attributes={}, has_context=True)
@given(
    key=st.sampled_from(sorted(FLAGS)),
    stored=STORED,
    targeting_key=KEYS,
    attributes=ATTRIBUTES,
    has_context=st.booleans(),
)
def test_explain_agrees_with_the_generated_getters(
    flags_package: Path,
    key: str,
    stored: object,
    targeting_key: str | None,
    attributes: dict[str, object],
    has_context: bool,
) -> None:
    module = importlib.import_module("ffapp.configgen_flags")
    store = module.MemoryStore({} if stored is None else {key: stored})
    flags = module.Flags(store)
    ctx = module.EvaluationContext(targeting_key, attributes) if has_context else None
    expected = _getter(flags, key)(ctx)
    found = explain(FLAGS[key], SEGMENTS, stored, targeting_key, attributes,
                    has_context=has_context)  # fmt: skip
    assert found.value == expected, found
    assert type(found.value) is type(expected)


def test_the_reasons_read_well() -> None:
    checkout = FLAGS["new_checkout"]
    assert (
        explain(checkout, SEGMENTS, None, "alice").reason == "the targeting key 'alice' is in users"
    )
    assert explain(checkout, SEGMENTS, None, "zed", {"country": "FR"}).reason == (
        "in segment 'eu' (country = 'FR')"
    )
    assert explain(checkout, SEGMENTS, "false", "alice") == (
        False,
        "stored",
        "the stored value, served to everyone",
    )
    old = explain(FLAGS["old_banner"], SEGMENTS, "true")
    assert (old.source, old.reason) == ("expired", "expired on 2020-01-01: the default")
    bad = explain(FLAGS["max_items"], SEGMENTS, "lots")
    assert bad.value == 50 and bad.reason.startswith("the stored 'lots' is not valid")


@settings(max_examples=300, deadline=None)
@given(
    key=st.sampled_from(sorted(FLAGS)),
    stored=STORED,
    targeting_key=st.one_of(st.just(""), KEYS),
    attributes=ATTRIBUTES,
)
def test_explain_agrees_with_flagd_v2_getters(
    key: str, stored: object, targeting_key: str | None, attributes: dict[str, object]
) -> None:
    module = _V2_MODULE
    flags = module.Flags(module.MemoryStore({} if stored is None else {key: stored}))
    expected = _getter(flags, key)(module.EvaluationContext(targeting_key, attributes))
    found = explain(FLAGS[key], SEGMENTS, stored, targeting_key, attributes, scheme="flagd-v2")
    assert found.value == expected, found
    assert type(found.value) is type(expected)


def test_an_empty_key_has_no_bucket_in_v3() -> None:
    rollout = FLAGS["new_checkout"]
    v3 = explain(rollout, SEGMENTS, None, "")
    assert v3.source == "default"
    assert "an empty targeting key has no bucket (flagd-v3)" in v3.reason
    v2 = explain(rollout, SEGMENTS, None, "", scheme="flagd-v2")
    assert v2.reason.startswith("not targeted (bucket 18,110 of 100,000")


def _module_for(scheme: str) -> Any:
    from tests.test_fuzz import _PROVENANCE, _exec

    assert SCHEMA is not None
    return _exec(
        render_flags(dataclasses.replace(SCHEMA, bucketing=scheme), provenance=_PROVENANCE)
    )


_V2_MODULE = _module_for("flagd-v2")
