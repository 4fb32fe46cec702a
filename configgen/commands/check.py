"""``configgen check``: exit 1 when a generated module is missing or out of date."""

from __future__ import annotations

import argparse
import sys

from configgen.diagnostics import errors, print_diagnostics
from configgen.output import read_text
from configgen.pipeline import render
from configgen.settings import build_requirement_warnings, load_settings


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.project)
    generation = render(settings)
    if not generation.ok:
        print_diagnostics(errors(generation.diagnostics))
        return 1
    print_diagnostics(build_requirement_warnings(settings.root))
    ret = 0
    for path, text in generation.files.items():
        current = read_text(path)
        if current != text:
            state = "missing" if current is None else "out of date"
            print(f"{settings.shown(path)}: {state}; run 'configgen generate'", file=sys.stderr)
            ret = 1
    for path in generation.obsolete:
        print(
            f"{settings.shown(path)}: should not exist; run 'configgen generate'", file=sys.stderr
        )
        ret = 1
    return ret
