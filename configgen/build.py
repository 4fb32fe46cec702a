"""The build step every build door calls: generate if needed, say what to ship and leave out."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from configgen.diagnostics import Diagnostic, DiagnosticError, errors
from configgen.output import read_text, write_files
from configgen.settings import Settings, load_settings, production_build, require_package_dir


class BuildOutputs(NamedTuple):
    """What a build ships and what it leaves out."""

    settings: Settings
    include: list[Path]
    """The generated modules this build ships."""
    exclude: list[Path]
    """Generated modules this build must leave out (the testing module, in production)."""
    inputs: list[Path]
    """config.toml and flags.toml: an sdist carries them."""
    written: list[Path]
    """Modules written now (empty when everything was up to date)."""
    warnings: list[Diagnostic]


def _header(path: Path) -> str | None:
    text = read_text(path)
    if text is None:
        return None
    lines = text.split("\n", 2)
    return lines[1] if len(lines) > 1 else None


def build_step(root: Path, *, production: bool | None = None) -> BuildOutputs:
    """Generate the modules of the project at *root* for a build; raise on bad input.

    Production builds (``CONFIGGEN_PRODUCTION=1``, or ``test-helpers = false``) leave the
    testing module out of what they ship, without deleting a development copy. When
    every module already records the digest of the current inputs, nothing is rendered.
    Raises `configgen.SettingsError` or `configgen.DiagnosticError`.
    """
    settings = load_settings(root)
    if production is None:
        production = production_build()
    production = production or not settings.test_helpers
    require_package_dir(settings)
    outputs = settings.outputs
    wanted = [outputs["config"]] + ([outputs["flags"]] if settings.flags is not None else [])
    inputs = [settings.config] + ([settings.flags] if settings.flags is not None else [])
    if not production:
        wanted.append(outputs["testing"])
    exclude = [outputs["testing"]] if production else []
    if _up_to_date(settings, wanted):
        return BuildOutputs(settings, wanted, exclude, inputs, [], [])

    from configgen.pipeline import render

    generation = render(settings, production=production)
    if not generation.ok:
        raise DiagnosticError(errors(generation.diagnostics))
    written = write_files(generation.files)
    return BuildOutputs(
        settings, sorted(generation.files), exclude, inputs, written, generation.diagnostics
    )


def _up_to_date(settings: Settings, wanted: list[Path]) -> bool:
    from configgen.fingerprint import expected_headers

    try:
        expected = expected_headers(settings)
    except OSError:
        return False
    return all(_header(path) == expected.get(path) for path in wanted)
