"""ConfigGen: typed, self-contained Python modules from config.toml and flags.toml."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from configgen.diagnostics import Diagnostic, DiagnosticError
from configgen.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from configgen.pipeline import Generation, generate, render

__version__ = "0.1.0"

__all__ = [
    "Diagnostic",
    "DiagnosticError",
    "Generation",
    "Settings",
    "SettingsError",
    "__version__",
    "generate",
    "load_settings",
    "render",
]


def __getattr__(name: str) -> Any:
    # The pipeline (jinja2, tomlkit) loads on first use, so that a build whose inputs
    # did not change never imports it.
    if name in ("Generation", "generate", "render"):
        from configgen import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'configgen' has no attribute {name!r}")
