"""Sessions: tests (3.10-3.13), lint, typecheck, validate, demo, bench."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "validate"]
nox.options.error_on_missing_interpreters = True
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "virtualenv"

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
FULL_PYTHON = "3.12"
PYPROJECT = nox.project.load_toml("pyproject.toml")
EXAMPLE = Path("examples/hatch-service")


def _group(name: str) -> list[str]:
    return list(nox.project.dependency_groups(PYPROJECT, name))


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite. Builds, installs and servers (``integration``) run on one Python,
    every other test (generated code, bucketing, ...) on all four."""
    session.install("-e", ".", *_group("test"))
    workers = ["-n", "2"] if (os.cpu_count() or 1) > 1 else []
    selection = [] if session.python == FULL_PYTHON else ["-m", "not integration"]
    session.run("pytest", *workers, *selection, *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the project."""
    session.install(*_group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package and on the generated golden modules."""
    session.install("-e", ".", *_group("typecheck"))
    session.run("mypy")
    session.run(
        "mypy",
        "--strict",
        "--config-file=",
        "--python-version",
        "3.10",
        *sorted(str(p) for p in Path("tests/golden").glob("*/configgen_*.py")),
    )


@nox.session
def validate(session: nox.Session) -> None:
    """What a user's CI runs: configgen validate and configgen flags unused on the examples."""
    session.install("-e", ".")
    for example in sorted(Path("examples").iterdir()):
        if (example / "pyproject.toml").is_file():
            session.run("configgen", "validate", "--project", str(example))
            session.run("configgen", "flags", "unused", "--project", str(example))


@nox.session
def demo(session: nox.Session) -> None:
    """Build the example service into a wheel through the Hatch hook, install it into a
    fresh environment and run it: its typed configuration, then its flags changed live."""
    session.install("build")
    tmp = Path(session.create_tmp()).resolve()
    for old in ("wheelhouse", "dist", "service", "service-venv"):
        shutil.rmtree(tmp / old, ignore_errors=True)
    session.log("building python-configgen, for the example's build environment")
    session.run(
        "python", "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "wheelhouse"), "."
    )
    shutil.copytree(EXAMPLE, tmp / "service", ignore=shutil.ignore_patterns("configgen_*.py"))
    session.log("python -m build --wheel: the [tool.hatch.build.hooks.configgen] hook generates")
    session.run("python", "-m", "build", "--wheel", "--outdir", str(tmp / "dist"), str(tmp / "service"),
                env={"PIP_FIND_LINKS": str(tmp / "wheelhouse")})  # fmt: skip
    (wheel,) = (tmp / "dist").glob("*.whl")
    session.run("python", "-m", "venv", str(tmp / "service-venv"))
    python = str(tmp / "service-venv" / "bin" / "python")
    session.run(python, "-m", "pip", "install", "-q", str(wheel), external=True)
    env = {"SERVICE_DATABASE_PASSWORD": "s3cret", "SERVICE_SERVER_PORT": "9090"}
    session.log("service, with SERVICE_SERVER_PORT=9090 and a password from the environment")
    session.run(python, "-m", "service", env=env, external=True)
    overrides = tmp / "flags-overrides.toml"
    overrides.write_text('new_checkout = true\n[ui]\ntheme = "dark"\n[search]\nnew_ranker = 100\n')
    session.log(f"service, with its flags changed through a FileStore ({overrides.name})")
    session.run(python, "-m", "service", env={**env, "SERVICE_FLAGS_FILE": str(overrides)},
                external=True)  # fmt: skip
    session.log("service, with a bad environment: every problem at once")
    session.run(python, "-m", "service", external=True, success_codes=[1],
                env={"SERVICE_SERVER_PORT": "0", "SERVICE_SERVER_TLS_ENABLED": "maybe"})  # fmt: skip


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: ratios against baselines measured in the same run."""
    session.install("-e", ".", *_group("bench"))
    session.run("python", "benchmarks/run.py", *session.posargs)
