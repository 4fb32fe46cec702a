"""``configgen watch``, driven as a subprocess."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import write_project
from tests.integration.conftest import tool

pytestmark = pytest.mark.integration


def _lines(process: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for(lines: queue.Queue[str], text: str, seen: list[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"{text!r} not seen; output so far: {seen}")


def test_watch_regenerates_and_survives_bad_edits(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", "a = 1\n")
    process = subprocess.Popen(
        [str(tool("configgen")), "watch", "--project", str(root)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    lines = _lines(process)
    seen: list[str] = []
    module = root / "src" / "app" / "configgen_config.py"
    try:
        _wait_for(lines, "configgen: watching", seen)
        assert "    a: int = 1" in module.read_text()
        (root / "config.toml").write_text("a = 2\n")
        _wait_for(lines, "configgen: wrote src/app/configgen_config.py", seen)
        assert "    a: int = 2" in module.read_text()
        (root / "config.toml").write_text('a = [1, "x"]\n')
        _wait_for(lines, "configgen: waiting for a fix", seen)
        assert (
            "config.toml:1:1: a: mixed-type array (int, str): every element must have the same type"
            in seen
        )
        assert "    a: int = 2" in module.read_text()  # nothing written
        assert process.poll() is None
        (root / "config.toml").write_text("a = 3\n")
        _wait_for(lines, "configgen: wrote src/app/configgen_config.py", seen)
        assert "    a: int = 3" in module.read_text()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        _wait_for(lines, "configgen: stopped", seen)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()
