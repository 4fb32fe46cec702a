"""The pre-commit hooks of this repository, run by the real pre-commit in a temporary git repo."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.integration.conftest import REPO, run, tool

pytestmark = pytest.mark.integration


def _git(*args: str, cwd: Path) -> str:
    return run("git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args, cwd=cwd).stdout


@pytest.fixture
def repo(tmp_path: Path, build_env: dict[str, str]) -> Path:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    if head.returncode != 0:
        pytest.fail("this test needs the repository's git history (a commit to point at)")
    project = tmp_path / "project"
    (project / "src" / "app").mkdir(parents=True)
    (project / "src" / "app" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "1"\n\n[tool.configgen]\npackage = "src/app"\n'
    )
    (project / "config.toml").write_text("[server]\nport = 8080\n")
    (project / ".pre-commit-config.yaml").write_text(
        textwrap.dedent(
            f"""\
            repos:
              - repo: {REPO}
                rev: {head.stdout.strip()}
                hooks:
                  - id: configgen
                  - id: configgen-validate
            """
        )
    )
    _git("init", "-q", cwd=project)
    run(tool("configgen"), "generate", cwd=project, env=build_env)
    _git("add", ".", cwd=project)
    _git("commit", "-qm", "start", cwd=project)
    return project


def _pre_commit(project: Path, env: dict[str, str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**env, "PRE_COMMIT_HOME": str(home)}
    return run(tool("pre-commit"), "run", "--all-files", cwd=project, env=env, check=False)


def test_hooks(repo: Path, build_env: dict[str, str], tmp_path: Path) -> None:
    home = tmp_path / "pre-commit-home"
    assert _pre_commit(repo, build_env, home).returncode == 0
    # a changed config.toml: the hook regenerates and fails, like a formatter
    (repo / "config.toml").write_text('[server]\nport = 8080\nhost = "0.0.0.0"\n')
    first = _pre_commit(repo, build_env, home)
    assert first.returncode == 1, first.stdout
    assert "files were modified by this hook" in first.stdout
    assert 'host: str = "0.0.0.0"' in (repo / "src" / "app" / "configgen_config.py").read_text()
    assert _pre_commit(repo, build_env, home).returncode == 0
    # a hand edit of a generated module is undone
    module = repo / "src" / "app" / "configgen_config.py"
    module.write_text(module.read_text().replace("port: int = 8080", "port: int = 1"))
    assert _pre_commit(repo, build_env, home).returncode == 1
    assert "port: int = 8080" in module.read_text()
    # a broken config.toml: both hooks fail, with the location
    (repo / "config.toml").write_text("[server]\nport = 0  # validate: min=1\n")
    broken = _pre_commit(repo, build_env, home)
    assert broken.returncode == 1
    assert broken.stdout.count("config.toml:2:1: server.port: the default 0 is below min=1") == 2
