"""The newcomer's path, for real: ``configgen init`` in an empty folder, ``configgen generate``,
``pip wheel .``, with either build backend."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.integration.conftest import run, tool, wheel_names

pytestmark = pytest.mark.integration
EXPECTED = [
    "my_shop/__init__.py",
    "my_shop/configgen_config.py",
    "my_shop/configgen_flags.py",
    "my_shop/configgen_testing.py",
]


def _package(wheel: Path) -> list[str]:
    return [name for name in wheel_names(wheel) if name.startswith("my_shop/")]


@pytest.mark.parametrize("backend", ["hatch", "setuptools"])
def test_init_generate_pip_wheel(backend: str, build_env: dict[str, str], tmp_path: Path) -> None:
    project = tmp_path / "my-shop"
    project.mkdir()
    run(tool("configgen"), "init", "--backend", backend, cwd=project, env=build_env)
    run(tool("configgen"), "generate", cwd=project, env=build_env)
    run(sys.executable, "-m", "pip", "wheel", ".", cwd=project, env=build_env)
    (wheel,) = project.glob("my_shop-0.1.0-*.whl")
    assert _package(wheel) == EXPECTED
    # the build generates by itself, without modules generated beforehand
    wheel.unlink()
    for module in (project / "src" / "my_shop").glob("configgen_*.py"):
        module.unlink()
    check = run(tool("configgen"), "check", cwd=project / "src", env=build_env, check=False)
    assert check.returncode == 1
    assert "src/my_shop/configgen_config.py: missing" in check.stderr
    run(sys.executable, "-m", "pip", "wheel", ".", cwd=project, env=build_env)
    (wheel,) = project.glob("my_shop-0.1.0-*.whl")
    assert _package(wheel) == EXPECTED
