"""``configgen flags list|get|set|delete|history|export|import --store URL``: flag values in
etcd, Redis or a local overrides file; changes are compare-and-set and recorded in the store's
audit log. ``export`` and ``import`` are in `configgen.commands.bulk`."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from typing import Any

from configgen import values
from configgen.audit import DEFAULT_RETENTION, Conflict, Editor, new_entry, os_user
from configgen.diagnostics import did_you_mean, print_diagnostics
from configgen.flags_reader import read_flags
from configgen.model import Flag
from configgen.settings import load_settings
from configgen.values import Value

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def check_value(flag: Flag, text: str) -> str:
    """The stored text for *text* as a value of *flag*; raise ValueError naming the type."""
    kind = flag.kind
    if kind == "bool":
        if text.lower() in _TRUE + _FALSE:
            return "true" if text.lower() in _TRUE else "false"
        raise ValueError(f"{flag.key} is a bool flag: {text!r} is not true or false")
    if kind == "int":
        try:
            number = int(text)
        except ValueError:
            raise ValueError(f"{flag.key} is an int flag: {text!r} is not an integer") from None
        if not -(2**63) <= number < 2**63:
            raise ValueError(f"{flag.key} is an int flag: {text} is out of the 64-bit range")
        return str(number)
    if kind in ("float", "percent"):
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{flag.key} is a {kind} flag: {text!r} is not a number") from None
        if kind == "percent" and not 0 <= value <= 100:
            raise ValueError(f"{flag.key} is a percent flag: {text} is not from 0 to 100")
        return text
    if kind == "enum" and text not in flag.values:
        raise ValueError(
            f"{flag.key} is an enum flag: {text!r} is not one of {', '.join(flag.values)}"
        )
    return text


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser],
               common: argparse.ArgumentParser) -> None:  # fmt: skip
    parser = commands.add_parser(
        "flags",
        help="read and change flag values in etcd, Redis or an overrides file; find unused "
        "and stale flags",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--store", metavar="URL",
                       help="etcd://HOST:PORT/SERVICE, redis://HOST:PORT/DB or file://PATH "
                       "(a TOML overrides file; a relative PATH is from the current folder)")  # fmt: skip
    store.add_argument("--service", help="the service's name in Redis (default: the project's)")
    store.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the store")
    parents = [common, store]
    write = argparse.ArgumentParser(add_help=False)
    write.add_argument("--note", default="", metavar="TEXT", help="why, for the audit log")
    expect = write.add_mutually_exclusive_group()
    expect.add_argument("--expect", metavar="VALUE",
                        help="the value you believe is stored: if the store holds another, "
                        "nothing is written and the command fails")  # fmt: skip
    expect.add_argument("--expect-default", action="store_true",
                        help="you believe no value is stored (the flag gives its default)")  # fmt: skip
    write.add_argument("--retention", type=_positive, default=None, metavar="N",
                       help=f"audit entries the store keeps (default {DEFAULT_RETENTION})")  # fmt: skip
    actions.add_parser("list", parents=parents, help="every flag, its type and stored value")
    sub = actions.add_parser("get", parents=parents, help="one flag's value")
    sub.add_argument("key")
    sub = actions.add_parser(
        "set", parents=[*parents, write], help="store a value, checked against flags.toml"
    )
    sub.add_argument("key")
    sub.add_argument("value")
    sub = actions.add_parser("delete", parents=[*parents, write], help="remove a stored value")
    sub.add_argument("key")
    sub = actions.add_parser("history", parents=parents, help="the audit log, newest first")
    sub.add_argument("key", nargs="?", help="only this flag's changes")
    sub.add_argument("--limit", type=_positive, default=50, metavar="N",
                     help="at most N entries (default 50)")  # fmt: skip
    from configgen.commands import bulk, stale, unused

    bulk.add_parsers(actions, parents)
    unused.add_parser(actions, common)
    stale.add_parser(actions, parents)


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return number


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.project)
    if settings.flags is None:
        print("configgen: no flags file: set 'flags' in [tool.configgen]", file=sys.stderr)
        return 1
    schema, diagnostics = read_flags(settings.flags, settings.shown(settings.flags))
    if schema is None:
        print_diagnostics(diagnostics)
        # unused and stale exit 1 for a finding: a flags.toml they cannot read is not one
        return 2 if args.action in ("unused", "stale") else 1
    if args.action in ("unused", "stale"):
        from configgen.commands import stale, unused

        if args.action == "unused":
            return unused.run(args, settings, schema)
        return stale.run(args, settings, schema)
    flags = {flag.key: flag for flag in schema.flags()}
    key: str = getattr(args, "key", None) or ""
    if key and key not in flags and args.action != "history":  # history outlives a flag
        hint = did_you_mean(key, flags)
        print(f"configgen: no flag {key!r} in {schema.source}{hint}", file=sys.stderr)
        return 1
    typed: Value | None = None
    if args.action == "set":
        try:
            typed = values.from_text(flags[key], check_value(flags[key], args.value))
        except ValueError as exc:
            print(f"configgen: {exc}", file=sys.stderr)
            return 1
    if args.store is None and getattr(args, "format", None) != "flagd":
        print(f"configgen flags {args.action}: --store URL is required", file=sys.stderr)
        return 2
    service = args.service or settings.project_name or settings.root.name
    # The command reports skipped keys itself (below); the store's log lines about them
    # would only repeat that on stderr.
    key_logger = logging.getLogger("configgen.stores.keys")
    level = key_logger.level
    key_logger.setLevel(logging.ERROR)
    try:
        if args.action in ("export", "import"):
            from configgen.commands import bulk

            scheme = dataclasses.replace(schema, bucketing=settings.bucketing)
            return bulk.run(args, flags, service, schema=scheme)
        return _with_editor(args, flags, key, typed, service)
    finally:
        key_logger.setLevel(level)


def _with_editor(
    args: argparse.Namespace, flags: dict[str, Flag], key: str, typed: Value | None,
    service: str,
) -> int:  # fmt: skip
    from configgen.stores import open_editor

    try:
        editor = open_editor(args.store, service=service, timeout=args.timeout,
                             retention=getattr(args, "retention", None))  # fmt: skip
    except (ValueError, ImportError) as exc:
        print(f"configgen: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    try:
        if args.action in ("set", "delete"):
            return _change(args, editor, flags[key], typed)
        if args.action == "history":
            return _history(args, editor, flags, key or None)
        return _show(args, editor, flags, key)
    except Exception as exc:
        print(f"configgen: {args.store}: {exc}", file=sys.stderr)
        return 1
    finally:
        editor.close()


def _change(args: argparse.Namespace, editor: Editor, flag: Flag, typed: Value | None) -> int:
    """Compare-and-set one flag, with an audit entry; nothing is written on a conflict."""
    current = editor.read(flag.key)
    believed = _believed(args, flag, current)
    if believed is not None:
        print(f"configgen: {flag.key}: expected {believed}, but the store holds "
              f"{_stored(current)}; nothing was written", file=sys.stderr)  # fmt: skip
        return 1
    new = None if typed is None else editor.encode(typed)
    if new is None and current is None:
        print(f"{flag.key}: no stored value (its default {flag.default!r} applies); "
              "nothing to delete")  # fmt: skip
        return 0
    # the log holds typed values (the same from every store, as the server writes them);
    # a stored value the flag cannot read is logged as it is
    try:
        old = None if current is None else values.from_stored(flag, current)
    except ValueError:
        old = current
    entry = new_entry(actor=os_user(), channel="cli", flag=flag.key, old=old, new=typed,
                      note=args.note)  # fmt: skip
    try:
        editor.change(flag.key, current, new, entry)
    except Conflict as exc:
        print(f"configgen: {flag.key} changed meanwhile: the store now holds "
              f"{_stored(exc.current)}, not {_stored(current)}; nothing was written",
              file=sys.stderr)  # fmt: skip
        return 1
    if new is None:
        print(f"{flag.key}: deleted (now its default {flag.default!r})")
    else:
        print(f"{flag.key} = {_text(new)}")
    return 0


def _believed(args: argparse.Namespace, flag: Flag, current: object) -> str | None:
    """What the operator said is stored, when the store holds something else; else None."""
    if args.expect_default:
        return None if current is None else "no stored value (--expect-default)"
    if args.expect is None:
        return None
    shown = f"{args.expect!r} (--expect)"
    if current is None or isinstance(current, bytes):
        return shown
    if args.expect == _text(current):
        return None
    try:  # the same value typed another way: "yes" for true, "1.50" for 1.5
        if _same_value(values.from_text(flag, args.expect), values.from_stored(flag, current)):
            return None
    except ValueError:
        pass
    return shown


def _same_value(one: Value, other: Value) -> bool:
    return one == other and isinstance(one, bool) == isinstance(other, bool)


def _history(
    args: argparse.Namespace, editor: Editor, flags: dict[str, Flag], key: str | None
) -> int:
    entries = editor.history(key, limit=args.limit)
    if key is not None and key not in flags and not entries:
        hint = did_you_mean(key, flags)
        print(f"configgen: no flag {key!r} in flags.toml and no changes of it{hint}",
              file=sys.stderr)  # fmt: skip
        return 1
    for entry in entries:
        change = f"{_logged(entry.old)} -> {_logged(entry.new)}"
        line = f"{entry.time}\t{entry.actor}\t{entry.channel}\t{entry.flag}\t{change}"
        print(f"{line}\t{entry.note}" if entry.note else line)
    return 0


def _show(args: argparse.Namespace, editor: Any, flags: dict[str, Flag], key: str) -> int:
    """``list`` and ``get``: what the services read now."""
    stored_values = editor.read_all()
    unreadable: dict[str, str] = editor.unreadable() if hasattr(editor, "unreadable") else {}
    status = 0
    for flag in flags.values() if args.action == "list" else [flags[key]]:
        stored = stored_values.get(flag.key)
        shown = _text(stored) if stored is not None else f"(default {flag.default!r})"
        problem = unreadable.get(flag.key)
        if problem is not None:  # services skip such a value: the flag gives its default
            print(f"configgen: {flag.key}: {problem}; services serve the default "
                  f"{flag.default!r} instead", file=sys.stderr)  # fmt: skip
            shown, status = f"(unreadable: default {flag.default!r})", 1
        if args.action == "list":
            print(f"{flag.key}\t{flag.kind}\t{shown}")
        elif problem is None:
            print(shown)
    if args.action == "list":  # keys whose very name is not text: no flag can be meant
        for name, problem in sorted(unreadable.items()):
            if name not in flags:
                print(f"configgen: key {name}: {problem}; skipped", file=sys.stderr)
                status = 1
    return status


def _text(raw: object) -> str:
    """A stored value as ``flags get`` prints it and ``--expect`` takes it."""
    if isinstance(raw, (bool, int, float, str)):
        return values.to_text(raw)
    return repr(raw)


def _stored(raw: object) -> str:
    """A stored value in a message: quoted, or "no value" for none."""
    if raw is None:
        return "no value (the default applies)"
    return repr(_text(raw)) if not isinstance(raw, bytes) else f"bytes that are not UTF-8 {raw!r}"


def _logged(raw: object) -> str:
    """An audit entry's value: its text, ``(default)`` for none."""
    return "(default)" if raw is None else _text(raw)
