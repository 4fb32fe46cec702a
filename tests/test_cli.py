"""The ``configgen`` command line, through its real entry points."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

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


def test_commands_from_a_subfolder(
    project: Callable[..., Path], cli: Callable[..., CLIResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(CONFIG)
    monkeypatch.chdir(root / "src" / "app")
    found = f"configgen: project {root.resolve()}\n"
    missing = cli("check")
    assert (missing.code, missing.err) == (
        1,
        found + "src/app/configgen_config.py: missing; run 'configgen generate'\n"
        "src/app/configgen_testing.py: missing; run 'configgen generate'\n",
    )
    generated = cli("generate")
    assert (generated.code, generated.err) == (0, found)
    assert "configgen: wrote src/app/configgen_config.py\n" in generated.out
    assert (root / "src" / "app" / "configgen_config.py").is_file()
    assert (cli("check").code, cli("validate").out) == (0, "config.toml: ok\n")
    (root / "config.toml").write_text(CONFIG + 'host = "h"\n')
    diff = cli("diff")
    assert diff.code == 0 and '+    host: str = "h"\n' in diff.out
    # relative FILES stay relative to the current folder; the env-prefix is the project's
    (root / "src" / "app" / "local.toml").write_text("a = 1\n")
    assert cli("validate", "local.toml").out == "local.toml: ok\n"


def test_from_the_project_folder_nothing_extra_is_said(
    project: Callable[..., Path], cli: Callable[..., CLIResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project(CONFIG))
    result = cli("generate")
    assert (result.code, result.err) == (0, "")


def test_a_pyproject_without_the_table_is_passed_over(
    project: Callable[..., Path], cli: Callable[..., CLIResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(CONFIG)
    member = root / "packages" / "member"  # a monorepo member without [tool.configgen]
    (member / "docs").mkdir(parents=True)
    (member / "pyproject.toml").write_text('[project]\nname = "member"\n')
    monkeypatch.chdir(member / "docs")
    result = cli("generate")
    assert result.code == 0
    assert result.err == f"configgen: project {root.resolve()}\n"
    assert (root / "src" / "app" / "configgen_config.py").is_file()


def test_project_option_wins_over_the_walk(
    project: Callable[..., Path],
    cli: Callable[..., CLIResult],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    root = project(CONFIG)
    other = write_project(tmp_path / "other", CONFIG)
    monkeypatch.chdir(root / "src")
    assert cli("generate", "--project", other).code == 0
    assert (other / "src" / "app" / "configgen_config.py").is_file()
    assert not (root / "src" / "app" / "configgen_config.py").exists()


def test_no_project_above_points_at_project_option(
    tmp_path: Path, cli: Callable[..., CLIResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    if any((p / "pyproject.toml").is_file() for p in tmp_path.resolve().parents):
        pytest.skip("a pyproject.toml above the temporary folder")
    monkeypatch.chdir(tmp_path)
    for command in ("generate", "check", "diff", "validate"):
        result = cli(command)
        assert (result.code, result.err) == (
            1,
            f"configgen: no pyproject.toml with a [tool.configgen] table in {tmp_path.resolve()} "
            "or any folder above it; run the command inside a project, or name its folder with "
            "--project DIR ('configgen init DIR' starts a new one)\n",
        )


def test_nearest_pyproject_without_the_table_is_named(
    tmp_path: Path, cli: Callable[..., CLIResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    if any((p / "pyproject.toml").is_file() for p in tmp_path.resolve().parents):
        pytest.skip("a pyproject.toml above the temporary folder")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    (tmp_path / "src").mkdir()
    monkeypatch.chdir(tmp_path / "src")
    result = cli("generate")
    assert (result.code, result.err) == (
        1,
        "configgen: ../pyproject.toml has no [tool.configgen] table, and no pyproject.toml "
        f"above it has one; run 'configgen init {tmp_path.resolve()}' to add one there, or "
        "name the project's folder with --project DIR\n",
    )
    monkeypatch.chdir(tmp_path)
    assert "run 'configgen init' to add one there" in cli("check").err


def test_a_broken_pyproject_on_the_way_up_is_reported(
    project: Callable[..., Path], cli: Callable[..., CLIResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(CONFIG)
    (root / "pyproject.toml").write_text("[tool.configgen\n")
    monkeypatch.chdir(root / "src")
    result = cli("generate")
    assert result.code == 1
    assert result.err.endswith("pyproject.toml:1:16: invalid TOML: Unexpected character: '\\n'\n")


SETUPTOOLS = (
    '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n'
)


def test_check_fails_when_setuptools_would_build_without_configgen(
    tmp_path: Path, cli: Callable[..., CLIResult]
) -> None:
    root = write_project(tmp_path / "p", CONFIG, extra="\n" + SETUPTOOLS)
    assert cli("generate", "--project", root).code == 0
    message = (
        "build-system.requires: 'python-configgen' is missing: setuptools builds the package "
        "without generating the modules, and the wheel ships without them with no error; add "
        'it: requires = ["setuptools>=64", "python-configgen"]\n'
    )
    check = cli("check", "--project", root)
    assert (check.code, check.err) == (1, "pyproject.toml:10:1: " + message)
    validate = cli("validate", "--project", root)  # validate only warns
    assert (validate.code, validate.err) == (0, "pyproject.toml:10:1: warning: " + message)
    # a [build-system] without build-backend is setuptools too (its legacy backend)
    text = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(
        text.replace('build-backend = "setuptools.build_meta"\n', "")
    )
    assert cli("check", "--project", root).err == "pyproject.toml:10:1: " + message
    for spelling in ("python_configgen>=0.1", "Python.ConfigGen", "python--configgen"):
        (root / "pyproject.toml").write_text(
            text.replace('"setuptools>=64"', f'"setuptools>=64", "{spelling}"')
        )
        check = cli("check", "--project", root)
        assert (check.code, check.err) == (0, ""), spelling
    (root / "pyproject.toml").write_text(
        text.replace(
            '"setuptools>=64"', '"setuptools>=64", "python-configgen; python_version < \'3\'"'
        )
    )
    assert cli("check", "--project", root).err == "pyproject.toml:10:1: " + message


def test_check_fails_when_the_hatch_hook_cannot_load(
    tmp_path: Path, cli: Callable[..., CLIResult]
) -> None:
    hatch = '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
    root = write_project(
        tmp_path / "p", CONFIG, extra="\n[tool.hatch.build.hooks.configgen]\n\n" + hatch
    )
    assert cli("generate", "--project", root).code == 0
    check = cli("check", "--project", root)
    assert check.code == 1
    assert "hatchling cannot load the configgen build hook" in check.err


def test_init_in_an_empty_folder_makes_a_project_that_builds(
    tmp_path: Path, cli: Callable[..., CLIResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "my-shop"
    root.mkdir()
    monkeypatch.chdir(root)
    result = cli("init")
    assert (result.code, result.err) == (0, "")
    assert result.out == (
        "configgen: wrote config.toml\n"
        "configgen: wrote flags.toml\n"
        "configgen: wrote src/my_shop/__init__.py\n"
        "configgen: wrote pyproject.toml: [build-system], [project], "
        "[tool.hatch.build.hooks.configgen], [tool.configgen]\n"
        "configgen: next: 'configgen generate', then 'pip install -e .' or 'pip wheel .'\n"
    )
    assert (root / "pyproject.toml").read_text() == (
        "[build-system]\n"
        'requires = ["hatchling", "python-configgen"]\n'
        'build-backend = "hatchling.build"\n\n'
        "[project]\n"
        'name = "my-shop"\n'
        'version = "0.1.0"\n'
        'requires-python = ">=3.10"\n\n'
        "[tool.hatch.build.hooks.configgen]\n\n"
        "[tool.configgen]\n"
        'config = "config.toml"\n'
        'flags = "flags.toml"\n'
        'package = "src/my_shop"\n'
        'env-prefix = "MY_SHOP_"\n'
        "test-helpers = true\n"
    )
    assert (root / "src" / "my_shop" / "__init__.py").read_text() == '"""my-shop."""\n'
    assert cli("generate").code == 0
    assert cli("check").code == 0  # nothing missing, python-configgen among the requirements
    # a second init writes nothing and says what it left
    again = cli("init")
    assert again.code == 0
    assert again.out == (
        "configgen: config.toml exists, left as it is\n"
        "configgen: flags.toml exists, left as it is\n"
        "configgen: src/my_shop/ exists, left as it is\n"
        "configgen: pyproject.toml has [build-system], [project], "
        "[tool.hatch.build.hooks.configgen], [tool.configgen], left as it is\n"
    )


def test_init_with_setuptools(tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    root = tmp_path / "shop"
    assert cli("init", root, "--backend", "setuptools").code == 0
    text = (root / "pyproject.toml").read_text()
    assert text.startswith(
        '[build-system]\nrequires = ["setuptools>=64", "python-configgen"]\n'
        'build-backend = "setuptools.build_meta"\n'
    )
    assert "hatch" not in text
    assert 'package = "src/shop"' in text
    assert (root / "src" / "shop" / "__init__.py").is_file()
    assert cli("generate", "--project", root).code == 0
    assert cli("check", "--project", root).code == 0


def test_init_keeps_an_existing_pyproject(tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    original = (
        "# my project\n"
        "[build-system]\n"
        'requires = ["setuptools"]  # pinned elsewhere\n\n'
        "[tool.ruff]\n"
        "line-length = 99\n"
    )
    (tmp_path / "pyproject.toml").write_text(original)
    result = cli("init", tmp_path, "--package", "shop", "--backend", "hatch")
    assert result.code == 0
    text = (tmp_path / "pyproject.toml").read_text()
    assert text.startswith(original)
    assert "[project]\n" in text and "[tool.configgen]\n" in text
    assert "hatch" not in text  # the build system is setuptools: no Hatch hook
    assert "configgen: note: --backend hatch ignored: [build-system] is kept\n" in result.out
    assert (
        'configgen: note: add "python-configgen" to [build-system] requires, or builds in a '
        "fresh environment cannot generate the modules\n" in result.out
    )
    assert "pyproject.toml has [build-system], left as it is\n" in result.out


def test_init_names_the_package_after_the_folder_or_package_option(
    tmp_path: Path, cli: Callable[..., CLIResult]
) -> None:
    root = tmp_path / "9 lives"
    bad = cli("init", root)
    assert (bad.code, bad.out) == (2, "")
    assert bad.err == (
        "configgen: the folder name '9 lives' does not make a package name ('9 lives' is not a "
        "Python identifier); name the package with --package NAME\n"
    )
    assert not root.exists()  # nothing written
    assert cli("init", root, "--package", "class").err == (
        "configgen: --package 'class' is not a Python identifier\n"
    )
    assert cli("init", root, "--package", "lives").code == 0
    text = (root / "pyproject.toml").read_text()
    assert 'name = "lives"' in text  # '9 lives' is no distribution name either
    assert 'package = "src/lives"' in text
    # a package named unlike the project: hatchling is told where it is
    other = tmp_path / "shop"
    assert cli("init", other, "--package", "store").code == 0
    text = (other / "pyproject.toml").read_text()
    assert 'name = "shop"' in text
    assert '[tool.hatch.build.targets.wheel]\npackages = ["src/store"]\n' in text


def test_init_reports_a_broken_pyproject(tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\n")
    result = cli("init", tmp_path)
    assert result.code == 1
    assert result.err.startswith(f"configgen: {tmp_path.as_posix()}/pyproject.toml: invalid TOML: ")
    assert not (tmp_path / "config.toml").exists()


def test_init_uses_the_package_a_badly_named_folder_holds(
    tmp_path: Path, cli: Callable[..., CLIResult]
) -> None:
    root = tmp_path / "my shop"
    (root / "src" / "shop").mkdir(parents=True)
    (root / "src" / "shop" / "__init__.py").write_text("")
    assert cli("init", root).code == 0
    text = (root / "pyproject.toml").read_text()
    assert 'name = "shop"' in text and 'package = "src/shop"' in text
    assert (root / "src" / "shop" / "__init__.py").read_text() == ""  # left as it was


def test_init_names_only_what_builds(tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    """A folder name that is no ASCII identifier or no distribution name is asked about."""
    unicode_folder = tmp_path / "Ünï"
    unicode_folder.mkdir()
    result = cli("init", unicode_folder)
    assert result.code == 2 and "--package" in result.err
    assert not (unicode_folder / "pyproject.toml").exists()
    underscored = tmp_path / "_x"
    assert cli("init", underscored).code == 0
    text = (underscored / "pyproject.toml").read_text()
    assert 'name = "x"' in text and 'package = "src/_x"' in text


def test_init_follows_an_existing_configgen_table(
    tmp_path: Path, cli: Callable[..., CLIResult]
) -> None:
    root = tmp_path / "ex"
    root.mkdir()
    (root / "pyproject.toml").write_text(
        '[tool.configgen]\npackage = "lib/foo"\nconfig = "conf/c.toml"\n'
    )
    assert cli("init", root).code == 0
    assert (root / "lib" / "foo" / "__init__.py").is_file()
    assert (root / "conf" / "c.toml").is_file()
    assert not (root / "src").exists()
    assert cli("generate", "--project", root).code == 0
    assert (root / "lib" / "foo" / "configgen_config.py").is_file()


def test_diff_into_a_closed_pipe_is_quiet(tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    """``configgen diff | head -1``: no traceback when the reader leaves early."""
    import subprocess
    import sys

    root = tmp_path / "p"
    assert cli("init", root).code == 0
    (root / "config.toml").write_text("".join(f"key_{i} = {i}\n" for i in range(3000)))
    with subprocess.Popen(
        [sys.executable, "-m", "configgen", "diff", "--project", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.readline()
        process.stdout.close()
        err = process.stderr.read()
        assert process.wait() == 1
    assert b"Traceback" not in err
