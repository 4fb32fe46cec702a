"""The one bucketing function: pinned vectors, flagd's murmur3, uniform, monotonic, portable."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mmh3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from configgen.bucketing import RESOLUTION, bucket, in_rollout, murmur3_32

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
BUCKET_VECTORS = [
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
    # flagd's fractional: murmur3 of flag key + targeting key, (hash * total weight) >> 32
    assert (mmh3.hash((flag + key).encode(), signed=False) * RESOLUTION) >> 32 == expected


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64), st.integers(0, 2**32 - 1))
def test_matches_reference_murmur3(data: bytes, seed: int) -> None:
    assert murmur3_32(data, seed) == mmh3.hash(data, seed, signed=False)


@settings(max_examples=500, deadline=None)
@given(
    st.text(max_size=20),
    st.text(max_size=20),
    st.floats(0, 100, allow_nan=False),
    st.floats(0, 100, allow_nan=False),
)
def test_raising_a_rollout_only_adds_keys(flag: str, key: str, low: float, high: float) -> None:
    low, high = sorted((low, high))
    if in_rollout(flag, key, low):
        assert in_rollout(flag, key, high)


def test_no_targeting_key_is_in_no_rollout_below_100() -> None:
    assert in_rollout("f", None, 99.999) is False
    assert in_rollout("f", None, 100) is True
    assert in_rollout("f", "k", 0) is False


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


def test_generated_copy_agrees(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("golden_flags", GOLDEN_FLAGS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["golden_flags"] = module
    spec.loader.exec_module(module)
    for flag, key, expected in BUCKET_VECTORS:
        assert module._bucket(flag, key) == expected
    for i in range(5_000):
        assert module._in_rollout("f", f"u{i}", 33.333) == in_rollout("f", f"u{i}", 33.333)


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
        "print(json.dumps([m._bucket(f, k) for f, k in json.loads(sys.argv[2])]))"
    )
    pairs = [[flag, key] for flag, key, _ in BUCKET_VECTORS]
    result = subprocess.run(
        [python, "-I", "-S", "-c", code, str(GOLDEN_FLAGS), json.dumps(pairs)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [expected for _, _, expected in BUCKET_VECTORS]
