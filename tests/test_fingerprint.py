"""The generator fingerprint covers every module that can change what is generated."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from configgen import fingerprint
from tests.conftest import DATA, write_project

# Modules a generation imports that cannot change its output.
NOT_SHAPING = {"__init__.py", "fingerprint.py", "output.py", "settings.py", "cli.py", "__main__.py"}

PROBE = """
import json, sys
from pathlib import Path
from configgen.pipeline import render
from configgen.settings import load_settings
generation = render(load_settings(Path(sys.argv[1])))
assert generation.ok, generation.diagnostics
names = sorted(
    Path(module.__file__).name
    for name, module in sys.modules.items()
    if name.startswith("configgen.") and name.count(".") == 1 and getattr(module, "__file__", None)
)
print(json.dumps(names))
"""


def test_every_module_a_generation_imports_is_hashed(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", (DATA / "everything.toml").read_text(), prefix="DEMO_",
                         extra='flags = "flags.toml"\n')  # fmt: skip
    (root / "flags.toml").write_text((DATA / "everything_flags.toml").read_text())
    done = subprocess.run([sys.executable, "-c", PROBE, str(root)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    imported = set(json.loads(done.stdout))
    missing = imported - NOT_SHAPING - set(fingerprint.GENERATOR_MODULES)
    assert not missing, f"add to fingerprint.GENERATOR_MODULES: {sorted(missing)}"
    assert set(fingerprint.GENERATOR_MODULES) <= imported | {"bucketing.py", "pipeline.py"}


def test_a_changed_generator_module_changes_the_fingerprint() -> None:
    before = fingerprint.generator_fingerprint()
    fingerprint.generator_fingerprint.cache_clear()
    original = fingerprint.GENERATOR_MODULES
    try:
        fingerprint.GENERATOR_MODULES = original[:-1]  # type: ignore[misc]
        assert fingerprint.generator_fingerprint() != before
    finally:
        fingerprint.GENERATOR_MODULES = original  # type: ignore[misc]
        fingerprint.generator_fingerprint.cache_clear()
