"""The setuptools door: build_py, sdist and ``setup.py configgen``, on the example project."""

from __future__ import annotations

import shutil
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import EXAMPLES, run, wheel_names

pytestmark = pytest.mark.integration
MODULES = ["configgen_config.py", "configgen_flags.py", "configgen_testing.py"]
EXPECTED = (
    "inventory at sqlite:///inventory.db: sync every 30.0 s from ('warehouse-a', 'warehouse-b')\n"
    "auto_reorder=False batch_size=100\n"
)


def test_pip_install_and_editable(example: Callable[[str], Path], new_venv: Callable[[], Path],
                                  build_env: dict[str, str], tmp_path: Path) -> None:  # fmt: skip
    project = example("setuptools-service")
    python = new_venv()
    run(python, "-m", "pip", "install", project, cwd=tmp_path, env=build_env)
    assert run(python, "-m", "inventory", cwd=tmp_path, env=build_env).stdout == EXPECTED
    for module in (project / "src" / "inventory").glob("configgen_*.py"):
        module.unlink()
    run(python, "-m", "pip", "install", "-e", project, cwd=tmp_path, env=build_env)
    package = project / "src" / "inventory"
    assert sorted(p.name for p in package.glob("configgen_*.py")) == MODULES
    assert run(python, "-m", "inventory", cwd=tmp_path, env=build_env).stdout == EXPECTED


def test_python_m_build(example: Callable[[str], Path], build_env: dict[str, str]) -> None:
    project = example("setuptools-service")
    run(sys.executable, "-m", "build", project, cwd=project, env=build_env)
    (sdist,) = (project / "dist").glob("*.tar.gz")
    (wheel,) = (project / "dist").glob("*.whl")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        sdist_modules = {
            Path(n).name: archive.extractfile(n).read()  # type: ignore[union-attr]
            for n in names
            if Path(n).name.startswith("configgen_")
        }
    assert "inventory-1.0.0/config.toml" in names and "inventory-1.0.0/flags.toml" in names
    assert sorted(sdist_modules) == MODULES
    with zipfile.ZipFile(wheel) as archive:  # built from the sdist
        for name in MODULES:
            assert archive.read(f"inventory/{name}") == sdist_modules[name]


def test_setup_py_configgen(example: Callable[[str], Path], new_venv: Callable[[], Path],
                            build_env: dict[str, str], tmp_path: Path) -> None:  # fmt: skip
    project = example("setuptools-service")
    python = new_venv()
    run(
        python,
        "-m",
        "pip",
        "install",
        "python-configgen",
        "setuptools",
        cwd=tmp_path,
        env=build_env,
    )
    result = run(python, "setup.py", "-q", "configgen", cwd=project, env=build_env)
    assert "configgen: wrote src/inventory/configgen_config.py" in result.stdout
    assert sorted(p.name for p in (project / "src" / "inventory").glob("configgen_*.py")) == MODULES


def _wheel(project: Path, env: dict[str, str], out: Path) -> Path:
    run(sys.executable, "-m", "build", "--wheel", "--outdir", out, project, cwd=project, env=env)
    (wheel,) = out.glob("*.whl")
    return wheel


def test_production_and_reproducible(example: Callable[[str], Path], build_env: dict[str, str],
                                     tmp_path: Path) -> None:  # fmt: skip
    project = example("setuptools-service")
    env = {**build_env, "SOURCE_DATE_EPOCH": "1700000000"}
    development = _wheel(project, env, tmp_path / "dev")
    assert "inventory/configgen_testing.py" in wheel_names(development)
    production = _wheel(project, {**env, "CONFIGGEN_PRODUCTION": "1"}, tmp_path / "prod")
    assert "inventory/configgen_testing.py" not in wheel_names(production)
    assert "inventory/configgen_flags.py" in wheel_names(production)
    elsewhere = tmp_path / "elsewhere" / "inventory"
    shutil.copytree(EXAMPLES / "setuptools-service", elsewhere)
    again = _wheel(elsewhere, env, tmp_path / "again")
    assert again.read_bytes() == development.read_bytes()


def test_broken_config_fails_the_build(example: Callable[[str], Path], build_env: dict[str, str],
                                       new_venv: Callable[[], Path], tmp_path: Path) -> None:  # fmt: skip
    project = example("setuptools-service")
    (project / "config.toml").write_text("low_stock = -1  # validate: min=0\n")
    expected = "config.toml:1:1: low_stock: the default -1 is below min=0"
    result = run(sys.executable, "-m", "build", "--wheel", "--outdir", tmp_path / "out", project,
                 cwd=project, env=build_env, check=False)  # fmt: skip
    assert result.returncode != 0
    assert expected in result.stdout + result.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.whl"))
    python = new_venv()
    result = run(python, "-m", "pip", "install", project, cwd=tmp_path, env=build_env, check=False)
    assert result.returncode != 0
    assert expected in result.stdout + result.stderr
