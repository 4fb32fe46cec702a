"""The pipeline every door calls: settings -> read -> check -> render -> write."""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import NamedTuple

from configgen.config_reader import read_config
from configgen.diagnostics import Diagnostic, DiagnosticError, errors
from configgen.output import write_files
from configgen.render import render_config
from configgen.settings import Settings


class Generation(NamedTuple):
    """What the generated modules should contain, or why they cannot be made."""

    files: dict[Path, str]
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool:
        return not errors(self.diagnostics)


def inputs_hash(settings: Settings, *inputs: Path) -> str:
    """A digest of everything a generated module depends on, recorded in its header."""
    digest = hashlib.sha256(b"configgen\0")
    digest.update(settings.env_prefix.encode() + b"\0")
    for path in inputs:
        digest.update(settings.shown(path).encode() + b"\0")
        with contextlib.suppress(OSError):
            digest.update(path.read_bytes())
        digest.update(b"\0")
    return "sha256:" + digest.hexdigest()[:32]


def render(settings: Settings) -> Generation:
    """Read and check the inputs and render every module in memory; write nothing."""
    schema, diagnostics = read_config(
        settings.config, settings.shown(settings.config), settings.env_prefix
    )
    if schema is None or errors(diagnostics):
        return Generation({}, diagnostics)
    files = {
        settings.outputs["config"]: render_config(
            schema, source_hash=inputs_hash(settings, settings.config)
        ),
    }
    return Generation(files, diagnostics)


def generate(settings: Settings) -> list[Path]:
    """Render and write the modules; return the changed files.

    Raises `DiagnosticError` with every problem if the inputs are invalid; then no
    file is written.
    """
    generation = render(settings)
    if not generation.ok:
        raise DiagnosticError(errors(generation.diagnostics))
    if not settings.package.is_dir():
        raise DiagnosticError(
            [
                Diagnostic(
                    "pyproject.toml",
                    1,
                    1,
                    "tool.configgen.package",
                    f"the package directory {settings.shown(settings.package)} does not exist",
                )
            ]
        )
    return write_files(generation.files)


def validate(path: Path, shown: str, env_prefix: str) -> list[Diagnostic]:
    """Check one input file without writing anything."""
    _, diagnostics = read_config(path, shown, env_prefix)
    return diagnostics
