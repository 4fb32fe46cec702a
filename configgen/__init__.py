"""ConfigGen: typed, self-contained Python modules from config.toml and flags.toml."""

from __future__ import annotations

from configgen.diagnostics import Diagnostic, DiagnosticError
from configgen.pipeline import Generation, generate, render
from configgen.settings import Settings, SettingsError, load_settings

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
