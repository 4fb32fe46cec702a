"""``configgen validate [FILES]``: check the inputs without writing anything."""

from __future__ import annotations

import argparse
from pathlib import Path

from configgen.diagnostics import errors, print_diagnostics
from configgen.pipeline import validate
from configgen.settings import Settings, build_requirement_problems, load_settings


def run(args: argparse.Namespace) -> int:
    settings: Settings = load_settings(args.project, require_table=not args.files)
    files: list[tuple[Path, str]] = [(path, path.as_posix()) for path in args.files]
    if not files:
        files = [(settings.config, settings.shown(settings.config))]
        if settings.flags is not None:
            files.append((settings.flags, settings.shown(settings.flags)))
    ret = 0
    if not args.files:
        print_diagnostics(build_requirement_problems(settings.root))
    for path, shown in files:
        diagnostics = validate(path, shown, settings.env_prefix, strict=args.strict)
        print_diagnostics(diagnostics)
        if errors(diagnostics):
            ret = 1
        else:
            print(f"{shown}: ok")
    return ret
