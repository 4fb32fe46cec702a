"""``configgen generate``: write the generated modules."""

from __future__ import annotations

import argparse

from configgen.diagnostics import DiagnosticError, print_diagnostics
from configgen.pipeline import generate
from configgen.settings import load_settings


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.project)
    try:
        generated = generate(settings)
    except DiagnosticError as exc:
        print_diagnostics(exc.diagnostics)
        return 1
    print_diagnostics(generated.warnings)
    for path in generated.written:
        print(f"configgen: wrote {settings.shown(path)}")
    for path in generated.removed:
        print(f"configgen: removed {settings.shown(path)}")
    return 0
