"""Generated code under hostile inputs and tools: non-atomic saves of the overrides file,
deeply nested values, out-of-range numbers, type-exact segments, and linters' sort orders."""

from __future__ import annotations

import importlib
import logging
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = REPO / "templates"


def _top_level_functions(text: str) -> list[str]:
    """The text of every top-level ``def`` in a template, up to the next top-level line."""
    blocks = re.findall(r"^def .*?(?=^\S|\Z)", text, flags=re.MULTILINE | re.DOTALL)
    return [block.rstrip() for block in blocks]


def test_templates_share_helpers_through_partials_not_copies() -> None:
    # Each generated module stays self-contained; the template source keeps one copy.
    counts: Counter[str] = Counter()
    for template in sorted(TEMPLATES.glob("*.j2")):
        counts.update(set(_top_level_functions(template.read_text(encoding="utf-8"))))
    copied = [block.splitlines()[0] for block, count in counts.items() if count > 1]
    assert copied == []
    assert "def _parse_toml(" in (TEMPLATES / "_parse_toml.py.j2").read_text(encoding="utf-8")


@pytest.fixture
def ff(flags_package: Path) -> ModuleType:
    return importlib.import_module("ffapp.configgen_flags")


class SwappableStore:
    """A store whose whole contents change at once, as a refresh from etcd would."""

    def __init__(self, values: dict[str, object]) -> None:
        self.values = values
        self.callbacks: list[Callable[[], object]] = []

    def get(self, key: str) -> object | None:
        return self.values.get(key)

    def watch(self, callback: Callable[[], object]) -> None:
        self.callbacks.append(callback)

    def replace(self, values: dict[str, object]) -> None:
        self.values = values
        for callback in self.callbacks:
            callback()


class Unprintable(str):
    """A stored value whose every method fails."""

    def strip(self, chars: str | None = None) -> str:
        raise RuntimeError("no strip today")

    def __repr__(self) -> str:
        raise RuntimeError("no repr either")


def test_a_float_flag_holding_a_huge_integer_falls_back_alone(
    ff: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    store = SwappableStore({"discount": 10**400, "max_items": 7})
    with caplog.at_level(logging.WARNING):
        flags = ff.Flags(store)  # raised OverflowError
    assert (flags.discount(), flags.max_items()) == (0.15, 7)
    # a refresh with the bad value first still reads every later flag
    store.replace({"discount": 10**400, "max_items": 8, "ui.theme": "dark", "kill_switch": "off"})
    assert (flags.max_items(), flags.ui.theme(), flags.kill_switch()) == (8, "dark", False)
    assert flags.fallbacks() == {("discount", "wrong-type"): 2}
    lines = [r.getMessage() for r in caplog.records if "discount" in r.getMessage()]
    assert len(lines) == 1, lines
    assert lines[0].endswith(" is too large for a float; serving its default")


def test_whatever_a_stored_value_raises_the_getter_serves_its_default(
    ff: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    store = SwappableStore(
        {
            "max_items": Unprintable("5"),
            "greeting": deep,
            "ui.theme": deep,
            "search.new_ranker": 10**5000,
            "discount": "0.5",
        }
    )
    with caplog.at_level(logging.WARNING):
        flags = ff.Flags(store)
    assert flags.max_items() == 50
    assert flags.greeting() == 'Hello, "friend"'
    assert flags.ui.theme() == "light"
    assert flags.discount() == 0.5
    assert set(flags.fallbacks()) == {
        ("max_items", "wrong-type"),
        ("greeting", "wrong-type"),
        ("ui.theme", "wrong-type"),
        ("search.new_ranker", "wrong-type"),
    }
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "the stored value <a list too large to show> is not a string" in messages
    assert "flag max_items: wrong-type; serving its default" in messages  # no repr() to show


def test_an_evaluation_context_that_cannot_be_shown_still_falls_back(ff: ModuleType) -> None:
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    ctx = ff.EvaluationContext(deep, {})  # type: ignore[arg-type]  # unhashable, unprintable
    flags = ff.Flags()
    assert flags.new_checkout(ctx) is False
    assert flags.fallbacks() == {("new_checkout", "evaluation-error"): 1}


LOADER_CONFIG = """\
ratio = 0.5          # validate: min=0,max=1
timeout = 2.0        # validate: min=0
tags = ["a"]
matrix = [[1]]

[labels]             # map
team = "core"

[upstreams]          # map
[upstreams.auth]
url = "http://auth.internal"
ports = [1]
"""
DEEP = 5000


@pytest.fixture
def loader(generated: Callable[..., ModuleType]) -> ModuleType:
    return generated(LOADER_CONFIG, "APP_")


def _problems(module: ModuleType, *args: object, **kwargs: object) -> list[str]:
    with pytest.raises(module.ConfigError) as info:
        module.load_config(*args, **kwargs)
    return [str(problem) for problem in info.value.problems]


DEEP_TEXTS = {
    "open": "[" * DEEP,
    "closed": "[" * DEEP + "]" * DEEP,
    "tables": "{a = " * DEEP + "1" + "}" * DEEP,  # for tags, a string like any other
    "parses": "[" * 300 + "]" * 300,  # then is not the field's type
}


@pytest.mark.parametrize(
    ("variable", "text"),
    [
        pytest.param(variable, text, id=f"{variable}-{name}")
        for variable in ("APP_TAGS", "APP_MATRIX", "APP_LABELS", "APP_UPSTREAMS")
        for name, text in DEEP_TEXTS.items()
        if (variable, name) != ("APP_TAGS", "tables")
    ],
)
def test_deeply_nested_environment_values_are_config_errors(
    loader: ModuleType, variable: str, text: str
) -> None:
    (problem,) = _problems(loader, env={variable: text})
    assert f"(environment variable {variable})" in problem
    assert ": expected " in problem


@pytest.mark.parametrize(
    "document",
    [
        "tags = " + "[" * DEEP + "]" * DEEP,
        "[labels]\nteam = " + "{a = " * DEEP + "1" + "}" * DEEP,
        "[upstreams.auth]\nurl = 'x'\nports = " + "[" * DEEP + "]" * DEEP,
    ],
)
def test_a_config_file_nested_too_deeply_is_a_config_error(
    loader: ModuleType, tmp_path: Path, document: str
) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(document, encoding="utf-8")
    assert _problems(loader, path) == [f"not a valid TOML file: values nested too deeply ({path})"]


@pytest.mark.parametrize(
    ("document", "field"),
    [
        # dotted keys parse without recursion into tables of any depth
        ("labels." + ".".join(["x"] * DEEP) + " = 1", "labels"),
        ("tags = " + "[" * 300 + "]" * 300, "tags"),
        ("[upstreams.auth]\nurl = 'x'\nports = " + "[" * 300 + "]" * 300, "upstreams"),
    ],
)
def test_deep_values_that_parse_are_located_type_problems(
    loader: ModuleType, tmp_path: Path, document: str, field: str
) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(document, encoding="utf-8")
    (problem,) = _problems(loader, path)
    if sys.version_info < (3, 11) and problem.startswith("not a valid TOML file: values nested"):
        return  # tomli, the 3.10 parser, recurses on deep dotted keys where tomllib does not
    assert problem.startswith(f"{field}: expected ")
    assert problem.endswith(")") and f"({path}" in problem  # a dotted key has no line


@pytest.mark.parametrize("text", ["nan", "NaN", "-nan", "inf", "-inf", "infinity"])
@pytest.mark.parametrize("variable", ["APP_RATIO", "APP_TIMEOUT"])
def test_non_finite_numbers_break_min_max_rules(
    loader: ModuleType, tmp_path: Path, variable: str, text: str
) -> None:
    field = variable.removeprefix("APP_").lower()
    (problem,) = _problems(loader, env={variable: text})
    assert problem.startswith(f"{field}: ")
    assert problem.endswith(f"(environment variable {variable})")
    path = tmp_path / "numbers.toml"
    path.write_text(f"{field} = {text.lower().replace('infinity', 'inf')}\n", encoding="utf-8")
    (problem,) = _problems(loader, path)
    assert problem.startswith(f"{field}: ")
    assert problem.endswith(f"({path}:1)")


def test_finite_numbers_within_bounds_still_load(loader: ModuleType) -> None:
    config = loader.load_config(env={"APP_RATIO": "1", "APP_TIMEOUT": "1e300"})
    assert (config.ratio, config.timeout) == (1.0, 1e300)


def _wait_for(read: Callable[[], object], expected: object) -> None:
    deadline = time.monotonic() + 60  # generous: the machine may be busy
    while read() != expected:
        assert time.monotonic() < deadline, f"timed out waiting for {expected!r}"
        time.sleep(0.01)


def test_file_store_never_serves_a_file_caught_mid_save(ff: ModuleType, tmp_path: Path) -> None:
    # Saving in place truncates first and writes after: the store must not take the empty
    # or half-written file (kill_switch would flip back to its default true).
    path = tmp_path / "overrides.toml"
    path.write_text("kill_switch = false\nmax_items = 1\n", encoding="utf-8")
    store = ff.FileStore(path, interval=0.001, settle=0.5)
    flags = ff.Flags(store)
    served: list[tuple[object, object]] = []
    store.watch(lambda: served.append((store.get("kill_switch"), store.get("max_items"))))
    assert (flags.kill_switch(), flags.max_items()) == (False, 1)
    try:
        for count in range(2, 6):
            text = f"# overrides\nkill_switch = false\nmax_items = {count}\n"
            with open(path, "w", encoding="utf-8") as file:  # truncates
                file.flush()
                time.sleep(0.05)  # a slow editor: the file stays empty for a while
                for start in range(0, len(text), 7):
                    file.write(text[start : start + 7])
                    file.flush()
                    time.sleep(0.01)
            _wait_for(flags.max_items, count)
    finally:
        store.close()
    assert served == [(False, count) for count in range(2, 6)]
    assert flags.kill_switch() is False
    assert flags.fallbacks() == {}


def test_file_store_keeps_the_last_good_values_when_nested_too_deeply(
    ff: ModuleType, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "overrides.toml"
    path.write_text("max_items = 3\n", encoding="utf-8")
    store = ff.FileStore(path, settle=0)
    flags = ff.Flags(store)
    with caplog.at_level(logging.WARNING):
        path.write_text("max_items = " + "[" * DEEP + "]" * DEEP + "\n", encoding="utf-8")
        assert store.reload() is False
    assert flags.max_items() == 3
    assert store.errors == 1
    assert "values nested too deeply; keeping the last good flag values" in caplog.text
    store.close()


SEGMENT_FLAGS = """\
[flags.mixed]
type = "bool"
default = false
segments = ["one_or_true"]

[flags.ones]
type = "bool"
default = false
segments = ["one"]

[flags.truths]
type = "bool"
default = false
segments = ["true"]

[flags.floats]
type = "bool"
default = false
segments = ["two_point_oh"]

[segments.one_or_true]
attribute = "n"
in = [1, true]

[segments.one]
attribute = "n"
in = [1, "plan"]

[segments.true]
attribute = "n"
in = [true]

[segments.two_point_oh]
attribute = "n"
in = [2.0]
"""


@pytest.fixture
def segment_flags(tmp_path: Path) -> ModuleType:
    from configgen.cli import main
    from tests.conftest import import_file, write_project

    root = write_project(tmp_path / "proj", "a = 1\n", extra='flags = "flags.toml"\n')
    (root / "flags.toml").write_text(SEGMENT_FLAGS, encoding="utf-8")
    assert main(["generate", "--project", str(root)]) == 0
    return import_file(root / "src" / "app" / "configgen_flags.py")


@pytest.mark.parametrize(
    ("flag", "matching", "not_matching"),
    [
        ("mixed", [1, True, 1.0], [0, False, "1", None, [1], {"1": 1}]),
        ("ones", [1, "plan", 1.0], [True, "1", ["plan"]]),
        ("truths", [True], [1, 1.0, "true", [True]]),
        ("floats", [2.0, 2], [True, "2"]),
    ],
)
def test_segment_values_match_by_type_and_value(
    segment_flags: ModuleType, flag: str, matching: list[object], not_matching: list[object]
) -> None:
    flags = segment_flags.Flags()
    getter = getattr(flags, flag)
    ctx = segment_flags.EvaluationContext
    assert [getter(ctx("k", {"n": value})) for value in matching] == [True] * len(matching)
    assert [getter(ctx("k", {"n": value})) for value in not_matching] == [False] * len(not_matching)
    assert flags.fallbacks() == {}


def test_segment_values_of_subclasses_match_their_base_kind(segment_flags: ModuleType) -> None:
    import enum

    class Plan(str, enum.Enum):
        PLAN = "plan"

    class Level(enum.IntEnum):
        ONE = 1

    flags = segment_flags.Flags()
    ctx = segment_flags.EvaluationContext
    assert flags.ones(ctx("k", {"n": Plan.PLAN})) is True
    assert flags.ones(ctx("k", {"n": Level.ONE})) is True
    assert flags.ones(ctx("k", {"n": ["unhashable"]})) is False
    assert flags.fallbacks() == {}  # a list is in no segment, and no error


# FileStore reads only regular files, never blocks on one that is not, and caps the size.
# Each case runs in a child process with a time limit: a regression must fail, not hang.

FILE_STORE_CHILD = """\
import logging
import os
import resource
import sys
import time

resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # reading /dev/zero: fail fast
sys.path.insert(0, sys.argv[1])
from ffapp import configgen_flags as ff

logging.basicConfig(level=logging.WARNING, format="%(message)s")
path = sys.argv[2]
case = sys.argv[3]
if case == "fifo":
    os.mkfifo(path)
    store = ff.FileStore(path, settle=0)
    print(store.get("max_items"), store.errors)
elif case == "fifo-replaces-a-good-file":
    with open(path, "w") as file:
        file.write("max_items = 3\\n")
    store = ff.FileStore(path, interval=0.01, settle=0)
    flags = ff.Flags(store)  # watches: the checking thread runs
    os.remove(path)
    os.mkfifo(path)
    time.sleep(0.2)  # the thread meets the FIFO
    store.reload()
    store.close()
    print(flags.max_items(), "many" if store.errors > 1 else store.errors)
elif case == "dev-zero":
    os.symlink("/dev/zero", path)
    store = ff.FileStore(path, settle=0)
    print(store.get("max_items"), store.errors)
elif case == "oversized":
    with open(path, "w") as file:
        file.write("max_items = 3\\n")
    store = ff.FileStore(path, settle=0, max_bytes=100)
    with open(path + ".new", "w") as file:
        file.write("max_items = 4\\n" + "# padding\\n" * 20)
    os.replace(path + ".new", path)
    store.reload()
    store.reload()
    print(store.get("max_items"), store.errors)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev/zero are POSIX")
@pytest.mark.parametrize(
    ("case", "served", "errors", "warning"),
    [
        ("fifo", "None", "1", "not a regular file"),
        ("fifo-replaces-a-good-file", "3", "many", "not a regular file"),
        ("dev-zero", "None", "1", "not a regular file"),
        ("oversized", "3", "2", "larger than max_bytes=100"),
    ],
)
def test_file_store_reads_only_regular_files_of_bounded_size(
    flags_package: Path, tmp_path: Path, case: str, served: str, errors: str, warning: str
) -> None:
    import subprocess

    path = tmp_path / "overrides.toml"
    command = [sys.executable, "-c", FILE_STORE_CHILD, str(flags_package.parent), str(path), case]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"FileStore blocked on {case}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [served, errors]
    lines = result.stderr.splitlines()
    assert lines == [f"cannot read {path}: {warning}; keeping the last good flag values"]


@pytest.mark.parametrize(
    ("key", "stored"),
    [
        ("discount", 10**400),
        ("discount", "1e400"),
        ("discount", "-inf"),
        ("discount", "nan"),
        ("discount", float("inf")),
        ("discount", float("nan")),
        ("search.new_ranker", 10**400),
        ("search.new_ranker", "1e400"),
        ("search.new_ranker", "nan"),
        ("search.new_ranker", float("nan")),
        ("max_items", 2**63),
        ("max_items", -(2**63) - 1),
        ("max_items", 2**70),
        ("max_items", 10**400),
        ("max_items", str(2**70)),
        ("max_items", "-" + str(2**63 + 1)),
    ],
    ids=lambda value: str(value)[:24],
)
def test_non_finite_floats_and_ints_beyond_64_bits_from_a_store_fall_back(
    ff: ModuleType, caplog: pytest.LogCaptureFixture, key: str, stored: object
) -> None:
    with caplog.at_level(logging.WARNING):
        flags = ff.Flags(ff.MemoryStore({key: stored}))
    if key != "search.new_ranker":  # a percent flag's getter says whether a key is in
        assert getattr(flags, key)() == ff.DEFAULT_FLAG_VALUES[key]
    assert flags.fallbacks() == {(key, "wrong-type"): 1}
    assert [r.getMessage() for r in caplog.records if key in r.getMessage()] != []


@pytest.mark.parametrize(
    ("key", "stored"),
    [("max_items", 2**63 - 1), ("max_items", -(2**63)), ("max_items", str(-(2**63)))],
)
def test_ints_at_the_ends_of_the_64_bit_range_are_served(
    ff: ModuleType, key: str, stored: object
) -> None:
    flags = ff.Flags(ff.MemoryStore({key: stored}))
    assert flags.max_items() == int(stored)  # type: ignore[call-overload]
    assert flags.fallbacks() == {}


@pytest.mark.parametrize("text", ["discount = 1e400", "discount = -inf", "discount = nan"])
def test_file_store_non_finite_floats_fall_back(ff: ModuleType, tmp_path: Path, text: str) -> None:
    path = tmp_path / "overrides.toml"
    path.write_text(text + "\n", encoding="utf-8")
    flags = ff.Flags(ff.FileStore(path, settle=0))
    assert flags.discount() == 0.15
    assert flags.fallbacks() == {("discount", "wrong-type"): 1}


SHOWN_CONFIG = """\
count = 1
name = "abc"         # validate: pattern=[a-z]{1,3}
pin = 1234           # sensitive
"""


def test_loader_messages_cut_long_values(generated: Callable[..., ModuleType]) -> None:
    module = generated(SHOWN_CONFIG, "APP_")
    long = "x" * 1_000_000
    env = {"APP_COUNT": long, "APP_NAME": "A" * 5000, "APP_PIN": long}
    with pytest.raises(module.ConfigError) as info:
        module.load_config(env=env)
    count, name, pin = info.value.problems
    assert count.message == f"expected int, got '{'x' * 200}…' (1000000 characters)"
    assert name.message == f"'{'A' * 200}…' (5000 characters) does not match pattern=[a-z]{{1,3}}"
    assert pin.message == "expected int, got '***'"
    assert len(str(info.value)) < 1000
    (problem,) = _problems(module, env={"APP_COUNT": "x" * 200})
    assert problem.endswith(f"got '{'x' * 200}' (environment variable APP_COUNT)")  # not cut


def test_flag_warnings_cut_long_values(ff: ModuleType, caplog: pytest.LogCaptureFixture) -> None:
    class Failing:
        def get(self, key: str) -> object | None:
            raise ValueError("y" * 1_000_000)

        def watch(self, callback: Callable[[], object]) -> None:
            pass

    values = {"max_items": "x" * 1_000_000, "greeting": ["z" * 1_000_000]}
    store = ff.CompositeStore(Failing(), ff.MemoryStore(values))
    with caplog.at_level(logging.WARNING):
        flags = ff.Flags(store)
    assert (flags.max_items(), flags.greeting()) == (50, 'Hello, "friend"')
    messages = [r.getMessage() for r in caplog.records]
    assert max(len(message) for message in messages) < 1000, [m[:300] for m in messages]
    text = "\n".join(messages)
    assert f"the stored value '{'x' * 200}…' (1000000 characters) is not an int" in text
    assert f"the stored value ['{'z' * 198}… (1000004 characters) is not a string" in text
    assert (
        f"failed: ValueError('{'y' * 188}… (1000014 characters) (ValueError); trying the next"
        in text
    )


RANGE_CONFIG = """\
count = 1
ratio = 0.5
name = "a"
tags = ["a"]
nums = [1]
secret = 1           # sensitive

[limits]             # map
a = 1

[labels]             # map
team = "core"
"""
BEYOND = str(2**70)


@pytest.fixture
def ranged(generated: Callable[..., ModuleType]) -> ModuleType:
    return generated(RANGE_CONFIG, "APP_")


@pytest.mark.parametrize(
    ("variable", "text"),
    [
        ("APP_COUNT", BEYOND),
        ("APP_COUNT", str(2**63)),
        ("APP_COUNT", str(-(2**63) - 1)),
        ("APP_NUMS", f"[1, {BEYOND}]"),
        ("APP_NUMS", f"1, {BEYOND}"),
        ("APP_LIMITS", f"{{a = {BEYOND}}}"),
        ("APP_SECRET", BEYOND),
    ],
)
def test_loader_ints_beyond_64_bits_from_the_environment_are_problems(
    ranged: ModuleType, variable: str, text: str
) -> None:
    (problem,) = _problems(ranged, env={variable: text})
    assert problem.endswith(f" (an integer beyond 64 bits) (environment variable {variable})")
    assert (BEYOND in problem) is (variable != "APP_SECRET" and BEYOND in text)


@pytest.mark.parametrize(
    "document",
    [
        f"count = {BEYOND}",
        f"count = -{BEYOND}",
        f"ratio = {BEYOND}",  # an int where a float is expected
        f"ratio = {10**400}",  # raised OverflowError
        f"nums = [1, {BEYOND}]",
        f"[limits]\na = {BEYOND}",
    ],
)
def test_loader_ints_beyond_64_bits_from_a_file_are_problems(
    ranged: ModuleType, tmp_path: Path, document: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(document + "\n", encoding="utf-8")
    (problem,) = _problems(ranged, path)
    assert problem.endswith(f" (an integer beyond 64 bits) ({path}:1)")  # a map: its header


def test_loader_ints_at_the_ends_of_the_64_bit_range_load(ranged: ModuleType) -> None:
    env = {"APP_COUNT": str(2**63 - 1), "APP_NUMS": f"[{-(2**63)}]", "APP_RATIO": str(2**63)}
    config = ranged.load_config(env=env)
    assert (config.count, config.nums, config.ratio) == (2**63 - 1, (-(2**63),), 2.0**63)


@pytest.mark.parametrize(
    ("variable", "text"),
    [
        ("APP_NAME", "a\udcffb"),
        ("APP_TAGS", "a, b\udcff"),
        ("APP_TAGS", '["a", "b\udcff"]'),
        ("APP_LABELS", '{team = "b\udcff"}'),
        ("APP_LABELS", '{"b\udcff" = "team"}'),
    ],
)
def test_loader_strings_that_are_not_utf8_are_problems(
    ranged: ModuleType, variable: str, text: str
) -> None:
    (problem,) = _problems(ranged, env={variable: text})
    assert problem.endswith(
        f" (a string that is not valid UTF-8) (environment variable {variable})"
    )
    assert "\\udcff" in problem
    problem.encode("utf-8")  # the message itself can be printed


def test_loader_accepts_non_ascii_strings(ranged: ModuleType) -> None:
    config = ranged.load_config(env={"APP_NAME": "héllo ✓", "APP_LABELS": '{"é" = "ü"}'})
    assert (config.name, dict(config.labels)) == ("héllo ✓", {"é": "ü"})
