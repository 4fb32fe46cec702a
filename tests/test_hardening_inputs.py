"""Inputs that were once lost, silently accepted or crashed: each ends in a working module
or a located error, never a traceback, never dropped."""

from __future__ import annotations

import ast
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from configgen import naming, rules
from configgen.cli import main
from tests.conftest import import_file, write_project

FLAGS_EXTRA = 'flags = "flags.toml"\n'


def _project(root: Path, config: str, flags: str | None = None) -> Path:
    write_project(root, config, extra=FLAGS_EXTRA if flags is not None else "")
    if flags is not None:
        (root / "flags.toml").write_text(flags, encoding="utf-8")
    (root / "src" / "app" / "__init__.py").write_text("")
    return root


def _generate(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["generate", "--project", str(root)])
    return code, capsys.readouterr().err


# -- 1. nothing silently lost -----------------------------------------------------------

SPLIT_FLAGS = {
    "a flag after a segment table": (
        '[flags.a]\ntype = "bool"\ndefault = false\n[segments.s]\nusers = ["x"]\n'
        '[flags.b]\ntype = "int"\ndefault = 3\n',
        {"a": False, "b": 3},
    ),
    "a category split by another flag": (
        '[flags.ui.theme]\ntype = "string"\ndefault = "light"\n'
        '[flags.a]\ntype = "bool"\ndefault = true\n'
        '[flags.ui.size]\ntype = "int"\ndefault = 12\n',
        {"ui.theme": "light", "a": True, "ui.size": 12},
    ),
    "dotted keys": (
        'flags.d.type = "bool"\nflags.d.default = true\n',
        {"d": True},
    ),
    "dotted keys inside a table": (
        '[flags]\nx.type = "float"\nx.default = 1.5\n[flags.y]\ntype = "string"\ndefault = "s"\n',
        {"x": 1.5, "y": "s"},
    ),
}


@pytest.mark.parametrize(("flags", "expected"), list(SPLIT_FLAGS.values()), ids=list(SPLIT_FLAGS))
def test_split_flag_tables_merge_as_toml_defines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: str, expected: dict[str, Any]
) -> None:
    root = _project(tmp_path / "p", "a = 1\n", flags)
    assert _generate(root, capsys) == (0, "")
    module = import_file(root / "src" / "app" / "configgen_flags.py")
    assert expected == module.DEFAULT_FLAG_VALUES


DIRECTIVE_TYPOS = {
    "sensitive required": "sensitive, required",
    "required sensitive": "required, sensitive",
    "sensitive; required": "sensitive, required",
    "validate min=8": "validate: min=8",
    "SENSITIVE, REQUIRED": "sensitive, required",
}


@pytest.mark.parametrize(("comment", "meant"), list(DIRECTIVE_TYPOS.items()))
def test_a_directive_comment_that_does_not_parse_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], comment: str, meant: str
) -> None:
    root = _project(tmp_path / "p", f'password = "longenough"  # {comment}\n')
    code, err = _generate(root, capsys)
    assert code == 1
    assert err.startswith("config.toml:1:")
    assert f"did you mean '# {meant}'?" in err
    assert not (root / "src" / "app" / "configgen_config.py").exists()


def test_a_note_that_starts_with_another_word_stays_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path / "p", 'host = "x"  # the sensitive, required host\n')
    assert _generate(root, capsys) == (0, "")


# -- 2. located errors where there were crashes --------------------------------------------

CRASHES = {
    "a huge float bound": ("x = 1.5  # validate: max=1" + "0" * 400 + "\n", None, "1:1", "too large"),
    "an empty array hinted int": ("x = []  # type: int\n", None, "1:1", "list[T]"),
    "an empty array hinted str": ("x = []  # type: str\n", None, "1:1", "list[T]"),
    "an empty array hinted date": ("x = []  # type: date\n", None, "1:1", "list[T]"),
    "an empty array hinted float": ("x = []  # type: float\n", None, "1:1", "list[T]"),
    "an empty array in a map of ints": (
        "[m]  # map, type: dict[str, int]\na = []\n", None, "2:1", "empty array",
    ),
    "a nan default with bounds": ("x = nan  # validate: min=0,max=1\n", None, "1:1", "finite"),
    "an inf default with a min": ("x = inf  # validate: min=0\n", None, "1:1", "finite"),
    "a 3.11-only pattern": ('x = "a"  # validate: pattern=a++\n', None, "1:1", "pattern=a++"),
    "a float flag's 400-digit default": (
        "a = 1\n", '[flags.f]\ntype = "float"\ndefault = 1' + "0" * 400 + "\n", "3:1", "float",
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("config", "flags", "where", "message"), list(CRASHES.values()), ids=list(CRASHES)
)
def test_crashes_are_now_located_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    config: str,
    flags: str | None,
    where: str,
    message: str,
) -> None:
    root = _project(tmp_path / "p", config, flags)
    code, err = _generate(root, capsys)
    assert code == 1
    assert len(err.splitlines()) == 1, err
    name = "flags.toml" if flags is not None and "flags" in err.split(":")[0] else "config.toml"
    assert err.startswith(f"{name}:{where}: "), err
    assert message in err


def test_a_catastrophic_pattern_cannot_hang_generation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules, "PATTERN_CHECK_SECONDS", 1.0)
    default = "a" * 40 + "!"
    root = _project(tmp_path / "p", f'x = "{default}"  # validate: pattern=(a|a)*b?\n')
    code, err = _generate(root, capsys)
    assert code == 1
    assert err.startswith("config.toml:1:1: x: checking the default"), err
    assert "backtracks catastrophically" in err


def test_a_far_expiry_date_generates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flags = '[flags.f]\ntype = "bool"\ndefault = true\nexpires = 9999-12-31\n'
    root = _project(tmp_path / "p", "a = 1\n", flags)
    assert _generate(root, capsys) == (0, "")
    module = import_file(root / "src" / "app" / "configgen_flags.py")
    assert module.Flags().f() is True


def test_a_write_error_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path / "p", "a = 1\n")
    (root / "src" / "app" / "configgen_config.py").mkdir()  # a directory in the way
    (root / "src" / "app" / "configgen_config.py" / "keep").write_text("")
    code, err = _generate(root, capsys)
    assert code == 1
    assert len(err.splitlines()) == 1, err
    assert err.startswith("src/app/configgen_config.py:1:1: cannot write the generated modules")
    assert "no generated file was changed" in err
    assert not (root / "src" / "app" / "configgen_testing.py").exists()


# -- 3. names the generated modules keep --------------------------------------------------

NAME_CASES = {
    "table mapping_proxy_type": ("[mapping_proxy_type]\na = 1\n", None),
    "table type_var": ("[type_var]\na = 1\n", None),
    "root key default_config": ("default_config = 1\n", None),
    "root key given": ("given = 1\n", None),
    "root key changes": ("changes = 1\n", None),
    "enum flag named_tuple beside a targeted flag": (
        "a = 1\n",
        '[flags.named_tuple]\ntype = "enum"\nvalues = ["x", "y"]\ndefault = "x"\n'
        '[flags.t]\ntype = "bool"\ndefault = false\nusers = ["u"]\n',
    ),
    "flag Flags": ("a = 1\n", '[flags.Flags]\ntype = "bool"\ndefault = false\n'),
    "flag MemoryStore": ("a = 1\n", '[flags.MemoryStore]\ntype = "bool"\ndefault = false\n'),
    "flag str": ("a = 1\n", '[flags.str]\ntype = "bool"\ndefault = false\n'),
    "flag given": ("a = 1\n", '[flags.given]\ntype = "bool"\ndefault = false\n'),
    "enum alias UiTheme taken by a config table": (
        "[ui_theme]\na = 1\n",
        '[flags.ui.theme]\ntype = "enum"\nvalues = ["l", "d"]\ndefault = "l"\n',
    ),
}


@pytest.mark.parametrize(("config", "flags"), list(NAME_CASES.values()), ids=list(NAME_CASES))
def test_a_generated_name_cannot_be_taken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str, flags: str | None
) -> None:
    root = _project(tmp_path / "p", config, flags)
    code, err = _generate(root, capsys)
    assert code == 1
    assert err and all(line.split(":")[1].isdigit() for line in err.splitlines()), err
    assert "Traceback" not in err


def _names_used_by_generated_modules() -> set[str]:
    return (
        naming.CONFIG_MODULE_NAMES
        | naming.FLAGS_MODULE_NAMES
        | naming.TESTING_MODULE_NAMES
        | naming.SECTION_BODY_NAMES
        | naming.FLAGS_BODY_NAMES
        | naming.FLAGS_MEMBERS
        | naming.TEST_CONFIG_LOCALS
        | naming.TEST_FLAGS_LOCALS
    )


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


def _positions(names: list[str]) -> dict[str, tuple[str, str | None]]:
    """Every reserved name in every place a user name can land, one project per place."""
    flag = 'type = "bool"\ndefault = false\n'
    enum = 'type = "enum"\nvalues = ["p", "q"]\ndefault = "p"\n'
    return {
        "root keys": ("".join(f"{n} = 1\n" for n in names), None),
        "section keys": ("[s]\n" + "".join(f"{n} = 1\n" for n in names), None),
        "tables": ("".join(f"[{_snake(n)}]\nk = 1\n" for n in names), None),
        "map-of-table entries": (
            "[m]  # map\n" + "".join(f"[m.e{i}]\n{n} = 1\n" for i, n in enumerate(names[:1])),
            None,
        ),
        "root flags": ("a = 1\n", "".join(f"[flags.{n}]\n{flag}" for n in names)),
        "category flags": ("a = 1\n", "".join(f"[flags.c.{n}]\n{flag}" for n in names)),
        "enum flags": ("a = 1\n", "".join(f"[flags.{_snake(n)}]\n{enum}" for n in names)),
        "categories": ("a = 1\n", "".join(f"[flags.{_snake(n)}.x]\n{flag}" for n in names)),
    }


def _drop_rejected(config: str, flags: str | None, err: str) -> tuple[str, str | None]:
    """Remove the tables and keys that diagnostics name, so the rest can generate."""
    bad_lines: dict[str, set[int]] = {"config.toml": set(), "flags.toml": set()}
    for line in err.splitlines():
        path, number = line.split(":")[:2]
        bad_lines[path].add(int(number))

    def without(text: str, bad: set[int]) -> str:
        lines = text.splitlines(keepends=True)
        keep: list[str] = []
        skipping = False
        for index, line in enumerate(lines, start=1):
            if line.startswith("["):
                skipping = index in bad
            if not skipping and index not in bad:
                keep.append(line)
        return "".join(keep)

    return (
        without(config, bad_lines["config.toml"]),
        without(flags, bad_lines["flags.toml"]) if flags is not None else None,
    )


@pytest.fixture(scope="module")
def reserved_name_packages(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A package per place, holding every reserved name that place accepts."""
    names = sorted(_names_used_by_generated_modules() - {"annotations"})
    packages = []
    for place, (config, flags) in _positions(names).items():
        root = tmp_path_factory.mktemp("reserved") / place.replace(" ", "_").replace("-", "_")
        for _ in range(6):
            _project(root, config, flags)
            done = subprocess.run(
                [sys.executable, "-m", "configgen", "generate", "--project", str(root)],
                capture_output=True,
                text=True,
            )
            assert "Traceback" not in done.stderr, done.stderr
            if done.returncode == 0:
                break
            config, flags = _drop_rejected(config, flags, done.stderr)
        assert done.returncode == 0, done.stderr
        packages.append(root / "src" / "app")
    return packages


def test_every_reserved_name_is_rejected_or_generates_a_working_module(
    reserved_name_packages: list[Path],
) -> None:
    for package in reserved_name_packages:
        for module in sorted(package.glob("configgen_*.py")):
            done = subprocess.run(
                [sys.executable, "-c", f"import runpy; runpy.run_path({str(module)!r})"],
                capture_output=True,
                text=True,
                cwd=package.parent,
            )
            # relative imports of the testing module need the package: import it as one
            if module.name == "configgen_testing.py":
                done = subprocess.run(
                    [sys.executable, "-c", "import app.configgen_testing"],
                    capture_output=True,
                    text=True,
                    cwd=package.parent,
                )
            assert done.returncode == 0, (module, done.stderr)
    paths = [str(p) for package in reserved_name_packages for p in package.glob("configgen_*.py")]
    for check in (
        [sys.executable, "-m", "ruff", "check", "--no-cache", *paths],
        [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", *paths],
        [sys.executable, "-m", "ruff", "format", "--check", "--isolated", "--no-cache", *paths],
    ):
        done = subprocess.run(
            check, capture_output=True, text=True, cwd=Path(__file__).parent.parent
        )
        assert done.returncode == 0, done.stdout + done.stderr
    for package in reserved_name_packages:
        done = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--config-file=", "--no-incremental",
             "--python-version", "3.10", "-p", "app"],
            capture_output=True,
            text=True,
            cwd=package.parent,
            env={**os.environ, "MYPYPATH": str(package.parent)},
        )  # fmt: skip
        assert done.returncode == 0, (package, done.stdout)


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


GOLDEN = Path(__file__).resolve().parent / "golden"
RESERVED_BY_MODULE = {
    "configgen_config.py": naming.CONFIG_MODULE_NAMES,
    "configgen_flags.py": naming.FLAGS_MODULE_NAMES,
    "configgen_testing.py": naming.TESTING_MODULE_NAMES
    | naming.CONFIG_MODULE_NAMES
    | naming.FLAGS_MODULE_NAMES,
}


@pytest.mark.parametrize("golden", sorted(GOLDEN.glob("*/configgen_*.py")), ids=str)
def test_the_reserved_lists_cover_every_name_a_golden_module_defines(golden: Path) -> None:
    """User-made names are CamelCase classes; everything else a module defines is reserved."""
    defined = _top_level_names(ast.parse(golden.read_text(encoding="utf-8")))
    reserved = RESERVED_BY_MODULE[golden.name]
    user_made = {n for n in defined if n[:1].isupper() and n not in reserved}
    # user-made names are the section classes, category classes and enum aliases
    assert all(n.isidentifier() and "_" not in n for n in user_made), user_made
    missing = {n for n in defined - reserved - user_made if not n.startswith("_")}
    assert not missing, f"add to configgen.naming: {sorted(missing)}"


def _class_body_reads(tree: ast.Module, user_classes: set[str]) -> set[str]:
    """Names read where a class body evaluates them: annotations, decorators, defaults."""
    found: set[str] = set()
    for node in tree.body:
        if not (isinstance(node, ast.ClassDef) and node.name in user_classes):
            continue
        for statement in node.body:
            parts: list[ast.AST] = [statement]
            if isinstance(statement, ast.FunctionDef):
                arguments = statement.args
                parts = [
                    *statement.decorator_list,
                    *(a.annotation for a in arguments.args + arguments.kwonlyargs if a.annotation),
                    *arguments.defaults,
                    *(d for d in arguments.kw_defaults if d is not None),
                    *([statement.returns] if statement.returns else []),
                ]
            for part in parts:
                found.update(
                    n.id
                    for n in ast.walk(part)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                )
    return {name for name in found - user_classes if not name.startswith("_")}  # no user name does


@pytest.mark.parametrize("sample", ["spec", "everything"])
def test_the_reserved_lists_cover_what_generated_class_bodies_read(sample: str) -> None:
    """A field or getter named like a name its class body reads would shadow it there."""
    config = ast.parse((GOLDEN / sample / "configgen_config.py").read_text(encoding="utf-8"))
    sections = {n.name for n in config.body if isinstance(n, ast.ClassDef) and n.name[:1] != "_"}
    sections -= {"ConfigError", "ConfigProblem"}
    assert _class_body_reads(config, sections) <= naming.SECTION_BODY_NAMES
    flags = ast.parse((GOLDEN / sample / "configgen_flags.py").read_text(encoding="utf-8"))
    user_flags = {
        n.name for n in flags.body if isinstance(n, ast.ClassDef) and n.name.endswith("Flags")
    }
    aliases = {t.id for n in flags.body if isinstance(n, ast.Assign) for t in n.targets
               if isinstance(t, ast.Name) and t.id[:1].isupper() and t.id != "DEFAULT_FLAG_VALUES"}  # fmt: skip
    assert _class_body_reads(flags, user_flags) - aliases <= naming.FLAGS_BODY_NAMES


def test_rare_shapes_are_ruff_format_stable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Targeting without segments, and floats that repr() writes with 'e+'."""
    flags = '[flags.r]\ntype = "bool"\ndefault = false\nusers = ["a"]\nrollout = 5\n'
    root = _project(
        tmp_path / "p", "z = 1e308  # validate: max=1e308\nw = [1e20, 2.5e-30]\n", flags
    )
    assert _generate(root, capsys) == (0, "")
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--isolated", "--no-cache",
         str(root / "src" / "app")],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs of its own (needs root, as CI and this project's machines have)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], capture_output=True
    ).returncode == 0  # fmt: skip
    if not mounted:
        if os.environ.get("CI"):
            pytest.fail("this test mounts a small tmpfs: run it as root")
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _generate_in_process(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "configgen", "generate", "--project", str(root)],
        capture_output=True,
        text=True,
    )


def test_a_full_disk_is_one_line_and_changes_nothing(small_disk: Path) -> None:
    root = _project(small_disk / "p", "a = 1\n")
    assert _generate_in_process(root).returncode == 0
    before = {p.name: p.read_bytes() for p in (root / "src" / "app").iterdir()}
    (root / "config.toml").write_text("".join(f"key_{i} = {i}\n" for i in range(400)))
    with contextlib.suppress(OSError), (small_disk / "filler").open("wb") as filler:
        while True:  # fill the disk
            filler.write(b"\0" * 4096)
            filler.flush()
    done = _generate_in_process(root)
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "No space left on device" in done.stderr
    assert "no generated file was changed" in done.stderr
    assert {p.name: p.read_bytes() for p in (root / "src" / "app").iterdir()} == before


def test_a_read_only_disk_is_one_line_and_changes_nothing(small_disk: Path) -> None:
    root = _project(small_disk / "p", "a = 1\n")
    assert _generate_in_process(root).returncode == 0
    before = {p.name: p.read_bytes() for p in (root / "src" / "app").iterdir()}
    (root / "config.toml").write_text("a = 2\n")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    done = _generate_in_process(root)
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "Read-only file system" in done.stderr
    assert {p.name: p.read_bytes() for p in (root / "src" / "app").iterdir()} == before
