"""Sessions: tests (3.10-3.13), lint, typecheck, validate, demo, bench."""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "validate"]
nox.options.error_on_missing_interpreters = True
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "virtualenv"

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
PYPROJECT = nox.project.load_toml("pyproject.toml")
EXAMPLE = Path("examples/hatch-service")


def _group(name: str) -> list[str]:
    return list(nox.project.dependency_groups(PYPROJECT, name))


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole test suite."""
    session.install("-e", ".", *_group("test"))
    workers = ["-n", "2"] if (os.cpu_count() or 1) > 1 else []
    session.run("pytest", *workers, *session.posargs)


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
    """What a user's CI runs: configgen validate on the examples."""
    session.install("-e", ".")
    for example in sorted(Path("examples").iterdir()):
        if (example / "pyproject.toml").is_file():
            session.run("configgen", "validate", "--project", str(example))


@nox.session
def demo(session: nox.Session) -> None:
    """Generate the example service's typed config and run the service."""
    session.install("-e", ".")
    session.run("configgen", "generate", "--project", str(EXAMPLE))
    session.install("-e", str(EXAMPLE))
    env = {"SERVICE_DATABASE_PASSWORD": "s3cret", "SERVICE_SERVER_PORT": "9090"}
    session.log(
        "running the service with SERVICE_SERVER_PORT=9090 and a password from the environment"
    )
    session.run("python", "-m", "service", env=env)
    session.log("and with a bad environment: every problem is reported at once")
    session.run(
        "python",
        "-m",
        "service",
        env={"SERVICE_SERVER_PORT": "0", "SERVICE_SERVER_TLS_ENABLED": "maybe"},
        success_codes=[1],
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: ratios against baselines measured in the same run."""
    session.install("-e", ".", *_group("bench"))
    session.run("python", "benchmarks/run.py", *session.posargs)
