"""What users' type checkers see: each getter's type, and mistakes caught before run time."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

GOOD = """\
from typing import Literal

from typing_extensions import assert_type

from ffapp.configgen_flags import EvaluationContext, Flags, MemoryStore
from ffapp.configgen_testing import test_config, test_flags_with

flags = Flags(MemoryStore())
assert_type(flags.new_checkout(), bool)
assert_type(flags.new_checkout(EvaluationContext("alice")), bool)
assert_type(flags.ui.theme(), Literal["light", "dark", "high-contrast"])
assert_type(flags.max_items(), int)
assert_type(flags.discount(), float)
assert_type(flags.greeting(), str)
assert_type(flags.search.new_ranker(EvaluationContext("u")), bool)
assert_type(test_flags_with(ui_theme="dark", search_new_ranker=50.0), Flags)
assert_type(test_config(debug=True).server.port, int)
"""

BAD = """\
from ffapp.configgen_flags import Flags
from ffapp.configgen_testing import test_flags_with

flags = Flags()
flags.new_chekout()
test_flags_with(ui_theme="blue")
test_flags_with(new_checkout="yes")
test_flags_with(no_such_flag=True)
"""


def _mypy(tmp_path: Path, package: Path, source: str) -> subprocess.CompletedProcess[str]:
    program = tmp_path / "program.py"
    program.write_text(textwrap.dedent(source))
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file=", "--no-incremental",
         "--cache-dir", str(tmp_path / ".mypy"), str(program)],
        capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(package.parent)},
    )  # fmt: skip


def test_getter_types(tmp_path: Path, flags_package: Path) -> None:
    result = _mypy(tmp_path, flags_package, GOOD)
    assert result.returncode == 0, result.stdout


def test_mistakes_are_type_errors(tmp_path: Path, flags_package: Path) -> None:
    result = _mypy(tmp_path, flags_package, BAD)
    lines = [
        line.split(": error: ")[1] for line in result.stdout.splitlines() if ": error: " in line
    ]
    assert lines == [
        '"Flags" has no attribute "new_chekout"; maybe "new_checkout"?  [attr-defined]',
        'Argument "ui_theme" to "test_flags_with" has incompatible type "Literal[\'blue\']"; '
        "expected \"Literal['light', 'dark', 'high-contrast'] | None\"  [arg-type]",
        'Argument "new_checkout" to "test_flags_with" has incompatible type "str"; '
        'expected "bool | None"  [arg-type]',
        'Unexpected keyword argument "no_such_flag" for "test_flags_with"  [call-arg]',
    ]
