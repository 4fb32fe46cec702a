"""``configgen flags unused [PATHS...]``: flags no code reads, and getters no flag has.

References come from the syntax tree (`configgen.references`); no user code is imported.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from configgen.diagnostics import Diagnostic, Severity, print_diagnostics
from configgen.model import Flag, FlagsSchema
from configgen.references import Reference, Scan, default_paths, python_files, scan
from configgen.settings import Settings


def add_parser(actions: argparse._SubParsersAction[argparse.ArgumentParser],
               common: argparse.ArgumentParser) -> None:  # fmt: skip
    sub = actions.add_parser(
        "unused",
        parents=[common],
        help="flags of flags.toml that no code reads, and getters that no flag has",
    )
    sub.add_argument("paths", nargs="*", type=Path, metavar="PATHS",
                     help="Python files or folders to read (default: the package and tests/)")  # fmt: skip
    sub.add_argument("--strict", action="store_true",
                     help="flags read only by tests count as unused (exit 1)")  # fmt: skip
    sub.add_argument("--verbose", "-v", action="store_true",
                     help="also list every reference of every flag")  # fmt: skip


def run(args: argparse.Namespace, settings: Settings, schema: FlagsSchema) -> int:
    paths = [Path(p) for p in args.paths] or default_paths(settings)
    missing = [p for p in paths if not p.exists()]
    for path in missing:
        print(f"configgen: {path}: no such file or folder", file=sys.stderr)
    if missing:
        return 2
    found = scan(schema, python_files(paths, settings), root=settings.root)
    print_diagnostics(found.problems)
    text = settings.flags.read_text(encoding="utf-8") if settings.flags is not None else ""
    written = written_keys(schema, text.splitlines())
    findings = report(schema, found, strict=args.strict, written=written)
    for finding in findings:
        print(finding)
    if args.verbose:
        for reference in found.references:
            how = "test_flags_with keyword" if reference.keyword else "read"
            where = " (test)" if reference.test and not reference.keyword else ""
            print(f"{reference}: {how} of {reference.flag}{where}")
    unused = [d for d in findings if d.severity == "error"]
    print(f"configgen: {len(schema.flags())} flags, {len(found.references)} references in "
          f"{found.files} files; {len(unused)} problems", file=sys.stderr)  # fmt: skip
    return 1 if unused else 0


def report(
    schema: FlagsSchema, found: Scan, *, strict: bool = False, written: dict[str, str] | None = None
) -> list[Diagnostic]:
    """Flags never read, flags only tests use (warnings unless *strict*), and getters or
    ``test_flags_with`` keywords that no flag has; in file order. Flags are named as
    *written* (`written_keys`) where it has them."""
    by_flag = references_by_flag(found.references)
    findings: list[Diagnostic] = []
    for flag in schema.flags():
        name = (written or {}).get(flag.key, flag.key)
        message = unused_message(flag, by_flag.get(flag.key, []), name)
        if message is not None:
            severity: Severity = "error" if strict or message.endswith("never read") else "warning"
            findings.append(Diagnostic(schema.source, flag.line, flag.col, "", message, severity))
    return sorted(findings, key=lambda d: (d.line, d.col)) + found.unknown


def references_by_flag(references: list[Reference]) -> dict[str, list[Reference]]:
    by_flag: dict[str, list[Reference]] = {}
    for reference in references:
        by_flag.setdefault(reference.flag, []).append(reference)
    return by_flag


def unused_message(flag: Flag, references: list[Reference], name: str = "") -> str | None:
    """What to say of *flag* (called *name*, by default its key) given its references:
    None when code outside tests reads it."""
    name = name or flag.key
    if any(not r.test for r in references):
        return None
    if not references:
        return f"flag {name} is never read"
    places = len(references)
    return (f"flag {name} is used only by tests ({places} place{'s' * (places != 1)}, "
            f"first {references[0]}); no other code reads it")  # fmt: skip


def written_keys(schema: FlagsSchema, lines: list[str]) -> dict[str, str]:
    """Each flag's dotted key as flags.toml (*lines*) spells it (``new-checkout``, where the
    getter and the store say ``new_checkout``), from the table header at the flag's place."""
    found = {}
    for flag in schema.flags():
        line = lines[flag.line - 1][flag.col - 1 :] if 0 < flag.line <= len(lines) else ""
        header = re.match(r"\[\s*flags\s*\.\s*([^\]]+?)\s*\]", line)
        if header is None:
            continue
        parts = [p.strip().strip("\"'") for p in header.group(1).split(".")]
        if len(parts) == len(flag.path):
            found[flag.key] = ".".join(parts)
    return found
