"""The language server's answers without the protocol (`configgen.lsp.analysis`): every
diagnostic is the one ``configgen validate`` prints for the same file, for every case of the
readers' error tests; ranges, hover text and completion."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from configgen.lsp.analysis import Span, Workspace, token_span
from tests import test_config_errors, test_flags_errors
from tests.conftest import CLIResult, write_project

FLAGS = '[flags.new_checkout]\ntype = "bool"\ndefault = false\n'


def _project(tmp_path: Path) -> Path:
    root = write_project(tmp_path / "proj", "[server]\nport = 1\n", extra='flags = "flags.toml"\n')
    (root / "flags.toml").write_text(FLAGS, encoding="utf-8")
    return root


def _validated(cli: Callable[..., CLIResult], root: Path, name: str) -> list[tuple[int, int, str]]:
    result = cli("validate", "--project", root)
    found = []
    for line in result.err.splitlines():
        if line.startswith(f"{name}:"):
            _, row, col, message = line.split(":", 3)
            found.append((int(row) - 1, int(col) - 1, message.removeprefix(" ")))
    return sorted(found)


def _served(workspace: Workspace, path: Path) -> list[tuple[int, int, str]]:
    return sorted(
        (f.span.line, f.span.col, f.message)
        for f in workspace.diagnostics(path)
        if f.source == "configgen"
    )


@pytest.mark.parametrize(
    "text",
    [text for text, _ in test_flags_errors.CASES.values()],
    ids=list(test_flags_errors.CASES),
)
def test_flags_diagnostics_are_validates(
    tmp_path: Path, cli: Callable[..., CLIResult], text: str
) -> None:
    root = _project(tmp_path)
    path = root / "flags.toml"
    path.write_text(text, encoding="utf-8")
    expected = _validated(cli, root, "flags.toml")
    assert expected
    workspace = Workspace()
    workspace.texts[path.resolve()] = text
    path.write_text(FLAGS, encoding="utf-8")  # the server reads the buffer, not the file
    assert _served(workspace, path) == expected


@pytest.mark.parametrize(
    "text",
    [text for text, _ in test_config_errors.CASES.values()],
    ids=list(test_config_errors.CASES),
)
def test_config_diagnostics_are_validates(
    tmp_path: Path, cli: Callable[..., CLIResult], text: str
) -> None:
    root = _project(tmp_path)
    path = root / "config.toml"
    path.write_text(text, encoding="utf-8")
    expected = _validated(cli, root, "config.toml")
    workspace = Workspace()
    workspace.texts[path.resolve()] = text
    assert _served(workspace, path) == expected


def test_expired_flags_are_warnings_as_validate_prints_them(
    tmp_path: Path, cli: Callable[..., CLIResult]
) -> None:
    root = _project(tmp_path)
    path = root / "flags.toml"
    path.write_text(FLAGS + "expires = 2020-01-01\n", encoding="utf-8")
    expected = _validated(cli, root, "flags.toml")
    assert expected == [
        (0, 0, "warning: flags.new_checkout: expired on 2020-01-01: the getter now returns the "
               "default False; remove the flag or move its date"),
    ]  # fmt: skip
    workspace = Workspace()
    [finding] = [f for f in workspace.diagnostics(path) if f.source == "configgen"]
    assert (finding.span.line, finding.span.col, finding.message) == expected[0]
    assert finding.level == "warning"


def test_token_spans() -> None:
    lines = ["[flags.a]", "  rollout = 120", "[[items]]", "x = 1 # c", "é = 1"]
    assert token_span(lines, 1, 1) == Span(0, 0, 0, 9)
    assert token_span(lines, 2, 3) == Span(1, 2, 1, 9)
    assert token_span(lines, 3, 1) == Span(2, 0, 2, 9)
    assert token_span(lines, 4, 1) == Span(3, 0, 3, 1)
    assert token_span(lines, 5, 1) == Span(4, 0, 4, 1)
    assert token_span(lines, 9, 1) == Span(8, 0, 8, 0)  # past the end: nothing to cover


def test_completion_in_flags_and_config(tmp_path: Path) -> None:
    root = _project(tmp_path)
    workspace = Workspace()
    flags = (root / "flags.toml").resolve()
    workspace.texts[flags] = FLAGS + 'segments = [""]\ntype = \n\n[segments.staff]\nusers = ["a"]\n'
    labels = [c.label for c in workspace.completion(flags, 3, 0)]
    assert "default" not in labels and "rollout" in labels and "permanent" in labels
    assert [c.insert for c in workspace.completion(flags, 3, len('segments = ["'))] == ["staff"]
    kinds = workspace.completion(flags, 4, len("type = "))
    assert [c.insert for c in kinds] == [
        '"bool"',
        '"int"',
        '"float"',
        '"string"',
        '"enum"',
        '"percent"',
    ]
    assert [c.label for c in workspace.completion(flags, 8, 0)] == ["attribute", "in"]
    config = (root / "config.toml").resolve()
    workspace.texts[config] = '[server]\nport = 1  # validate: min=1, \nhost = "#"  # \n# \n'
    rules = workspace.completion(config, 1, len("port = 1  # validate: min=1, "))
    assert [c.insert for c in rules] == ["max=", "min=", "oneof=", "pattern="]
    names = workspace.completion(config, 2, len('host = "#"  # '))
    assert [c.insert for c in names][:2] == ["env: ", "map"]
    assert workspace.completion(config, 3, 2) == []  # a whole-line comment is a docstring


def test_without_pygls_the_command_names_the_extra(tmp_path: Path) -> None:
    """The core never imports pygls; without it ``configgen lsp`` says what to install."""
    (tmp_path / "pygls.py").write_text("raise ImportError('no pygls here')\n", encoding="utf-8")
    code = "import sys; from configgen.cli import main; sys.exit(main(['lsp']))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == textwrap.dedent(
        """\
        configgen: configgen lsp needs pygls, which is not installed: pip install 'python-configgen[lsp]'
        """
    )


def test_pyproject_without_the_table_is_not_ours(tmp_path: Path) -> None:
    folder = tmp_path / "other"
    folder.mkdir()
    path = folder / "pyproject.toml"
    path.write_text('[project]\nname = "x"\n', encoding="utf-8")
    workspace = Workspace()
    workspace.texts[path] = '[project]\nname = "x"\ndependencies = ["python-configgen"]\n'
    assert workspace.diagnostics(path) == []
    workspace.texts[path] = "[tool.configgen]\nconfig = 1\n"
    [finding] = workspace.diagnostics(path)
    assert finding.message == "tool.configgen.config: must be a string, not int"
    workspace.texts[path] = "[tool.configgen\n"
    [finding] = workspace.diagnostics(path)
    assert finding.message.startswith("invalid TOML")
