"""``configgen watch``: regenerate on every change of the inputs, until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from configgen.diagnostics import DiagnosticError, print_diagnostics
from configgen.pipeline import generate
from configgen.settings import SettingsError, load_settings

Signature = dict[Path, "tuple[int, int] | None"]


def _signature(paths: set[Path]) -> Signature:
    found: Signature = {}
    for path in paths:
        try:
            info = path.stat()
            found[path] = (info.st_mtime_ns, info.st_size)
        except OSError:
            found[path] = None
    return found


def _generate_once(project: Path) -> Signature:
    """Generate and report; return the watched files as they were *before* generating,
    so that an edit made meanwhile is seen as a change."""
    watched = {(project / "pyproject.toml").resolve()}
    try:
        settings = load_settings(project)
        watched.add(settings.config)
        watched.add(settings.root / "flags.toml" if settings.flags is None else settings.flags)
    except SettingsError as exc:
        print_diagnostics(exc.diagnostics)
        print("configgen: waiting for a fix", file=sys.stderr, flush=True)
        return _signature(watched)
    seen = _signature(watched)
    try:
        generated = generate(settings)
    except DiagnosticError as exc:
        print_diagnostics(exc.diagnostics)
        print("configgen: waiting for a fix", file=sys.stderr, flush=True)
        return seen
    print_diagnostics(generated.warnings)
    for path in generated.written:
        print(f"configgen: wrote {settings.shown(path)}", flush=True)
    for path in generated.removed:
        print(f"configgen: removed {settings.shown(path)}", flush=True)
    if not generated.written and not generated.removed:
        print("configgen: up to date", flush=True)
    return seen


def _watch(watch: Any, project: Path) -> None:
    seen = _generate_once(project)
    watched = set(seen)
    folders = sorted({str(path.parent) for path in watched})
    announced = False
    # Wake up twice a second even without events: the first wake-up means the watcher is
    # armed, and comparing the files' signatures catches an edit made before that.
    for _changes in watch(*folders, recursive=False, raise_interrupt=False,
                          yield_on_timeout=True, rust_timeout=500,
                          watch_filter=lambda _change, path: Path(path).resolve() in watched):  # fmt: skip
        if not announced:
            names = ", ".join(sorted(path.name for path in watched))
            print(f"configgen: watching {names} (Ctrl-C to stop)", flush=True)
            announced = True
        if _signature(watched) == seen:
            continue
        seen = _generate_once(project)
        watched.clear()
        watched.update(seen)


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
    # Ctrl-C between two waits of the watcher stops just the same as during one
    with contextlib.suppress(KeyboardInterrupt):
        _watch(watch, args.project.resolve())
    print("configgen: stopped", flush=True)
    return 0
