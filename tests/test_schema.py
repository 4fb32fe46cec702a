"""JSON Schemas of config.toml and flags.toml (`configgen schema`): valid draft 2020-12
schemas, never stricter than the readers and the generated loader, and read by the real
taplo and tombi as the docs say."""

from __future__ import annotations

import datetime
import json
import math
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import tomlkit
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from configgen.config_reader import read_config
from configgen.flags_reader import FLAG_KEYS, SEGMENT_KEYS, read_flags
from configgen.json_schema import config_schema, dumps, ecma_pattern, flags_schema
from configgen.model import ConfigSchema, FieldType, ListOf, MapOf, Rules, Section, SectionRef
from tests.conftest import DATA, REPO, CLIResult, write_project
from tests.test_fuzz import documents, flag_documents

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
CONFIGS = [
    DATA / "everything.toml",
    DATA / "schema_cases.toml",
    DATA / "spec.toml",
    REPO / "examples" / "hatch-service" / "config" / "config.toml",
    REPO / "examples" / "setuptools-service" / "config.toml",
]
FLAGS = [
    DATA / "everything_flags.toml",
    DATA / "spec_flags.toml",
    REPO / "examples" / "hatch-service" / "config" / "flags.toml",
    REPO / "examples" / "setuptools-service" / "flags.toml",
]
ARRAYS = """\
name = "svc"

[[servers]]
host = "a.example"
port = 80
[servers.tls]
enabled = false

[[servers]]
host = "b.example"
port = 443
[servers.tls]
enabled = true

[upstreams]        # map
[upstreams.auth]
url = "http://auth"
retries = [1, 2]
"""


def as_json(value: Any) -> Any:
    """A TOML value as taplo and tombi hand it to a schema: dates and times as text."""
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return [as_json(item) for item in value]
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    return value


def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def schema_of(path: Path, prefix: str = "APP_") -> dict[str, Any]:
    schema, diagnostics = read_config(path, path.name, prefix)
    assert schema is not None, diagnostics
    return config_schema(schema)


def problems_in(schema: dict[str, Any], text: str) -> list[str]:
    document = as_json(tomllib.loads(text))
    return [error.message for error in validator(schema).iter_errors(document)]


# -- the schemas themselves ------------------------------------------------------------


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_example_configs_are_valid_against_their_own_schema(path: Path) -> None:
    schema = schema_of(path)
    assert problems_in(schema, path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", FLAGS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_example_flags_are_valid_against_the_flags_schema(path: Path) -> None:
    assert problems_in(flags_schema(), path.read_text(encoding="utf-8")) == []


def test_arrays_and_maps_of_tables(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(ARRAYS, encoding="utf-8")
    schema = schema_of(path)
    assert problems_in(schema, ARRAYS) == []
    assert problems_in(schema, 'servers = [{host = "c", port = 1, tls = {enabled = true}}]') == []
    # every table of an array has every key, of the same types
    assert problems_in(schema, 'servers = [{host = "c", tls = {enabled = true}}]')
    assert problems_in(schema, 'servers = [{host = "c", port = "1", tls = {enabled = true}}]')
    assert problems_in(schema, 'servers = [{host = "c", port = 1, tls = {}}]')
    assert problems_in(schema, '[upstreams.x]\nurl = "u"\nretries = [1]\nextra = 1\n')
    assert problems_in(schema, '[upstreams.x]\nurl = "u"\nretries = ["1"]\n')
    assert problems_in(schema, '[upstreams.x]\nurl = "u"\nretries = [1]\n') == []


@pytest.mark.parametrize("name", ["everything", "schema_cases"])
def test_schema_text_is_pinned(name: str) -> None:
    """The same bytes on every Python (the tests run on 3.10-3.13); UPDATE_GOLDEN=1 rewrites."""
    text = dumps(schema_of(DATA / f"{name}.toml"))
    pinned = DATA / f"{name}.schema.json"
    if os.environ.get("UPDATE_GOLDEN"):
        pinned.write_text(text, encoding="utf-8", newline="\n")
    assert pinned.read_text(encoding="utf-8") == text


def test_schema_text_is_reproducible() -> None:
    first = dumps(schema_of(DATA / "everything.toml"))
    assert first == dumps(schema_of(DATA / "everything.toml"))
    assert first.endswith("}\n") and "\r" not in first
    assert dumps(flags_schema()) == dumps(flags_schema())


# -- config.toml and override files ----------------------------------------------------


@PROPERTY
@given(documents)
def test_every_accepted_config_is_valid_against_its_own_schema(
    tmp_path_factory: Any, document: dict[str, Any]
) -> None:
    path: Path = tmp_path_factory.mktemp("schema") / "config.toml"
    text = tomlkit.dumps(document)
    path.write_text(text, encoding="utf-8")
    schema, _ = read_config(path, "config.toml", "APP_")
    event("accepted" if schema is not None else "refused")
    assume(schema is not None)
    assert schema is not None
    assert problems_in(config_schema(schema), text) == []


_RULED_KEYS = {
    "int": ("7", ["validate: min=1,max=10", "validate: min=-5", "validate: max=7", ""]),
    "float": ("0.5", ["validate: min=0,max=1", "validate: min=0.5", "type: float", ""]),
    "str": ('"abc"', ["validate: min=1,max=5", "validate: oneof=abc|xyz",
                      "validate: pattern=^[a-c]+\\d*$", "validate: pattern=(?i)ABC", ""]),
    "list": ('["a"]', ["validate: min=1,max=3", "validate: max=1", ""]),
    "placeholder": ('""', ["sensitive, required, validate: min=8",
                           "required, validate: pattern=^\\d+$", "required"]),
}  # fmt: skip


@st.composite
def ruled_configs(draw: st.DrawFn) -> str:
    """config.toml files with rules on their keys (the defaults keep them, except the
    placeholders of required keys, which need not)."""
    lines = []
    for index in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(sorted(_RULED_KEYS)))
        value, comments = _RULED_KEYS[kind]
        comment = draw(st.sampled_from(comments))
        lines.append(f"k{index} = {value}" + (f"  # {comment}" if comment else ""))
    return "[section]\n" + "\n".join(lines) + "\n"


@PROPERTY
@given(ruled_configs())
def test_configs_with_rules_are_valid_against_their_own_schema(
    tmp_path_factory: Any, text: str
) -> None:
    path: Path = tmp_path_factory.mktemp("schema") / "config.toml"
    path.write_text(text, encoding="utf-8")
    schema, diagnostics = read_config(path, "config.toml", "APP_")
    assert schema is not None, diagnostics
    assert problems_in(config_schema(schema), text) == []


def generated_loader(
    factory: pytest.TempPathFactory, name: str, prefix: str
) -> tuple[ModuleType, dict[str, Any]]:
    """The generated loader of tests/data/NAME.toml, and the schema of its files."""
    from configgen.cli import main
    from tests.conftest import import_file

    root = write_project(
        factory.mktemp(name) / "proj",
        (DATA / f"{name}.toml").read_text(encoding="utf-8"),
        prefix=prefix,
    )
    assert main(["generate", "--project", str(root)]) == 0
    module = import_file(root / "src" / "app" / "configgen_config.py")
    return module, schema_of(root / "config.toml", prefix)


@pytest.fixture(scope="module")
def loaders(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str], tuple[ModuleType, dict[str, Any], ConfigSchema]]:
    """The generated loader of tests/data/NAME.toml, the schema of its files, and its model."""
    made: dict[str, tuple[ModuleType, dict[str, Any], ConfigSchema]] = {}

    def get(name: str) -> tuple[ModuleType, dict[str, Any], ConfigSchema]:
        if name not in made:
            module, schema = generated_loader(tmp_path_factory, name, "DEMO_")
            model, _ = read_config(DATA / f"{name}.toml", "config.toml", "DEMO_")
            assert model is not None
            made[name] = (module, schema, model)
        return made[name]

    return get


@pytest.fixture(scope="module")
def everything(
    loaders: Callable[[str], tuple[ModuleType, dict[str, Any], ConfigSchema]],
) -> tuple[ModuleType, dict[str, Any]]:
    module, schema, _ = loaders("everything")
    return module, schema


def loader_accepts(module: ModuleType, path: Path) -> bool:
    """Whether load_config() takes the file (a required key left to the environment is fine)."""
    try:
        module.load_config(path, env={})
    except module.ConfigError as exc:
        return all(problem.message.startswith("required:") for problem in exc.problems)
    return True


def _nest(flat: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for path, value in flat.items():
        place = document
        for table in path[:-1]:
            place = place.setdefault(table, {})
        place[path[-1]] = value
    return document


_WRONG = st.one_of(st.booleans(), st.integers(-3, 3), st.text(max_size=3), st.floats())


def values_for(
    field_type: FieldType, rules: Rules, model: ConfigSchema, *, wrong: bool = True
) -> st.SearchStrategy[Any]:
    """Values for a key of *field_type*: many that keep its rules, some of its type at the
    edges of the rules or anywhere, and (with *wrong*) some of another type."""
    low = rules.min
    high = rules.max
    if isinstance(field_type, SectionRef):
        entry = next(e for e in model.entries if e.class_name == field_type.class_name)
        found = _table_values(entry, model, wrong=wrong)
    elif isinstance(field_type, (ListOf, MapOf)):
        inner = field_type.item if isinstance(field_type, ListOf) else field_type.value
        sizes = {"min_size": int(low or 0), "max_size": int(high if high is not None else 3)}
        outside = {"max_size": sizes["max_size"] + 1}
        if isinstance(field_type, ListOf):
            good = st.lists(values_for(inner, Rules(), model, wrong=False), **sizes)
            some = st.lists(values_for(inner, Rules(), model, wrong=wrong), **outside)
        else:
            keys = st.text(min_size=1, max_size=4)
            good = st.dictionaries(keys, values_for(inner, Rules(), model, wrong=False), **sizes)
            some = st.dictionaries(keys, values_for(inner, Rules(), model, wrong=wrong), **outside)
        found = st.one_of(good, good, some)
    else:
        found = _scalar_values(field_type.kind, rules)
    return st.one_of(found, found, found, _WRONG) if wrong else found


def _scalar_values(kind: str, rules: Rules) -> st.SearchStrategy[Any]:
    low, high = rules.min, rules.max
    near = [edge + step for edge in (low, high) if edge is not None for step in (-1, 0, 1)]
    if kind == "int":
        anywhere: st.SearchStrategy[Any] = st.integers(-(2**63), 2**63 - 1)
        kept: st.SearchStrategy[Any] = st.integers(
            None if low is None else int(low), None if high is None else int(high)
        )
    elif kind == "float":
        anywhere = st.one_of(st.floats(), st.integers(-(2**63), 2**63 - 1))
        kept = st.floats(low, high, allow_nan=low is None and high is None)
    elif kind == "bool":
        return st.booleans()
    elif kind == "datetime":
        return st.datetimes(timezones=st.none() | st.just(datetime.timezone.utc))
    elif kind == "date":
        return st.dates()
    elif kind == "time":
        return st.times()
    else:
        anywhere = st.text(max_size=12)
        if rules.pattern is not None:
            kept = st.from_regex(rules.pattern, fullmatch=True)
        elif rules.oneof:
            kept = st.sampled_from(rules.oneof)
        else:
            kept = st.text(min_size=int(low or 0), max_size=int(high if high is not None else 12))
        near = ["x" * int(length) for length in near if length >= 0]
    edges = st.sampled_from(near) if near else anywhere
    return st.one_of(kept, kept, anywhere, edges)


def _table_values(section: Section, model: ConfigSchema, *, wrong: bool) -> st.SearchStrategy[Any]:
    """An entry of a map or array of tables: every key, (with *wrong*) now and then not."""
    keyed = {f.key: values_for(f.type, f.rules, model, wrong=wrong) for f in section.fields}
    keyed.update({sub.key: _table_values(sub, model, wrong=wrong) for sub in section.sections})
    whole = st.fixed_dictionaries(keyed)
    return st.one_of(whole, whole, st.fixed_dictionaries({}, optional=keyed)) if wrong else whole


@st.composite
def override_files(draw: st.DrawFn, model: ConfigSchema) -> dict[str, Any]:
    """An override file setting a few keys of *model* (sometimes one it does not have)."""
    fields = draw(st.lists(st.sampled_from(model.fields()), max_size=3, unique_by=id))
    flat: dict[tuple[str, ...], Any] = {
        field.path: draw(values_for(field.type, field.rules, model)) for field in fields
    }
    if draw(st.integers(0, 9)) == 5:  # hypothesis favours 0
        flat[(*draw(st.sampled_from(fields)).path[:-1], "nonsense") if fields else ("x",)] = 1
    return _nest(flat)


@pytest.mark.parametrize("name", ["everything", "schema_cases"])
@settings(PROPERTY, max_examples=300)
@given(data=st.data())
def test_schema_never_refuses_an_override_file_the_loader_accepts(
    loaders: Callable[[str], tuple[ModuleType, dict[str, Any], ConfigSchema]],
    tmp_path_factory: Any,
    name: str,
    data: st.DataObject,
) -> None:
    module, schema, model = loaders(name)
    document = data.draw(override_files(model))
    text = tomlkit.dumps(document)
    path: Path = tmp_path_factory.mktemp("override") / "override.toml"
    path.write_text(text, encoding="utf-8")
    accepted = loader_accepts(module, path)
    found = problems_in(schema, text)
    event(f"loader {'accepts' if accepted else 'refuses'}")
    event(
        f"loader {'accepts' if accepted else 'refuses'}, schema {'refuses' if found else 'accepts'}"
    )
    if accepted:
        assert found == [], text


@pytest.mark.parametrize(
    "text",
    [
        "[server]\nport = 0\n",
        "[server]\nport = 65536\n",
        '[server]\nport = "80"\n',
        "[server]\nport = 80.5\n",
        "ratio = 1.5\n",
        "ratio = nan\n",
        'mode = "medium"\n',
        "debug = 1\n",
        '[server]\nhostname = "App"\n',
        "[server]\nallowed_hosts = []\n",
        "[server]\nallowed_hosts = [1]\n",
        "[database]\npassword = 12345678\n",
        '[database]\npassword = "short"\n',
        "release_day = 2024-06-30T00:00:00\n",
        "server = 1\n",
        "[server]\nprot = 80\n",
        "nonsense = 1\n",
        "[labels]\nteam = 1\n",
        '[upstreams.auth]\nurl = "u"\n',
    ],
)
def test_override_files_with_wrong_types_or_values_are_refused(
    everything: tuple[ModuleType, dict[str, Any]], tmp_path: Path, text: str
) -> None:
    module, schema = everything
    path = tmp_path / "override.toml"
    path.write_text(text, encoding="utf-8")
    assert not loader_accepts(module, path)
    if text == "ratio = nan\n":  # nan has no JSON: taplo and tombi refuse it (tested below)
        return
    assert problems_in(schema, text), text


def test_override_files_may_set_any_subset(everything: tuple[ModuleType, dict[str, Any]]) -> None:
    _, schema = everything
    for text in ["", "[server]\n", "[server.tls.client-auth]\nmode = \"optional\"\n",
                 "[labels]\n", "[limits]\nx = 1\n", "weights = [1, 2.5]\n",
                 '[database]\npassword = "long enough"\n']:  # fmt: skip
        assert problems_in(schema, text) == [], text


def test_descriptions_defaults_and_sensitive_values(
    everything: tuple[ModuleType, dict[str, Any]],
) -> None:
    _, schema = everything
    server = schema["properties"]["server"]
    assert server["properties"]["host"]["description"] == (
        "Address to bind.\n\nEnvironment variable: DEMO_SERVER_HOST"
    )
    assert server["properties"]["port"]["default"] == 8080
    api_key = schema["properties"]["api-key"]
    assert "default" not in api_key
    assert api_key["description"].endswith("Environment variable: DEMO_API_KEY")


# -- patterns ----------------------------------------------------------------------------

# each with a string it matches, and one it does not
_EXAMPLES = [
    (r"^[a-z][a-z0-9-]{0,62}$", "app-1", "App"),
    (r"\d{3}-\d+", "٣12-9", "12-9"),
    (r"[\w.]+@[\w-]+\.[a-z]{2,}", "é.x@b-c.io", "a@b.c"),
    (r"(ab|c)+d?", "abcd", "acbd"),
    (r"[^\s]+ [^a-c]*", "xéy zz", "x  a"),
    (r"a.b", "a\rb", "a\nb"),
    (r"\W*\S+", "--x", "x y"),
    (r"(?:x|y){2,3}", "xyx", "x"),
    (r"[-\]\\^]+", "-]\\^", "a"),
    (r"é+😀?", "éé😀", "e"),
    (r"\Aab\Z", "ab", "abc"),
    (r"(?s)a.b", "a\nb", "ab"),
    (r"[\D_]+", "a_b", "a1"),
    (r"(a|)b{0}c{2,}", "ccc", "ac"),
]
_PATTERNS = [pattern for pattern, _, _ in _EXAMPLES]


@PROPERTY
@given(st.sampled_from(_PATTERNS).flatmap(
    lambda pattern: st.tuples(
        st.just(pattern), st.one_of(st.from_regex(pattern, fullmatch=True), st.text(max_size=8))
    )
))  # fmt: skip
def test_carried_over_patterns_accept_whatever_python_accepts(case: tuple[str, str]) -> None:
    pattern, text = case
    carried = ecma_pattern(pattern)
    assert carried is not None
    if re.fullmatch(pattern, text):
        assert re.search(carried, text), (pattern, carried, text)
    # without Unicode categories, exactly the same (Python's $ also matches before a final
    # newline, a looseness of Python's engine alone)
    if not re.search(r"\\[dDwWsS]", pattern) and not text.endswith("\n"):
        assert bool(re.search(carried, text)) == bool(re.fullmatch(pattern, text))


@pytest.mark.parametrize(
    "pattern", [r"(?i)abc", r"a$b", r"(a)\1", r"a(?=b)", r"\bword", r"(?m)^a$", r"(?i:a)b"]
)
def test_patterns_other_engines_would_read_otherwise_are_left_out(pattern: str) -> None:
    assert ecma_pattern(pattern) is None


def test_carried_over_patterns_in_taplo_and_tombi(
    tmp_path: Path, cli: Callable[..., CLIResult]
) -> None:
    """The Rust engines take every carried-over pattern and judge the examples as Python."""
    lines = [f"p{index} = {json.dumps(good, ensure_ascii=False)}  # validate: pattern={pattern}"
             for index, (pattern, good, _) in enumerate(_EXAMPLES)]  # fmt: skip
    root = write_project(tmp_path / "proj", "\n".join(lines) + "\n")
    assert cli("schema", "--project", root).code == 0
    bad = "".join(
        f"p{index} = {json.dumps(text, ensure_ascii=False)}\n"
        for index, (_, _, text) in enumerate(_EXAMPLES)
    )
    (root / "bad.toml").write_text(bad, encoding="utf-8")
    every_line = set(range(1, len(_EXAMPLES) + 1))
    for pattern, good, text in _EXAMPLES:
        assert re.fullmatch(pattern, good) and not re.fullmatch(pattern, text)
    schema = (root / "config.schema.json").as_uri()
    assert taplo_lines(root, "--schema", schema, "config.toml") == (0, set())
    assert taplo_lines(root, "--schema", schema, "bad.toml") == (1, every_line)
    (root / "tombi.toml").write_text(
        '[schema]\ncatalog = { paths = [] }\n\n[[schemas]]\npath = "config.schema.json"\n'
        'include = ["*.toml"]\n',
        encoding="utf-8",
    )
    assert tombi_lines(root, "config.toml") == (0, set())
    assert tombi_lines(root, "bad.toml") == (1, every_line)


def test_patterns_too_large_for_rust_regex_are_left_out() -> None:
    """taplo refuses a whole schema holding one (measured: about 10,000 repeats of a class
    admitting non-ASCII characters); the limit keeps well below."""
    assert ecma_pattern(r"\w{0,1999}") is not None
    assert ecma_pattern(r"\w{0,2001}") is None
    assert ecma_pattern(r"(\w{0,100}){0,100}") is None
    assert ecma_pattern(r"[a-z]{0,9000}") is not None


def test_ascii_categories_are_exact_on_ascii_and_admit_the_rest() -> None:
    carried = ecma_pattern(r"\d+")
    assert carried == "^(?:[^\\u0000-\\u002F\\u003A-\\u007F]+)$"
    assert re.search(carried, "0123") and re.search(carried, "٣")
    assert not re.search(carried, "12a")


# -- flags.toml --------------------------------------------------------------------------


def test_flags_schema_follows_the_readers_keys() -> None:
    schema = flags_schema()
    flag = schema["$defs"]["flag"]
    assert list(flag["properties"]) == list(FLAG_KEYS)
    segment_keys = set()
    for shape in schema["$defs"]["segment"]["anyOf"]:
        segment_keys |= set(shape["properties"])
    assert segment_keys == set(SEGMENT_KEYS)


@PROPERTY
@given(flag_documents)
def test_every_accepted_flags_file_is_valid_against_the_schema(
    tmp_path_factory: Any, document: dict[str, Any]
) -> None:
    path: Path = tmp_path_factory.mktemp("flags") / "flags.toml"
    text = tomlkit.dumps(document)
    path.write_text(text, encoding="utf-8")
    schema, _ = read_flags(path, "flags.toml")
    event("accepted" if schema is not None else "refused")
    if schema is not None:
        assert problems_in(flags_schema(), text) == []


_FLAG = '[flags.f]\ntype = "bool"\ndefault = false\n'


@pytest.mark.parametrize(
    "text",
    [
        '[flags.f]\ntype = "bool"\ndefault = 3\n',
        '[flags.f]\ntype = "boolean"\ndefault = true\n',
        '[flags.f]\ntype = "bool"\n',
        _FLAG + "rollout = 150\n",
        _FLAG + "colour = 1\n",
        _FLAG + "expires = 2027-03-01T00:00:00\n",
        _FLAG + "permanent = true\nexpires = 2027-03-01\n",
        _FLAG + "permanent = true\nreview-after = 2027-03-01\n",
        '[flags.f]\ntype = "int"\ndefault = 1\nusers = ["a"]\n',
        '[flags.f]\ntype = "int"\ndefault = 1.5\n',
        '[flags.f]\ntype = "enum"\ndefault = "a"\n',
        '[flags.f]\ntype = "enum"\ndefault = "a"\nvalues = ["a", "a"]\n',
        '[flags.f]\ntype = "percent"\ndefault = 101\n',
        '[flags.f]\ntype = "string"\ndefault = "x"\nvalues = ["x"]\n',
        _FLAG + '[segments.s]\nusers = ["a"]\nattribute = "c"\n',
        _FLAG + '[segments.s]\nattribute = "c"\n',
        _FLAG + '[segments.s]\nattribute = "a.b"\nin = [1]\n',
        _FLAG + '[segments.s]\nattribute = "targetingKey"\nin = [1]\n',
        _FLAG + "other = 1\n",
        '[segments.s]\nusers = ["a"]\n',
        "[flags]\nf = 1\n",
    ],
)
def test_bad_flags_files_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "flags.toml"
    path.write_text(text, encoding="utf-8")
    assert read_flags(path, "flags.toml")[0] is None
    assert problems_in(flags_schema(), text), text


# -- configgen schema ------------------------------------------------------------------


def test_command_writes_beside_the_inputs_then_nothing(
    tmp_path: Path, cli: Callable[..., CLIResult]
) -> None:
    root = write_project(tmp_path / "proj", ARRAYS, extra='flags = "flags.toml"\n')
    (root / "flags.toml").write_text(_FLAG, encoding="utf-8")
    result = cli("schema", "--project", root)
    assert result.code == 0, result.err
    assert result.out == "configgen: wrote config.schema.json\nconfiggen: wrote flags.schema.json\n"
    written = json.loads((root / "config.schema.json").read_text(encoding="utf-8"))
    assert written == config_schema(read_config(root / "config.toml", "config.toml", "APP_")[0])  # type: ignore[arg-type]
    assert cli("schema", "--project", root).out == ""
    assert cli("schema", "--check", "--project", root).code == 0
    (root / "config.toml").write_text(ARRAYS + "extra = 1\n", encoding="utf-8")
    stale = cli("schema", "--check", "--project", root)
    assert (stale.code, stale.err) == (
        1,
        "config.schema.json: out of date; run 'configgen schema'\n",
    )


def test_command_output_dir(tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    root = write_project(tmp_path / "proj", "a = 1\n")
    (root / "schemas").mkdir()
    result = cli("schema", "-o", root / "schemas", "--project", root)
    assert (result.code, result.out) == (0, "configgen: wrote schemas/config.schema.json\n")
    missing = cli("schema", "-o", root / "nowhere", "--project", root)
    assert missing.code == 1 and "nowhere: no such directory" in missing.err


def test_command_refuses_two_schemas_of_one_name(
    tmp_path: Path, cli: Callable[..., CLIResult]
) -> None:
    root = write_project(tmp_path / "proj", "a = 1\n", extra='flags = "flags/config.toml"\n')
    (root / "flags").mkdir()
    (root / "flags" / "config.toml").write_text(_FLAG, encoding="utf-8")
    assert cli("schema", "--project", root).code == 0  # beside each file: no clash
    result = cli("schema", "-o", root, "--project", root)
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "flags/config.toml:1:1: its schema and the schema of config.toml would both be "
        "config.schema.json: the two files need different names to share a DIR\n"
    )


def test_command_reports_invalid_inputs_and_writes_nothing(
    tmp_path: Path, cli: Callable[..., CLIResult]
) -> None:
    root = write_project(tmp_path / "proj", "a = 1\nport = 0  # validate: min=1\n")
    result = cli("schema", "--project", root)
    assert result.code == 1
    assert result.err == "config.toml:2:1: port: the default 0 is below min=1\n"
    assert not (root / "config.schema.json").exists()


# -- taplo and tombi -------------------------------------------------------------------


def tool(name: str) -> str:
    """The taplo or tombi binary (test dependencies): a missing one fails the test on CI."""
    found = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent),
                                                     os.environ.get("PATH", "")]))  # fmt: skip
    if found is None:
        message = f"{name} is not installed (pip install {name})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


OVERRIDE_GOOD = """\
name = "other"
ratio = 0.5
started = 2025-01-01T00:00:00Z
local_started = 2025-01-01T00:00:00
release_day = 2025-01-01
backup_at = 05:00:00

[server]
port = 9000
hostname = "web-2"

[database]
password = "long enough"
"""
OVERRIDE_BAD = """\
name = "other"
ratio = 1.5

[server]
port = "9000"
hostname = "Web 2"
prot = 1

[database]
pool_size = 0
"""
# line -> what both tools must report there
BAD_LINES = {2: "ratio above max", 5: "port not an integer", 6: "hostname pattern",
             7: "unknown key", 10: "pool_size below min"}  # fmt: skip


@pytest.fixture
def schema_dir(tmp_path: Path, cli: Callable[..., CLIResult]) -> Path:
    root = write_project(
        tmp_path / "proj",
        (DATA / "everything.toml").read_text(encoding="utf-8"),
        prefix="DEMO_",
        extra='flags = "flags.toml"\n',
    )
    (root / "flags.toml").write_text(
        (DATA / "everything_flags.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    assert cli("schema", "--project", root).code == 0
    (root / "good.toml").write_text(OVERRIDE_GOOD, encoding="utf-8")
    (root / "bad.toml").write_text(OVERRIDE_BAD, encoding="utf-8")
    return root


def taplo_lines(root: Path, *args: str) -> tuple[int, set[int]]:
    done = subprocess.run([tool("taplo"), "lint", "--colors", "never", *args], cwd=root,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    lines = {int(m) for m in re.findall(r"┌─ [^\n]*?:(\d+):\d+", done.stdout + done.stderr)}
    return done.returncode, lines


def tombi_lines(root: Path, *args: str) -> tuple[int, set[int]]:
    report = root / "tombi-report.json"
    done = subprocess.run(
        [tool("tombi"), "lint", "--offline", "--diagnostics-format", "json",
         "--diagnostics-file", str(report), *args],
        cwd=root, capture_output=True, text=True, timeout=60,
        env={**os.environ, "HOME": str(root), "XDG_CACHE_HOME": str(root / ".cache")},
    )  # fmt: skip
    found = json.loads(report.read_text(encoding="utf-8")) if report.exists() else []
    errors = [d for d in found if d["level"] == "error"]
    assert not [d for d in found if d["level"] != "error"], found  # no strict-mode warnings
    return done.returncode, {d["range"]["start"]["line"] for d in errors}


def test_taplo_checks_override_files_with_the_schema_option(schema_dir: Path) -> None:
    schema = (schema_dir / "config.schema.json").as_uri()
    assert taplo_lines(schema_dir, "--schema", schema, "good.toml") == (0, set())
    code, lines = taplo_lines(schema_dir, "--schema", schema, "bad.toml")
    # taplo reports the unknown key over every line of its table: [server] on line 4 too
    assert (code, lines) == (1, {*BAD_LINES, 4})


def test_taplo_reads_the_schema_comment_and_taplo_toml(schema_dir: Path) -> None:
    (schema_dir / "commented.toml").write_text(
        "#:schema ./config.schema.json\n" + OVERRIDE_BAD, encoding="utf-8"
    )
    code, lines = taplo_lines(schema_dir, "commented.toml")
    assert (code, lines) == (1, {line + 1 for line in (*BAD_LINES, 4)})
    (schema_dir / "taplo.toml").write_text(
        textwrap.dedent(
            """\
            [[rule]]
            include = ["config.toml", "good.toml", "bad.toml"]
            schema = { path = "./config.schema.json" }

            [[rule]]
            include = ["flags.toml"]
            schema = { path = "./flags.schema.json" }
            """
        ),
        encoding="utf-8",
    )
    assert taplo_lines(schema_dir, "config.toml", "good.toml", "flags.toml") == (0, set())
    assert taplo_lines(schema_dir, "bad.toml") == (1, {*BAD_LINES, 4})


TOMBI_TOML = """\
[schema]
catalog = { paths = [] }

[[schemas]]
path = "config.schema.json"
include = ["config.toml", "good.toml", "bad.toml"]

[[schemas]]
path = "flags.schema.json"
include = ["flags.toml", "good_flags.toml", "bad_flags.toml"]
"""


def test_tombi_checks_override_files_offline(schema_dir: Path) -> None:
    (schema_dir / "tombi.toml").write_text(TOMBI_TOML, encoding="utf-8")
    assert tombi_lines(schema_dir, "config.toml", "good.toml", "flags.toml") == (0, set())
    code, lines = tombi_lines(schema_dir, "bad.toml")
    assert (code, lines) == (1, set(BAD_LINES))


def test_tombi_reads_the_schema_comment_and_pyproject(schema_dir: Path) -> None:
    (schema_dir / "commented.toml").write_text(
        "#:schema ./config.schema.json\n" + OVERRIDE_BAD, encoding="utf-8"
    )
    code, lines = tombi_lines(schema_dir, "commented.toml")
    assert (code, lines) == (1, {line + 1 for line in BAD_LINES})
    pyproject = schema_dir / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8")
        + "\n"
        + TOMBI_TOML.replace("[schema]", "[tool.tombi.schema]").replace(
            "[[schemas]]", "[[tool.tombi.schemas]]"
        ),
        encoding="utf-8",
    )
    code, lines = tombi_lines(schema_dir, "bad.toml")
    assert (code, lines) == (1, set(BAD_LINES))


BAD_FLAGS = """\
[flags.new_checkout]
type = "bool"
default = 3
rollout = 150

[flags.ui.theme]
type = "enum"
values = ["light", "dark"]
default = "light"
colour = "red"

[segments.staff]
users = ["alice"]
attribute = "team"
"""


def test_both_tools_check_flags_files(schema_dir: Path) -> None:
    (schema_dir / "bad_flags.toml").write_text(BAD_FLAGS, encoding="utf-8")
    (schema_dir / "tombi.toml").write_text(TOMBI_TOML, encoding="utf-8")
    good = '[flags.f]\ntype = "float"\ndefault = 1.5e300\n\n[segments.s]\nattribute = "x"\nin = [2.5]\n'
    (schema_dir / "good_flags.toml").write_text(good, encoding="utf-8")
    assert read_flags(schema_dir / "good_flags.toml", "good_flags.toml")[0] is not None
    assert tombi_lines(schema_dir, "good_flags.toml") == (0, set())
    flags_uri = (schema_dir / "flags.schema.json").as_uri()
    assert taplo_lines(schema_dir, "--schema", flags_uri, "good_flags.toml") == (0, set())
    assert tombi_lines(schema_dir, "bad_flags.toml") == (1, {3, 4, 10, 14})
    schema = (schema_dir / "flags.schema.json").as_uri()
    code, lines = taplo_lines(schema_dir, "--schema", schema, "bad_flags.toml")
    # taplo reports a bad flag over the flag's whole table
    assert code == 1 and {3, 4, 10, 14} <= lines


def test_patterns_in_taplo_and_tombi(tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    root = write_project(
        tmp_path / "proj",
        'code = "ab1"  # validate: pattern=^[a-c]+\\d*$\nmail = "a@b.io"  # validate: '
        'pattern=[\\w.]+@[\\w-]+\\.[a-z]{2,}\nbig = "a"  # validate: pattern=\\w{0,1999}\n',
    )
    assert cli("schema", "--project", root).code == 0
    (root / "tombi.toml").write_text(
        '[schema]\ncatalog = { paths = [] }\n\n[[schemas]]\npath = "config.schema.json"\n'
        'include = ["*.toml"]\n',
        encoding="utf-8",
    )
    # Python's \d and \w take any Unicode digit or letter: so must the schema
    (root / "good.toml").write_text('code = "abc٣"\nmail = "é.x@b-c.io"\n', encoding="utf-8")
    (root / "bad.toml").write_text('code = "abd"\nmail = "a@b.c"\n', encoding="utf-8")
    schema = (root / "config.schema.json").as_uri()
    assert taplo_lines(root, "--schema", schema, "good.toml") == (0, set())
    assert taplo_lines(root, "--schema", schema, "bad.toml") == (1, {1, 2})
    assert tombi_lines(root, "good.toml") == (0, set())
    assert tombi_lines(root, "bad.toml") == (1, {1, 2})


def test_both_tools_take_config_toml_itself(tmp_path: Path) -> None:
    """Required placeholders, dates and times, arrays and maps of tables, patterns."""
    shutil.copy(DATA / "schema_cases.toml", tmp_path / "config.toml")
    shutil.copy(DATA / "schema_cases.schema.json", tmp_path / "config.schema.json")
    schema = (tmp_path / "config.schema.json").as_uri()
    assert taplo_lines(tmp_path, "--schema", schema, "config.toml") == (0, set())
    (tmp_path / "tombi.toml").write_text(
        '[schema]\ncatalog = { paths = [] }\n\n[[schemas]]\npath = "config.schema.json"\n'
        'include = ["config.toml"]\n',
        encoding="utf-8",
    )
    assert tombi_lines(tmp_path, "config.toml") == (0, set())


def test_floats_nan_and_inf_where_no_bounds(tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    root = write_project(tmp_path / "proj", "x = 1.0\ny = 1.0  # validate: min=0\n")
    assert cli("schema", "--project", root).code == 0
    (root / "good.toml").write_text("x = nan\n", encoding="utf-8")
    (root / "bad.toml").write_text("x = inf\ny = nan\n", encoding="utf-8")
    schema = (root / "config.schema.json").as_uri()
    assert taplo_lines(root, "--schema", schema, "good.toml") == (0, set())
    assert taplo_lines(root, "--schema", schema, "bad.toml") == (1, {2})
    (root / "tombi.toml").write_text(
        '[schema]\ncatalog = { paths = [] }\n\n[[schemas]]\npath = "config.schema.json"\n'
        'include = ["*.toml"]\n',
        encoding="utf-8",
    )
    assert tombi_lines(root, "good.toml") == (0, set())
    assert tombi_lines(root, "bad.toml") == (1, {2})
    assert math.isnan(tomllib.loads("x = nan")["x"])
