"""The Hatch build hook, through pip, build and hatch, on the example service."""

from __future__ import annotations

import shutil
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import EXAMPLES, run, tool, wheel_names

pytestmark = pytest.mark.integration
MODULES = ["configgen_config.py", "configgen_flags.py", "configgen_testing.py"]
SECRET = {"SERVICE_DATABASE_PASSWORD": "s3cret"}


def _service_output(python: Path, env: dict[str, str], cwd: Path) -> str:
    return run(python, "-m", "service", cwd=cwd, env={**env, **SECRET}).stdout


def test_pip_install(example: Callable[[str], Path], new_venv: Callable[[], Path],
                     build_env: dict[str, str], tmp_path: Path) -> None:  # fmt: skip
    project = example("hatch-service")
    python = new_venv()
    run(python, "-m", "pip", "install", project, cwd=tmp_path, env=build_env)
    output = _service_output(python, build_env, tmp_path)
    assert "service 'orders': listening on 127.0.0.1:8080" in output
    assert (
        "database:      Database(url='postgres://localhost/orders', password='***', pool_size=10)"
        in output
    )
    assert "for alice  new_checkout=True" in output


def test_pip_install_editable_warns_when_stale(example: Callable[[str], Path],
                                              new_venv: Callable[[], Path],
                                              build_env: dict[str, str], tmp_path: Path) -> None:  # fmt: skip
    project = example("hatch-service")
    python = new_venv()
    run(python, "-m", "pip", "install", "-e", project, cwd=tmp_path, env=build_env)
    package = project / "src" / "service"
    assert sorted(p.name for p in package.glob("configgen_*.py")) == MODULES
    quiet = run(python, "-c", "import service.configgen_config", cwd=tmp_path, env=build_env)
    assert quiet.stderr == ""
    config = project / "config" / "config.toml"
    config.write_text(config.read_text().replace('name = "orders"', 'name = "orders-2"'))
    stale = run(python, "-c", "import service.configgen_config", cwd=tmp_path, env=build_env)
    assert stale.stderr.count("UserWarning") == 1
    assert (
        "service.configgen_config is out of date: config/config.toml changed after it was "
        "generated; run 'configgen generate' (or reinstall the package)" in stale.stderr
    )
    run(python, "-m", "pip", "install", "python-configgen", cwd=tmp_path, env=build_env)
    run(python, "-m", "configgen", "generate", "--project", project, cwd=tmp_path, env=build_env)
    again = run(python, "-c", "import service.configgen_config as c; print(c.default_config().name)",
                cwd=tmp_path, env=build_env)  # fmt: skip
    assert (again.stderr, again.stdout) == ("", "orders-2\n")


def test_python_m_build_sdist_then_wheel_from_it(example: Callable[[str], Path],
                                                 build_env: dict[str, str]) -> None:  # fmt: skip
    project = example("hatch-service")
    (project / ".git").mkdir()  # the generated modules are git-ignored: they ship anyway
    run(
        sys.executable, "-m", "build", project, cwd=project, env=build_env
    )  # sdist, then a wheel from it
    (sdist,) = (project / "dist").glob("*.tar.gz")
    (wheel,) = (project / "dist").glob("*.whl")
    with tarfile.open(sdist) as archive:
        names = sorted(archive.getnames())
        sdist_modules = {
            Path(n).name: archive.extractfile(n).read()  # type: ignore[union-attr]
            for n in names
            if Path(n).name.startswith("configgen_")
        }
    assert "service-1.0.0/config/config.toml" in names
    assert "service-1.0.0/config/flags.toml" in names
    assert sorted(sdist_modules) == MODULES
    with zipfile.ZipFile(wheel) as archive:
        for name in MODULES:
            assert archive.read(f"service/{name}") == sdist_modules[name]


def test_hatch_build(example: Callable[[str], Path], build_env: dict[str, str]) -> None:
    project = example("hatch-service")
    run(tool("hatch"), "build", cwd=project, env=build_env)
    (wheel,) = (project / "dist").glob("*.whl")
    assert [n for n in wheel_names(wheel) if "configgen_" in n] == [f"service/{m}" for m in MODULES]


def _wheel(project: Path, env: dict[str, str], out: Path) -> Path:
    run(sys.executable, "-m", "build", "--wheel", "--outdir", out, project, cwd=project, env=env)
    (wheel,) = out.glob("*.whl")
    return wheel


def test_production_wheel_has_no_test_helpers(example: Callable[[str], Path],
                                              build_env: dict[str, str], tmp_path: Path) -> None:  # fmt: skip
    project = example("hatch-service")
    development = _wheel(project, build_env, tmp_path / "dev")
    production = _wheel(project, {**build_env, "CONFIGGEN_PRODUCTION": "1"}, tmp_path / "prod")
    assert "service/configgen_testing.py" in wheel_names(development)
    assert "service/configgen_testing.py" not in wheel_names(production)
    assert "service/configgen_config.py" in wheel_names(production)
    assert (project / "src" / "service" / "configgen_testing.py").is_file()  # the checkout keeps it


def test_reproducible_wheels(example: Callable[[str], Path], build_env: dict[str, str],
                             tmp_path: Path) -> None:  # fmt: skip
    env = {**build_env, "SOURCE_DATE_EPOCH": "1700000000"}
    project = example("hatch-service")
    first = _wheel(project, env, tmp_path / "one")
    elsewhere = tmp_path / "elsewhere" / "service"
    shutil.copytree(EXAMPLES / "hatch-service", elsewhere)  # another path, freshly generated
    second = _wheel(elsewhere, env, tmp_path / "two")
    assert first.read_bytes() == second.read_bytes()


def test_broken_config_fails_the_build(example: Callable[[str], Path], build_env: dict[str, str],
                                       tmp_path: Path) -> None:  # fmt: skip
    project = example("hatch-service")
    config = project / "config" / "config.toml"
    config.write_text(config.read_text().replace("pool_size = 10", 'pool_size = [1, "x"]'))
    for command in ([sys.executable, "-m", "build", "--wheel", "--outdir", tmp_path / "out", project],
                    [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", tmp_path / "out", project]):  # fmt: skip
        result = run(*command, cwd=project, env=build_env, check=False)
        assert result.returncode != 0
        assert (
            "config/config.toml:20:1: database.pool_size: mixed-type array (int, str): every element "
            "must have the same type" in result.stdout + result.stderr
        )
        assert not list((tmp_path / "out").glob("*.whl")) if (tmp_path / "out").exists() else True


def test_missing_settings_and_package(example: Callable[[str], Path], build_env: dict[str, str],
                                      tmp_path: Path) -> None:  # fmt: skip
    project = example("hatch-service")
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text[: text.index("[tool.configgen]")])
    result = run(
        sys.executable, "-m", "build", "--wheel", project, cwd=project, env=build_env, check=False
    )
    assert result.returncode != 0
    assert (
        "no [tool.configgen] table: add one, or run 'configgen init'"
        in result.stdout + result.stderr
    )
    pyproject.write_text(text.replace('package = "src/service"', 'package = "src/nope"'))
    result = run(
        sys.executable, "-m", "build", "--wheel", project, cwd=project, env=build_env, check=False
    )
    assert result.returncode != 0
    assert "the package directory src/nope does not exist" in result.stdout + result.stderr
