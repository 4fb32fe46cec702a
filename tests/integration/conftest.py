"""Real builds: this project's wheel on a local index, fresh virtual environments, examples."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def run(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This project built as a wheel, where isolated builds find ``python-configgen``."""
    folder = tmp_path_factory.mktemp("wheelhouse")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
        "--wheel-dir", folder, REPO, cwd=folder)  # fmt: skip
    return folder


@pytest.fixture(scope="session")
def build_env(wheelhouse: Path) -> dict[str, str]:
    """The environment for builds: the local wheel first, the package index for the rest."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFIGGEN_", "SOURCE_DATE"))}
    env.update(
        PIP_FIND_LINKS=str(wheelhouse),
        UV_FIND_LINKS=str(wheelhouse),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PYTHONWARNINGS="default",
    )
    env.pop("PYTHONPATH", None)
    return env


@pytest.fixture
def example(tmp_path: Path) -> Callable[[str], Path]:
    """A fresh copy of an example project."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns("configgen_*.py"))
        return target

    return copy


@pytest.fixture
def new_venv(tmp_path: Path) -> Callable[[], Path]:
    """A fresh virtual environment with pip; returns its python."""

    def make() -> Path:
        folder = tmp_path / f"venv{len(list(tmp_path.glob('venv*')))}"
        venv.EnvBuilder(with_pip=True).create(folder)
        return folder / "bin" / "python"

    return make


def tool(name: str) -> Path:
    """A console script installed beside this interpreter (hatch, pre-commit, configgen)."""
    return Path(sys.executable).parent / name


def wheel_names(wheel: Path) -> list[str]:
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        return sorted(archive.namelist())
