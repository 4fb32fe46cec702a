"""``configgen watch``: regenerate on every change of the inputs, until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from configgen.diagnostics import DiagnosticError, print_diagnostics
from configgen.pipeline import generate
from configgen.settings import SettingsError, load_settings


def _generate_once(project: Path) -> set[Path]:
    """Generate and report; return the files worth watching (inputs and pyproject.toml)."""
    watched = {(project / "pyproject.toml").resolve()}
    try:
        settings = load_settings(project)
        watched.add(settings.config)
        watched.add(settings.root / "flags.toml" if settings.flags is None else settings.flags)
        generated = generate(settings)
    except (SettingsError, DiagnosticError) as exc:
        print_diagnostics(exc.diagnostics)
        print("configgen: waiting for a fix", file=sys.stderr, flush=True)
        return watched
    print_diagnostics(generated.warnings)
    for path in generated.written:
        print(f"configgen: wrote {settings.shown(path)}", flush=True)
    for path in generated.removed:
        print(f"configgen: removed {settings.shown(path)}", flush=True)
    if not generated.written and not generated.removed:
        print("configgen: up to date", flush=True)
    return watched


def run(args: argparse.Namespace) -> int:
    try:
        from watchfiles import watch
    except ImportError:
        print(
            "configgen watch needs watchfiles: pip install 'python-configgen[watch]'",
            file=sys.stderr,
        )
        return 2
    import logging

    logging.getLogger("watchfiles").setLevel(logging.ERROR)  # its own Ctrl-C notice
    project: Path = args.project.resolve()
    watched = _generate_once(project)
    print(
        f"configgen: watching {', '.join(sorted(p.name for p in watched))} (Ctrl-C to stop)",
        flush=True,
    )
    folders = sorted({str(path.parent) for path in watched})
    for _changes in watch(
        *folders,
        recursive=False,
        raise_interrupt=False,
        watch_filter=lambda _change, path: Path(path).resolve() in watched,
    ):
        latest = _generate_once(project)
        watched.clear()
        watched.update(latest)
    print("configgen: stopped", flush=True)
    return 0
