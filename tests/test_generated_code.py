"""The generated module is a product: pinned by golden files, lint- and type-clean, stdlib-only."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from configgen.cli import main
from tests.conftest import DATA, REPO, write_project

GOLDEN = Path(__file__).resolve().parent / "golden"
SAMPLES = {"spec": ("spec", "MYAPP_"), "everything": ("everything", "DEMO_")}
MODULES = ("configgen_config.py", "configgen_flags.py", "configgen_testing.py")


def _generate(tmp_path: Path, sample: str) -> Path:
    """Generate the sample's three modules; return the package directory."""
    data, prefix = SAMPLES[sample]
    root = write_project(
        tmp_path / sample,
        (DATA / f"{data}.toml").read_text(encoding="utf-8"),
        prefix=prefix,
        extra='flags = "flags.toml"\n',
    )
    shutil.copyfile(DATA / f"{data}_flags.toml", root / "flags.toml")
    (root / "src" / "app" / "__init__.py").write_text("")
    assert main(["generate", "--project", str(root)]) == 0
    return root / "src" / "app"


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("generated")
    return {sample: _generate(tmp, sample) for sample in SAMPLES}


@pytest.fixture(scope="module")
def outputs(packages: dict[str, Path]) -> dict[str, Path]:
    return {
        f"{sample}/{module}": package / module
        for sample, package in packages.items()
        for module in MODULES
    }


@pytest.mark.parametrize("sample", SAMPLES)
@pytest.mark.parametrize("module", MODULES)
def test_matches_golden_file(packages: dict[str, Path], sample: str, module: str) -> None:
    golden = GOLDEN / sample / module
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(packages[sample] / module, golden)
    actual = (packages[sample] / module).read_bytes()
    assert _without_inputs_digest(actual) == _without_inputs_digest(golden.read_bytes())


def _without_inputs_digest(text: bytes) -> bytes:
    """The digest of the inputs covers the generator's own code, so any change of the
    generator changes it; every other byte is pinned (and `test_identical_when_generated_again`
    pins the digest's reproducibility)."""
    return re.sub(rb"(?m)^# configgen-inputs: sha256:[0-9a-f]+$", b"# configgen-inputs: ...", text)


@pytest.mark.parametrize("sample", SAMPLES)
def test_identical_when_generated_again(
    tmp_path: Path, packages: dict[str, Path], sample: str
) -> None:
    again = _generate(tmp_path, sample)
    for module in MODULES:
        assert (again / module).read_bytes() == (packages[sample] / module).read_bytes()


@pytest.mark.parametrize("sample", SAMPLES)
def test_identical_without_mmh3(tmp_path: Path, packages: dict[str, Path], sample: str) -> None:
    """mmh3 is used at run time when importable; it never shapes the generated code."""
    again = _generate(tmp_path / "first", sample).parent.parent
    for module in MODULES:
        (again / "src" / "app" / module).unlink()
    code = "import sys; sys.modules['mmh3'] = None; from configgen.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", code, "generate", "--project", str(again)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    for module in MODULES:
        assert (again / "src" / "app" / module).read_bytes() == (
            packages[sample] / module
        ).read_bytes()


def _tool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True)


# ruff's default rules, and this project's ([tool.ruff.lint] in pyproject.toml)
RUFF_RULE_SETS = {"defaults": ["--isolated"], "project": ["--config", str(REPO / "pyproject.toml")]}


@pytest.mark.parametrize("rules", RUFF_RULE_SETS)
def test_ruff_check_passes(outputs: dict[str, Path], rules: str) -> None:
    files = [str(path) for path in outputs.values()]
    result = _tool(
        "ruff", "check", *RUFF_RULE_SETS[rules], "--no-cache", *files, cwd=Path(files[0]).parent
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_leaves_it_unchanged(outputs: dict[str, Path]) -> None:
    files = [str(path) for path in outputs.values()]
    result = _tool(
        "ruff",
        "format",
        "--isolated",
        "--no-cache",
        "--check",
        "--diff",
        *files,
        cwd=Path(files[0]).parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("version", ["3.10", f"{sys.version_info.major}.{sys.version_info.minor}"])
def test_mypy_strict_passes(tmp_path: Path, packages: dict[str, Path], version: str) -> None:
    for sample, package in packages.items():
        shutil.copytree(package, tmp_path / f"{sample}_app")
    result = _tool(
        "mypy",
        "--strict",
        "--config-file=",
        "--no-incremental",
        "--python-version",
        version,
        "--cache-dir",
        str(tmp_path / ".mypy"),
        *(f"{sample}_app" for sample in packages),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_imports_only_the_standard_library(outputs: dict[str, Path]) -> None:
    for path in outputs.values():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
        assert imported, path
        assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)


def test_runs_with_nothing_but_the_standard_library(packages: dict[str, Path]) -> None:
    # -S: no site-packages at all; -I: no PYTHONPATH, no user site, no current directory.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from app import configgen_config as c, configgen_flags as f, configgen_testing as t;"
        "print(c.load_config(env={'DEMO_DATABASE_PASSWORD': 'secret-enough', 'DEMO_SERVER_PORT': '9000'}).server.port);"
        "print(f.Flags().ui.theme(), t.test_flags_with(ui_theme='dark').ui.theme())"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-I", "-c", code, str(packages["everything"].parent)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["9000", "light", "dark"]


def test_header_says_generated_and_names_its_source(outputs: dict[str, Path]) -> None:
    first = outputs["spec/configgen_config.py"].read_text(encoding="utf-8").splitlines()[0]
    assert first == "# generated by configgen from config.toml — do not edit"


# Names that sort differently in Python and in ruff: one-letter classes (`A` is a class to
# isort, `B1` a constant), numbers (`A9` before `A10`), case (`Ba` before `BB` in imports);
# flags without targeting (no NamedTuple), categories `x` and `Y`.
EDGE_CONFIG = """\
top = 1
[a]
x = 1
[b]
y = 2.5  # validate: min=0,max=10
[b1]
z = [1]
[a10]
q = 1
[a9]
q = 1
[ba]
q = 1
[c.X1]
q = 1
[c.XB]
q = 1
[c.Xa]
q = 1
"""
EDGE_FLAGS = {
    "letters": """\
[flags.x.one]
type = "bool"
default = false
[flags.Y.two]
type = "int"
default = 1
[flags.Y.B1]
type = "enum"
values = ["a"]
default = "a"
[flags.x9]
type = "enum"
values = ["a"]
default = "a"
[flags.x10]
type = "float"
default = 1.0
[flags.z]
type = "enum"
values = ["a", "b"]
default = "a"
""",
    "one-bool": '[flags.on]\ntype = "bool"\ndefault = true\n',
    "typed-segments": """\
[flags.beta]
type = "bool"
default = false
segments = ["mixed", "staff"]
[segments.mixed]
attribute = "n"
in = [1, true, 1.0, "1", "a-very-long-value-that-makes-the-set-wrap-onto-lines"]
[segments.staff]
users = ["alice"]
""",
}


@pytest.fixture(scope="module")
def edge_packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("edge")
    packages = {}
    for name, flags in EDGE_FLAGS.items():
        root = write_project(tmp / name, EDGE_CONFIG, extra='flags = "flags.toml"\n')
        (root / "flags.toml").write_text(flags, encoding="utf-8")
        (root / "src" / "app" / "__init__.py").write_text("")
        assert main(["generate", "--project", str(root)]) == 0
        packages[name] = root / "src" / "app"
    return packages


@pytest.mark.parametrize("rules", RUFF_RULE_SETS)
def test_ruff_check_passes_with_names_that_sort_differently(
    edge_packages: dict[str, Path], rules: str
) -> None:
    files = [str(path) for package in edge_packages.values() for path in package.glob("*.py")]
    result = _tool("ruff", "check", *RUFF_RULE_SETS[rules], "--no-cache", *files, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    result = _tool(
        "ruff", "format", "--isolated", "--no-cache", "--check", "--diff", *files, cwd=REPO
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes_with_names_that_sort_differently(
    tmp_path: Path, edge_packages: dict[str, Path]
) -> None:
    for name, package in edge_packages.items():
        shutil.copytree(package, tmp_path / f"{name.replace('-', '_')}_app")
    result = _tool(
        "mypy",
        "--strict",
        "--config-file=",
        "--no-incremental",
        "--cache-dir",
        str(tmp_path / ".mypy"),
        *(f"{name.replace('-', '_')}_app" for name in edge_packages),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_sort_keys_agree_with_ruff() -> None:
    from configgen.render import dunder_all_key, import_key, natural_key

    names = ["load_config", "Config", "CONFIG_FILE_ENV", "B", "A10", "A9", "B1", "Ba", "BB", "a_2"]
    assert sorted(names, key=dunder_all_key) == [
        "A9", "A10", "B1", "BB", "CONFIG_FILE_ENV", "B", "Ba", "Config", "a_2", "load_config",
    ]  # fmt: skip
    assert sorted(names, key=import_key) == [
        "A9", "A10", "B1", "BB", "CONFIG_FILE_ENV", "B", "Ba", "Config", "a_2", "load_config",
    ]  # fmt: skip
    assert sorted(["AbC", "Abb"], key=import_key) == ["Abb", "AbC"]  # case-insensitive first
    assert sorted(["AbC", "Abb"], key=dunder_all_key) == ["AbC", "Abb"]
    assert sorted(["_x10_value", "_x9_value", "x", "Y", "__weakref__"], key=natural_key) == [
        "Y", "__weakref__", "_x9_value", "_x10_value", "x",
    ]  # fmt: skip
    assert sorted(["a01", "a1", "a001", "a0"], key=natural_key) == ["a0", "a001", "a01", "a1"]
