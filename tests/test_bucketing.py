"""The one bucketing function, both schemes: pinned vectors, flagd's own evaluator, uniform,
monotonic, portable."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import cbor2
import mmh3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from configgen import bucketing
from configgen.bucketing import (
    RESOLUTION,
    bucket,
    bucket_v2,
    cbor_pair,
    in_rollout,
    in_rollout_v2,
    murmur3_32,
)

GOLDEN_FLAGS = Path(__file__).resolve().parent / "golden" / "everything" / "configgen_flags.py"

# Published in docs/flags.md: (data, murmur3_32) and (flag key, targeting key, bucket).
HASH_VECTORS = [
    ("", 0),
    ("a", 1009084850),
    ("abcd", 1139631978),
    ("hello", 613153351),
    ("The quick brown fox jumps over the lazy dog", 776992547),
    ("héllo wörld ✓", 238508760),
]
# flagd-v3 (the default): murmur3_32 of the canonical CBOR of [flag key, targeting key].
BUCKET_VECTORS = [
    ("new_checkout", "alice", 66251),
    ("new_checkout", "bob", 23710),
    ("new_checkout", "user-1", 64052),
    ("search.new_ranker", "user-1", 59172),
    ("search.new_ranker", "user-2", 98158),
    ("ui.theme", "42", 33208),
    ("", "only-key", 69137),
    ("new_checkout", "héllo wörld ✓", 58242),
    ("new_checkout", "x" * 30, 65039),
]
CBOR_VECTORS = [
    ("new_checkout", "alice", "826c6e65775f636865636b6f757465616c696365", 2845466319),
    ("ui.theme", "42", "826875692e7468656d65623432", 1426294651),
    ("", "only-key", "8260686f6e6c792d6b6579", 2969433380),
]
# flagd-v2: murmur3_32 of the UTF-8 of flag key + targeting key.
BUCKET_VECTORS_V2 = [
    ("new_checkout", "alice", 91558),
    ("new_checkout", "bob", 96613),
    ("new_checkout", "user-1", 7768),
    ("search.new_ranker", "user-1", 71879),
    ("search.new_ranker", "user-2", 38473),
    ("ui.theme", "42", 38755),
    ("new_checkout", "", 18110),
    ("", "only-key", 49754),
]


@pytest.mark.parametrize(("data", "expected"), HASH_VECTORS)
def test_hash_vectors(data: str, expected: int) -> None:
    assert murmur3_32(data.encode()) == expected
    assert mmh3.hash(data.encode(), signed=False) == expected  # the reference implementation


@pytest.mark.parametrize(("flag", "key", "expected"), BUCKET_VECTORS)
def test_bucket_vectors(flag: str, key: str, expected: int) -> None:
    assert bucket(flag, key) == expected
    # flagd v3's fractional: murmur3 of canonical CBOR [flag, key], (hash * total) >> 32
    data = cbor2.dumps([flag, key], canonical=True)
    assert (mmh3.hash(data, signed=False) * RESOLUTION) >> 32 == expected


@pytest.mark.parametrize(("flag", "key", "encoded", "digest"), CBOR_VECTORS)
def test_cbor_vectors(flag: str, key: str, encoded: str, digest: int) -> None:
    assert cbor_pair(flag, key).hex() == encoded
    assert murmur3_32(bytes.fromhex(encoded)) == digest


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300), st.text(max_size=300))
def test_cbor_matches_the_reference_encoder(first: str, second: str) -> None:
    try:
        expected = cbor2.dumps([first, second], canonical=True)
    except Exception:  # lone surrogates: not UTF-8, neither side encodes them
        with pytest.raises(UnicodeEncodeError):
            cbor_pair(first, second)
        return
    assert cbor_pair(first, second) == expected


@pytest.mark.parametrize("size", [0, 23, 24, 255, 256, 65_535, 65_536])
def test_cbor_length_heads(size: int) -> None:
    key = "k" * size
    assert cbor_pair("f", key) == cbor2.dumps(["f", key], canonical=True)


@pytest.mark.parametrize(("flag", "key", "expected"), BUCKET_VECTORS_V2)
def test_bucket_vectors_v2(flag: str, key: str, expected: int) -> None:
    assert bucket_v2(flag, key) == expected
    # flagd v2's fractional: murmur3 of flag key + targeting key, (hash * total) >> 32
    assert (mmh3.hash((flag + key).encode(), signed=False) * RESOLUTION) >> 32 == expected


def test_flagd_core_buckets_like_v3() -> None:
    """flagd's own evaluator: a 100,000-way split puts each key in its bucket's variant."""
    from openfeature.contrib.tools.flagd.core.targeting.custom_ops import fractional

    edges = [0, 1, 2, 33_333, 50_000, 99_998, 99_999]
    for flag, key, expected in BUCKET_VECTORS:
        for edge in edges:
            weights = [["below", edge], ["rest", RESOLUTION - edge]]
            data = {"targetingKey": key, "$flagd": {"flagKey": flag}}
            assert fractional(data, *weights) == ("below" if expected < edge else "rest")


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64), st.integers(0, 2**32 - 1))
def test_matches_reference_murmur3(data: bytes, seed: int) -> None:
    assert murmur3_32(data, seed) == mmh3.hash(data, seed, signed=False)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from([in_rollout, in_rollout_v2]),
    st.text(max_size=20),
    st.text(max_size=20),
    st.floats(0, 100, allow_nan=False),
    st.floats(0, 100, allow_nan=False),
)
def test_raising_a_rollout_only_adds_keys(
    rollout: object, flag: str, key: str, low: float, high: float
) -> None:
    assert callable(rollout)
    low, high = sorted((low, high))
    if rollout(flag, key, low):
        assert rollout(flag, key, high)


@pytest.mark.parametrize("rollout", [in_rollout, in_rollout_v2])
def test_no_targeting_key_is_in_no_rollout_below_100(rollout: object) -> None:
    assert callable(rollout)
    assert rollout("f", None, 99.999) is False
    assert rollout("f", None, 100) is True
    assert rollout("f", "k", 0) is False


def test_an_empty_key_has_no_bucket_in_v3_only() -> None:
    assert in_rollout("new_checkout", "", 99.999) is False
    assert in_rollout("new_checkout", "", 100) is True
    assert bucketing.bucket_for("flagd-v3", "new_checkout", "") is None
    assert bucketing.bucket_for("flagd-v2", "new_checkout", "") == 18110
    assert in_rollout_v2("new_checkout", "", 18.111) is True
    assert in_rollout_v2("new_checkout", "", 18.11) is False


def test_deciles_are_uniform_over_100_000_keys() -> None:
    counts = [0] * 10
    for i in range(100_000):
        counts[bucket("search.new_ranker", f"user-{i}") // 10_000] += 1
    for count in counts:
        assert 9_000 <= count <= 11_000, counts  # each decile within 1 point of 10%


def test_resolution_is_a_thousandth_of_a_percent() -> None:
    keys = [f"k{i}" for i in range(200_000)]
    at = sum(in_rollout("f", key, 0.001) for key in keys)
    assert 0 < at < 20  # about 2 of 200,000 at 0.001%


def _golden_module() -> Any:
    spec = importlib.util.spec_from_file_location("golden_flags", GOLDEN_FLAGS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["golden_flags"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("hashing", ["mmh3", "pure"])
def test_generated_copy_agrees(hashing: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The generated module's buckets, with mmh3's C MurmurHash3 and with its own."""
    module = _golden_module()
    assert module._C_MURMUR3 is mmh3.hash  # importable here, and it agrees
    if hashing == "pure":
        monkeypatch.setattr(module, "_C_MURMUR3", None)
    for flag, key, expected in BUCKET_VECTORS:
        assert module._Rollout(flag).bucket(key) == expected
        assert module._Rollout(flag).bucket(key) == expected  # the remembered one too
    for flag, key, expected in BUCKET_VECTORS_V2:
        assert module._Rollout(flag, "flagd-v2").bucket(key) == expected
    rollout = module._Rollout("f")
    assert rollout.includes("", module._threshold(99.999)) is False
    for i in range(5_000):
        assert rollout.includes(f"u{i}", 33333) == in_rollout("f", f"u{i}", 33.333)


@pytest.mark.parametrize("hashing", ["mmh3", "pure"])
def test_library_rollouts_agree_both_ways(hashing: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if hashing == "pure":
        monkeypatch.setattr(bucketing, "_C_MURMUR3", None)
    for flag, key, expected in BUCKET_VECTORS:
        assert bucketing.Rollout(flag).bucket(key) == expected == bucket(flag, key)
    for flag, key, expected in BUCKET_VECTORS_V2:
        assert bucketing.Rollout(flag, "flagd-v2").bucket(key) == expected
    long_key = "k" * 10_000  # CBOR heads of every size, and a key too long to remember
    assert bucketing.Rollout("f").bucket(long_key) == bucket("f", long_key)


def test_a_mmh3_that_hashes_otherwise_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    monkeypatch.setitem(sys.modules, "mmh3", types.SimpleNamespace(hash=lambda *a: 42))
    assert bucketing._c_murmur3() is None
    monkeypatch.setitem(sys.modules, "mmh3", types.SimpleNamespace(hash=lambda key, seed: 1))
    assert bucketing._c_murmur3() is None  # an old signature
    monkeypatch.setitem(sys.modules, "mmh3", None)  # not installed
    assert bucketing._c_murmur3() is None


def test_remembered_buckets_are_bounded() -> None:
    rollout = bucketing.Rollout("f")
    for i in range(70_000):
        rollout.bucket(f"user-{i}")
    assert len(rollout._buckets) <= 65_536
    rollout.bucket("x" * 300)
    assert "x" * 300 not in rollout._buckets


def _interpreter(version: str) -> str | None:
    """A working python3.X: pyenv's install, or one on PATH (pyenv's shims may not run)."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [str(p) for p in sorted(root.glob(f"{version}.*/bin/python{version}"))]
    candidates += [found for found in [shutil.which(f"python{version}")] if found]
    for candidate in candidates:
        if subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    return None


@pytest.mark.parametrize("version", ["3.10", "3.13"])
def test_same_buckets_in_other_pythons(version: str) -> None:
    python = _interpreter(version)
    if python is None:
        if os.environ.get("CI"):
            pytest.fail(f"Python {version} is needed for this test in CI")
        pytest.skip(f"Python {version} is not installed")
    code = (
        "import importlib.util, json, sys;"
        "spec = importlib.util.spec_from_file_location('f', sys.argv[1]);"
        "m = importlib.util.module_from_spec(spec); sys.modules['f'] = m; spec.loader.exec_module(m);"
        "print(json.dumps([m._Rollout(f).bucket(k) for f, k in json.loads(sys.argv[2])]))"
    )
    pairs = [[flag, key] for flag, key, _ in BUCKET_VECTORS]
    result = subprocess.run(
        [python, "-I", "-S", "-c", code, str(GOLDEN_FLAGS), json.dumps(pairs)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [expected for _, _, expected in BUCKET_VECTORS]


@pytest.mark.parametrize("scheme", ["flagd-v3", "flagd-v2"])
def test_generated_module_uses_the_chosen_scheme(tmp_path: Path, scheme: str) -> None:
    from configgen.pipeline import render
    from configgen.settings import load_settings
    from tests.test_fuzz import _exec

    (tmp_path / "pyproject.toml").write_text(f'[tool.configgen]\nbucketing = "{scheme}"\n')
    (tmp_path / "config.toml").write_text("[app]\nname = 'x'\n")
    (tmp_path / "flags.toml").write_text('[flags.new_checkout]\ntype = "percent"\ndefault = 50\n')
    settings = load_settings(tmp_path)
    generation = render(settings, production=True)
    assert not generation.diagnostics
    module = _exec(generation.files[settings.outputs["flags"]])
    bucket_of = bucket if scheme == "flagd-v3" else bucket_v2
    rollout = in_rollout if scheme == "flagd-v3" else in_rollout_v2
    flags = module.Flags(module.MemoryStore())
    for key in ["", "alice", "bob", "user-1", "héllo wörld ✓", *(f"u{i}" for i in range(2_000))]:
        if key or scheme == "flagd-v2":
            found = module._NEW_CHECKOUT_ROLLOUT.bucket(key)
            assert found == bucket_of("new_checkout", key)
        got = flags.new_checkout(module.EvaluationContext(key))
        assert got is rollout("new_checkout", key, 50), key
    # the empty key: no bucket in v3 (false), bucket 18110 in v2 (true at 50%)
    assert flags.new_checkout(module.EvaluationContext("")) is (scheme == "flagd-v2")
