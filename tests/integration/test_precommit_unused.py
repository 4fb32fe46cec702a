"""The ``configgen-unused-flags`` hook, run by the real pre-commit in a temporary git repo."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.integration.conftest import REPO, run, tool

pytestmark = pytest.mark.integration

READER = """\
from app.configgen_flags import Flags


def checkout(flags: Flags) -> bool:
    return flags.new_checkout()
"""


def _git(*args: str, cwd: Path) -> str:
    return run("git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args, cwd=cwd).stdout


def test_unused_flags_hook(tmp_path: Path, build_env: dict[str, str]) -> None:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    if head.returncode != 0:
        pytest.fail("this test needs the repository's git history (a commit to point at)")
    project = tmp_path / "project"
    (project / "src" / "app").mkdir(parents=True)
    (project / "src" / "app" / "__init__.py").write_text("")
    (project / "src" / "app" / "checkout.py").write_text(READER)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "1"\n\n[tool.configgen]\npackage = "src/app"\n'
    )
    (project / "config.toml").write_text("[server]\nport = 8080\n")
    (project / "flags.toml").write_text('[flags.new_checkout]\ntype = "bool"\ndefault = false\n')
    (project / ".pre-commit-config.yaml").write_text(
        textwrap.dedent(
            f"""\
            repos:
              - repo: {REPO}
                rev: {head.stdout.strip()}
                hooks:
                  - id: configgen-unused-flags
            """
        )
    )
    _git("init", "-q", cwd=project)
    _git("add", ".", cwd=project)
    _git("commit", "-qm", "start", cwd=project)
    env = {**build_env, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    command = (tool("pre-commit"), "run", "--all-files")
    assert run(*command, cwd=project, env=env, check=False).returncode == 0
    with (project / "flags.toml").open("a") as file:
        file.write('\n[flags.ui.theme]\ntype = "string"\ndefault = "light"\n')
    failed = run(*command, cwd=project, env=env, check=False)
    assert failed.returncode == 1, failed.stdout
    assert "flags.toml:5:1: flag ui.theme is never read" in failed.stdout
