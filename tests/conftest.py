from __future__ import annotations

import importlib.util
import itertools
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from configgen.cli import main

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
_counter = itertools.count()


def write_project(root: Path, config: str, *, prefix: str = "APP_", extra: str = "") -> Path:
    """A minimal project: pyproject.toml with [tool.configgen], config.toml, src/app/."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [project]
            name = "app"
            version = "1.0"

            [tool.configgen]
            config = "config.toml"
            package = "src/app"
            env-prefix = "{prefix}"
            """
        )
        + extra,
        encoding="utf-8",
    )
    (root / "config.toml").write_text(config, encoding="utf-8")
    (root / "src" / "app").mkdir(parents=True, exist_ok=True)
    return root


def import_file(path: Path) -> ModuleType:
    """Import a generated module from *path* under a fresh name."""
    name = f"_generated_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Path]:
    def make(config: str, **kwargs: str) -> Path:
        return write_project(tmp_path / "proj", config, **kwargs)

    return make


class CLIResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CLIResult]:
    def run(*args: str | Path) -> CLIResult:
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse's usage errors
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CLIResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def generated(tmp_path: Path) -> Callable[..., ModuleType]:
    """Generate configgen_config.py for a config text and import it."""

    def make(config: str, prefix: str = "APP_") -> ModuleType:
        root = write_project(tmp_path / f"gen{next(_counter)}", config, prefix=prefix)
        assert main(["generate", "--project", str(root)]) == 0
        return import_file(root / "src" / "app" / "configgen_config.py")

    return make


@pytest.fixture(scope="session")
def flags_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The "everything" sample generated into an importable package ``ffapp``."""
    root = tmp_path_factory.mktemp("flags")
    project = write_project(
        root / "proj",
        (DATA / "everything.toml").read_text(encoding="utf-8"),
        prefix="DEMO_",
        extra='flags = "flags.toml"\n',
    )
    (project / "flags.toml").write_text(
        (DATA / "everything_flags.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (project / "src" / "app" / "__init__.py").write_text("")
    assert main(["generate", "--project", str(project)]) == 0
    package = root / "site" / "ffapp"
    package.parent.mkdir()
    import shutil

    shutil.copytree(project / "src" / "app", package)
    sys.path.insert(0, str(package.parent))
    return package


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[Any]:
    from tests.servers import Etcd

    server = Etcd(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Any]:
    from tests.servers import Redis

    server = Redis(tmp_path)
    server.start()
    yield server
    server.stop()
