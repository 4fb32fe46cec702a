"""The ``configgen`` command line, through its real entry points."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import CLIResult, import_file, write_project

CONFIG = "[server]\nport = 8080  # validate: min=1\n"


def test_generate_check_diff_cycle(
    project: Callable[..., Path], cli: Callable[..., CLIResult]
) -> None:
    root = project(CONFIG)
    module = root / "src" / "app" / "configgen_config.py"
    assert cli("check", "--project", root).code == 1
    result = cli("generate", "--project", root)
    assert (result.code, result.out) == (
        0,
        "configgen: wrote src/app/configgen_config.py\nconfiggen: wrote src/app/configgen_testing.py\n",
    )
    assert cli("check", "--project", root).code == 0
    # unchanged inputs: nothing printed, nothing rewritten
    mtime = module.stat().st_mtime_ns
    assert cli("generate", "--project", root).out == ""
    assert module.stat().st_mtime_ns == mtime
    (root / "config.toml").write_text(CONFIG + 'host = "h"\n')
    stale = cli("check", "--project", root)
    assert (stale.code, stale.err) == (
        1,
        "src/app/configgen_config.py: out of date; run 'configgen generate'\n"
        "src/app/configgen_testing.py: out of date; run 'configgen generate'\n",
    )
    diff = cli("diff", "--project", root)
    assert diff.code == 0
    assert '+    host: str = "h"\n' in diff.out
    assert diff.out.startswith(
        "--- a/src/app/configgen_config.py\n+++ b/src/app/configgen_config.py\n"
    )
    assert module.stat().st_mtime_ns == mtime  # diff writes nothing


def test_check_reports_missing_module(
    project: Callable[..., Path], cli: Callable[..., CLIResult]
) -> None:
    result = cli("check", "--project", project(CONFIG))
    assert (result.code, result.err) == (
        1,
        "src/app/configgen_config.py: missing; run 'configgen generate'\n"
        "src/app/configgen_testing.py: missing; run 'configgen generate'\n",
    )


def test_generate_with_errors_writes_nothing(
    project: Callable[..., Path], cli: Callable[..., CLIResult]
) -> None:
    root = project(CONFIG)
    assert cli("generate", "--project", root).code == 0
    module = root / "src" / "app" / "configgen_config.py"
    before = module.read_bytes()
    (root / "config.toml").write_text("[server]\nport = 0  # validate: min=1\nxs = [1, 'a']\n")
    result = cli("generate", "--project", root)
    assert result.code == 1
    assert result.err == (
        "config.toml:2:1: server.port: the default 0 is below min=1\n"
        "config.toml:3:1: server.xs: mixed-type array (int, str): every element must have the same type\n"
    )
    assert module.read_bytes() == before


def test_validate(
    project: Callable[..., Path], cli: Callable[..., CLIResult], tmp_path: Path
) -> None:
    root = project(CONFIG)
    assert cli("validate", "--project", root).out == "config.toml: ok\n"
    other = tmp_path / "other.toml"
    other.write_text("x = []\n")
    result = cli("validate", "--project", root, other)
    assert result.code == 1
    assert result.err == (
        f"{other.as_posix()}:1:1: x: an empty array has no element type: add a hint such as '# type: list[str]'\n"
    )
    assert not (root / "src" / "app" / "configgen_config.py").exists()


def test_validate_files_without_settings(tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    path = tmp_path / "config.toml"
    path.write_text("a = 1\n")
    result = cli("validate", "--project", tmp_path, path)
    assert (result.code, result.out) == (0, f"{path.as_posix()}: ok\n")


def test_missing_settings_table(tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    result = cli("generate", "--project", tmp_path)
    assert result.code == 1
    assert result.err == (
        "pyproject.toml:1:1: tool.configgen: no [tool.configgen] table: add one, or run 'configgen init'\n"
    )


def test_missing_config_file(project: Callable[..., Path], cli: Callable[..., CLIResult]) -> None:
    root = project(CONFIG)
    (root / "config.toml").unlink()
    result = cli("generate", "--project", root)
    assert (result.code, result.err) == (1, "config.toml:1:1: file not found\n")


def test_usage_errors_exit_2(cli: Callable[..., CLIResult]) -> None:
    assert cli("bogus").code == 2
    assert cli().code == 2
    assert cli("generate", "--nope").code == 2


def test_init_writes_starters_and_never_overwrites(
    tmp_path: Path, cli: Callable[..., CLIResult]
) -> None:
    root = tmp_path / "shop"
    (root / "src" / "shop").mkdir(parents=True)
    (root / "pyproject.toml").write_text('# my project\n[project]\nname = "shop"\nversion = "1"\n')
    result = cli("init", root)
    assert result.code == 0
    pyproject = (root / "pyproject.toml").read_text()
    assert pyproject.startswith('# my project\n[project]\nname = "shop"\n')
    assert (
        '[tool.configgen]\nconfig = "config.toml"\nflags = "flags.toml"\npackage = "src/shop"\nenv-prefix = "SHOP_"\n'
        in pyproject
    )
    config = (root / "config.toml").read_text()
    # the starter generates cleanly
    assert cli("generate", "--project", root).code == 0
    module = import_file(root / "src" / "shop" / "configgen_config.py")
    assert module.load_config(env={"SHOP_SERVER_PORT": "1234"}).server.port == 1234
    assert (root / "src" / "shop" / "configgen_flags.py").is_file()
    # a second init changes nothing
    (root / "config.toml").write_text(config + "extra = 1\n")
    again = cli("init", root)
    assert again.code == 0
    assert "left as it is" in again.out
    assert (root / "config.toml").read_text() == config + "extra = 1\n"
    assert (root / "pyproject.toml").read_text() == pyproject


def test_python_dash_m_and_console_script(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", CONFIG)
    env = {**os.environ, "PYTHONPATH": ""}
    result = subprocess.run(
        [sys.executable, "-m", "configgen", "generate", "--project", str(root)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    script = Path(sys.executable).with_name("configgen")
    if script.exists():  # installed as a console script in this environment
        result = subprocess.run(
            [str(script), "check", "--project", str(root)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
    version = subprocess.run(
        [sys.executable, "-m", "configgen", "--version"], capture_output=True, text=True
    )
    assert version.stdout.startswith("configgen ")
