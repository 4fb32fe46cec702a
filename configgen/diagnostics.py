"""Diagnostics: every problem found in the inputs, with the place it was found."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, NamedTuple

Severity = Literal["error", "warning"]


class Diagnostic(NamedTuple):
    """One problem in an input file, located by 1-based line and column."""

    path: str
    line: int
    col: int
    key: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.col}"
        label = "" if self.severity == "error" else f"{self.severity}: "
        subject = f"{self.key}: " if self.key else ""
        return f"{where}: {label}{subject}{self.message}"


class DiagnosticError(Exception):
    """Raised by the build doors when the inputs have errors; holds all of them."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(str(d) for d in diagnostics))


def did_you_mean(word: str, choices: Iterable[str], *, quote: str = "'") -> str:
    """`` (did you mean 'x'?)`` for the choice closest to *word*, or ``""`` if none is close."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {quote}{close[0]}{quote}?)" if close else ""


def errors(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Return the diagnostics that are errors (not warnings)."""
    return [d for d in diagnostics if d.severity == "error"]


def print_diagnostics(diagnostics: list[Diagnostic]) -> None:
    """Print diagnostics to stderr, one ``path:line:col: message`` line each, in file order."""
    import sys

    for diagnostic in sorted(diagnostics, key=lambda d: (d.path, d.line, d.col)):
        print(diagnostic, file=sys.stderr)
