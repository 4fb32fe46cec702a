"""``configgen check``: exit 1 when a generated module is missing or out of date, or when
a build of the project could not generate it (``python-configgen`` not in the build
requirements)."""

from __future__ import annotations

import argparse
import sys

from configgen.diagnostics import errors, print_diagnostics
from configgen.output import read_text
from configgen.pipeline import render
from configgen.settings import build_requirement_problems, load_settings


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.project)
    generation = render(settings)
    if not generation.ok:
        print_diagnostics(errors(generation.diagnostics))
        return 1
    # a build that cannot generate ships without the modules: as stale as it gets
    requirement = build_requirement_problems(settings.root, severity="error")
    print_diagnostics(requirement)
    ret = 1 if requirement else 0
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
