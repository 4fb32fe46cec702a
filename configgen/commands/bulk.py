"""``configgen flags export`` and ``configgen flags import``: every stored value at once, as
JSON or TOML; an import is checked whole against flags.toml and applied all or nothing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from configgen import bulk
from configgen.audit import DEFAULT_RETENTION, Conflict, os_user
from configgen.commands.flags import _positive, _stored
from configgen.diagnostics import did_you_mean
from configgen.model import Flag, FlagsSchema
from configgen.stores._editors import DEFAULT_MAX_TXN_OPS


def add_parsers(
    actions: argparse._SubParsersAction[argparse.ArgumentParser],
    parents: list[argparse.ArgumentParser],
) -> None:
    sub = actions.add_parser(
        "export",
        parents=parents,
        help="write the stored values as JSON or TOML, sorted by key; or (--format flagd) "
        "every flag as a flagd flag definition, stored values folded in",
    )
    sub.add_argument("keys", nargs="*", metavar="KEY", help="only these flags (default: all)")
    sub.add_argument(
        "--format",
        choices=(*bulk.FORMATS, "flagd"),
        help="json, toml or flagd (default: by -o FILE's extension, else json; "
        "flagd needs no --store)",
    )
    sub.add_argument("-o", "--output", metavar="FILE", help="write there, not to standard output")
    sub = actions.add_parser(
        "import",
        parents=parents,
        help="check a JSON or TOML file of values against flags.toml, show the changes, "
        "apply them all or nothing",
    )
    sub.add_argument("file", metavar="FILE", help="the values; '-' reads standard input")
    sub.add_argument(
        "--format", choices=bulk.FORMATS, help="json or toml (default: by FILE's extension)"
    )
    sub.add_argument("--dry-run", action="store_true", help="show the changes, write nothing")
    sub.add_argument(
        "--replace",
        action="store_true",
        help="also reset the stored flags FILE does not mention (delete their "
        "values: their defaults apply)",
    )
    sub.add_argument(
        "--note",
        default="",
        metavar="TEXT",
        help="why, for the audit log (one note for every change)",
    )
    sub.add_argument(
        "--retention",
        type=_positive,
        default=None,
        metavar="N",
        help=f"audit entries the store keeps (default {DEFAULT_RETENTION})",
    )
    sub.add_argument(
        "--max-txn-ops",
        type=_positive,
        default=DEFAULT_MAX_TXN_OPS,
        metavar="N",
        help="the etcd servers' --max-txn-ops (default "
        f"{DEFAULT_MAX_TXN_OPS}): an import into etcd changes at most N/2 flags",
    )


def run(
    args: argparse.Namespace,
    flags: dict[str, Flag],
    service: str,
    *,
    schema: FlagsSchema | None = None,
) -> int:
    if args.action == "export" and args.format == "flagd":
        assert schema is not None
        return export_flagd(args, flags, service, schema)
    if args.action == "export":
        return export(args, flags, service)
    return import_values(args, flags, service)


def _open(args: argparse.Namespace, service: str) -> Any:
    """The store's editor (ValueError: a URL it cannot use; ImportError: no client)."""
    from configgen.stores import open_editor

    return open_editor(
        args.store,
        service=service,
        timeout=args.timeout,
        retention=getattr(args, "retention", None),
        max_txn_ops=getattr(args, "max_txn_ops", DEFAULT_MAX_TXN_OPS),
    )


def _unknown_key(keys: list[str], flags: dict[str, Flag]) -> bool:
    """Say so, with the closest name, when a KEY given is no flag."""
    for key in keys:
        if key not in flags:
            print(
                f"configgen: no flag {key!r} in flags.toml{did_you_mean(key, flags)}",
                file=sys.stderr,
            )
            return True
    return False


def _read_stored(args: argparse.Namespace, service: str) -> dict[str, Any] | int:
    """The store's raw values, or the exit status after saying why they cannot be read."""
    try:
        editor = _open(args, service)
    except (ValueError, ImportError) as exc:
        print(f"configgen: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    try:
        return bulk.stored_values(editor)
    except Exception as exc:
        print(f"configgen: {args.store}: {exc}", file=sys.stderr)
        return 1
    finally:
        editor.close()


def export_flagd(
    args: argparse.Namespace, flags: dict[str, Flag], service: str, schema: FlagsSchema
) -> int:
    """Write the flagd flag definitions, with the store's values folded in when --store is
    given; 1 if some stored values could not be used (named on stderr)."""
    from configgen import flagd

    if _unknown_key(args.keys, flags):
        return 1
    wanted = {key: flags[key] for key in (args.keys or flags)}
    exported = bulk.Export({}, {}, [])
    if args.store is not None:
        stored = _read_stored(args, service)
        if isinstance(stored, int):
            return stored
        exported = bulk.export_values(stored, flags, list(wanted))
    segments = {segment.name: segment for segment in schema.segments}
    found = flagd.document(wanted, segments, exported.values, schema.bucketing)
    status = _write(args.output, flagd.render(found))
    for key, why in exported.invalid.items():
        print(
            f"configgen: warning: {why}; services serve the flag as if nothing were stored "
            f"(default {flags[key].default!r}, targeting applied), and so does the export",
            file=sys.stderr,
        )
        status = 1
    return status


def _write(output: str | None, text: str) -> int:
    if output and output != "-":
        from configgen.stores._editors import _write_atomically

        try:
            _write_atomically(Path(output), text.encode("utf-8"))
        except OSError as exc:
            print(f"configgen: {output}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


def export(args: argparse.Namespace, flags: dict[str, Flag], service: str) -> int:
    """Write the stored values; 1 if some could not be exported (named on stderr)."""
    if _unknown_key(args.keys, flags):
        return 1
    format = args.format or (bulk.format_of(args.output) if args.output else "json")
    if format is None:
        print(
            f"configgen: {args.output}: its name ends in neither .json nor .toml: "
            "say --format json or --format toml",
            file=sys.stderr,
        )
        return 2
    stored = _read_stored(args, service)
    if isinstance(stored, int):
        return stored
    exported = bulk.export_values(stored, flags, args.keys or None)
    if _write(args.output, bulk.render(exported.values, format)):
        return 1
    status = 0
    for key in args.keys:
        if key not in stored:
            print(
                f"configgen: {key}: no stored value (its default {flags[key].default!r} "
                "applies); nothing to export",
                file=sys.stderr,
            )
    for key, why in exported.invalid.items():
        print(
            f"configgen: warning: {why}; services serve the default "
            f"{flags[key].default!r}; not exported",
            file=sys.stderr,
        )
        status = 1
    for key in exported.unknown:
        print(
            f"configgen: note: key {key!r} in the store is no flag in flags.toml; not exported",
            file=sys.stderr,
        )
    return status


def import_values(args: argparse.Namespace, flags: dict[str, Flag], service: str) -> int:
    """Check the file whole, show the changes, apply them all or nothing (unless --dry-run)."""
    format = args.format or bulk.format_of(args.file)
    if format is None:
        print(
            f"configgen: {args.file}: its name ends in neither .json nor .toml: "
            "say --format json or --format toml",
            file=sys.stderr,
        )
        return 2
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        print(f"configgen: {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    shown = "<stdin>" if args.file == "-" else args.file
    wanted, problems = bulk.parse_import(data, flags, format=format, shown_as=shown)
    if problems:
        for problem in problems:
            print(
                f"{problem.path}:{problem.line}:{problem.col}: {problem.message}", file=sys.stderr
            )
        count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
        print(f"configgen: {shown}: {count}; nothing was written", file=sys.stderr)
        return 1
    try:
        editor = _open(args, service)
    except (ValueError, ImportError) as exc:
        print(f"configgen: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    try:
        return _apply(args, editor, flags, wanted, shown)
    except Exception as exc:
        print(f"configgen: {args.store}: {exc}", file=sys.stderr)
        return 1
    finally:
        editor.close()


def _apply(
    args: argparse.Namespace,
    editor: Any,
    flags: dict[str, Flag],
    wanted: dict[str, Any],
    shown: str,
) -> int:
    stored = bulk.stored_values(editor)
    differences = bulk.plan(wanted, stored, flags, replace=args.replace)
    if args.replace:
        for key in sorted(set(stored) - set(flags)):
            print(
                f"configgen: note: key {key!r} in the store is no flag in flags.toml; "
                "--replace leaves it",
                file=sys.stderr,
            )
    if not differences:
        print(f"nothing to change: the store already holds the values of {shown}")
        return 0
    for difference in differences:
        print(bulk.show(difference, flags))
    count = len(differences)
    changes = "1 change" if count == 1 else f"{count} changes"
    refused = bulk.too_many(editor, count)
    if refused is not None:
        print(f"configgen: {refused}", file=sys.stderr)
        return 1
    if args.dry_run:
        print(f"{changes}; a dry run: nothing was written")
        return 0
    batch = bulk.changes(differences, editor, actor=os_user(), note=args.note)
    try:
        editor.change_many(batch)
    except Conflict as exc:
        none = "" if count == 1 else f" (none of the {changes})"
        print(
            f"configgen: {exc.key} changed meanwhile: the store now holds "
            f"{_stored(exc.current)}, not {_stored(exc.expected)}; nothing was "
            f"written{none}",
            file=sys.stderr,
        )
        return 1
    each = "with its audit entry" if count == 1 else "each with its audit entry"
    print(f"{changes} written, {each}")
    return 0
