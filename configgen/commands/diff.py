"""``configgen diff``: the unified diff of what ``generate`` would change."""

from __future__ import annotations

import argparse
import difflib
import sys

from configgen.diagnostics import errors, print_diagnostics
from configgen.output import read_text
from configgen.pipeline import render
from configgen.settings import load_settings


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.project)
    generation = render(settings)
    if not generation.ok:
        print_diagnostics(errors(generation.diagnostics))
        return 1
    changes = [(path, text) for path, text in generation.files.items()]
    changes += [(path, "") for path in generation.obsolete]
    for path, text in changes:
        shown = settings.shown(path)
        current = read_text(path)
        lines = difflib.unified_diff(
            (current or "").splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile="/dev/null" if current is None else f"a/{shown}",
            tofile=f"b/{shown}" if path not in generation.obsolete else "/dev/null",
        )
        sys.stdout.writelines(lines)
    return 0
