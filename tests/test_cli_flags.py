"""The command line with flags.toml: generation, validation, expiry, production builds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CLIResult

CONFIG = "[server]\nport = 8080\n"
FLAGS = '[flags.new_checkout]\ntype = "bool"\ndefault = false\n'
EXPIRED = '[flags.old]\ntype = "bool"\ndefault = false\nexpires = 2020-01-01\n'


def _package(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "src" / "app").glob("configgen_*.py"))


def test_flags_module_only_with_a_flags_file(
    project: Callable[..., Path], cli: Callable[..., CLIResult]
) -> None:
    root = project(CONFIG)
    assert cli("generate", "--project", root).code == 0
    assert _package(root) == ["configgen_config.py", "configgen_testing.py"]
    (root / "flags.toml").write_text(FLAGS)  # the default name is found without a setting
    result = cli("generate", "--project", root)
    assert result.out == (
        "configgen: wrote src/app/configgen_flags.py\nconfiggen: wrote src/app/configgen_testing.py\n"
    )
    assert _package(root) == ["configgen_config.py", "configgen_flags.py", "configgen_testing.py"]
    (root / "flags.toml").unlink()
    result = cli("generate", "--project", root)
    assert "configgen: removed src/app/configgen_flags.py\n" in result.out
    assert _package(root) == ["configgen_config.py", "configgen_testing.py"]


def test_test_helpers_false_leaves_the_testing_module_out(
    project: Callable[..., Path], cli: Callable[..., CLIResult]
) -> None:
    root = project(CONFIG)
    cli("generate", "--project", root)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "test-helpers = false\n")
    result = cli("generate", "--project", root)
    assert result.out == "configgen: removed src/app/configgen_testing.py\n"
    assert _package(root) == ["configgen_config.py"]
    assert cli("check", "--project", root).code == 0


def test_production_environment_leaves_the_testing_module_out(
    project: Callable[..., Path], cli: Callable[..., CLIResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(CONFIG)
    monkeypatch.setenv("CONFIGGEN_PRODUCTION", "1")
    cli("generate", "--project", root)
    assert _package(root) == ["configgen_config.py"]


def test_a_users_own_file_is_never_removed(
    project: Callable[..., Path], cli: Callable[..., CLIResult]
) -> None:
    root = project(CONFIG + "", extra="test-helpers = false\n")
    own = root / "src" / "app" / "configgen_testing.py"
    own.write_text("# my own module, not generated\n")
    cli("generate", "--project", root)
    assert own.read_text() == "# my own module, not generated\n"


def test_validate_flags_and_expiry(
    project: Callable[..., Path], cli: Callable[..., CLIResult]
) -> None:
    root = project(CONFIG)
    (root / "flags.toml").write_text(FLAGS + "\n" + EXPIRED)
    result = cli("validate", "--project", root)
    assert result.code == 0
    assert result.out == "config.toml: ok\nflags.toml: ok\n"
    assert result.err == (
        "flags.toml:5:1: warning: flags.old: expired on 2020-01-01: the getter now returns the "
        "default False; remove the flag or move its date\n"
    )
    strict = cli("validate", "--strict", "--project", root)
    assert strict.code == 1
    assert strict.err == (
        "flags.toml:5:1: flags.old: expired on 2020-01-01: the getter now returns the "
        "default False; remove the flag or move its date\n"
    )
    generated = cli("generate", "--project", root)
    assert generated.code == 0 and "warning: flags.old: expired" in generated.err


def test_validate_a_named_flags_file(tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    path = tmp_path / "features.toml"
    path.write_text('[flags.a]\ntype = "int"\ndefault = "x"\n')
    result = cli("validate", "--project", tmp_path, path)
    assert result.code == 1
    assert result.err.endswith(
        "features.toml:3:1: flags.a.default: the default of an int flag must be an int, not a string 'x'\n"
    )


def test_generate_with_bad_flags_writes_nothing(
    project: Callable[..., Path], cli: Callable[..., CLIResult]
) -> None:
    root = project(CONFIG)
    (root / "flags.toml").write_text(FLAGS)
    cli("generate", "--project", root)
    before = {p.name: p.read_bytes() for p in (root / "src" / "app").glob("configgen_*.py")}
    (root / "config.toml").write_text(CONFIG + "host = 'h'\n")
    (root / "flags.toml").write_text('[flags.a]\ntype = "nope"\ndefault = 1\n')
    result = cli("generate", "--project", root)
    assert result.code == 1
    assert "flags.toml:2:1: flags.a.type: unknown type 'nope'" in result.err
    after = {p.name: p.read_bytes() for p in (root / "src" / "app").glob("configgen_*.py")}
    assert after == before  # not even the valid config module changed
