"""Generated files are written all or nothing, and left alone when unchanged."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from configgen.output import write_files


def test_writes_and_skips_unchanged(tmp_path: Path) -> None:
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    assert write_files({a: "A\n", b: "B\n"}) == [a, b]
    mtime = a.stat().st_mtime_ns
    assert write_files({a: "A\n", b: "B2\n"}) == [b]
    assert a.stat().st_mtime_ns == mtime
    assert b.read_text() == "B2\n"
    assert stat.S_IMODE(a.stat().st_mode) == 0o666 & ~_umask()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py", "b.py"]  # no temporary files left


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_failure_while_replacing_restores_every_file(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.py", tmp_path / "b.py", tmp_path / "c.py"
    write_files({a: "old a\n", b: "old b\n"})
    c.mkdir()  # a real failure: a file cannot replace a non-empty directory
    (c / "keep").write_text("x")
    with pytest.raises(OSError):
        write_files({a: "new a\n", b: "new b\n", c: "new c\n"})
    assert a.read_text() == "old a\n"
    assert b.read_text() == "old b\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py", "b.py", "c.py"]


def test_failure_while_writing_changes_nothing(tmp_path: Path) -> None:
    a = tmp_path / "a.py"
    write_files({a: "old a\n"})
    with pytest.raises(OSError):
        write_files({a: "new a\n", tmp_path / "missing-dir" / "b.py": "b\n"})
    assert a.read_text() == "old a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py"]


def test_new_file_removed_again_on_failure(tmp_path: Path) -> None:
    a, c = tmp_path / "a.py", tmp_path / "c.py"
    c.mkdir()
    (c / "keep").write_text("x")
    with pytest.raises(OSError):
        write_files({a: "new a\n", c: "new c\n"})
    assert not a.exists()
