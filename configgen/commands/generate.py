"""``configgen generate``: write the generated modules."""

from __future__ import annotations

import argparse

from configgen.diagnostics import DiagnosticError, print_diagnostics
from configgen.pipeline import generate
from configgen.settings import load_settings


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.project)
    try:
        changed = generate(settings)
    except DiagnosticError as exc:
        print_diagnostics(exc.diagnostics)
        return 1
    for path in changed:
        print(f"configgen: wrote {settings.shown(path)}")
    return 0
