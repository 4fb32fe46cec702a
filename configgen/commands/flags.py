"""``configgen flags list|get|set|delete --store URL``: flag values in etcd or Redis."""

from __future__ import annotations

import argparse
import logging
import sys

from configgen.diagnostics import did_you_mean, print_diagnostics
from configgen.flags_reader import read_flags
from configgen.model import Flag
from configgen.settings import load_settings

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
    parser = commands.add_parser("flags", help="read and change flag values in etcd or Redis")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--store", required=True, metavar="URL",
                       help="etcd://HOST:PORT/SERVICE or redis://HOST:PORT/DB")  # fmt: skip
    store.add_argument("--service", help="the service's name in Redis (default: the project's)")
    store.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the store")
    parents = [common, store]
    actions.add_parser("list", parents=parents, help="every flag, its type and stored value")
    sub = actions.add_parser("get", parents=parents, help="one flag's value")
    sub.add_argument("key")
    sub = actions.add_parser(
        "set", parents=parents, help="store a value, checked against flags.toml"
    )
    sub.add_argument("key")
    sub.add_argument("value")
    sub = actions.add_parser("delete", parents=parents, help="remove a stored value")
    sub.add_argument("key")


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.project)
    if settings.flags is None:
        print("configgen: no flags file: set 'flags' in [tool.configgen]", file=sys.stderr)
        return 1
    schema, diagnostics = read_flags(settings.flags, settings.shown(settings.flags))
    if schema is None:
        print_diagnostics(diagnostics)
        return 1
    flags = {flag.key: flag for flag in schema.flags()}
    key: str = getattr(args, "key", None) or ""
    if key and key not in flags:
        hint = did_you_mean(key, flags)
        print(f"configgen: no flag {key!r} in {schema.source}{hint}", file=sys.stderr)
        return 1
    stored_text = None
    if args.action == "set":
        try:
            stored_text = check_value(flags[key], args.value)
        except ValueError as exc:
            print(f"configgen: {exc}", file=sys.stderr)
            return 1
    service = args.service or settings.project_name or settings.root.name
    # The command reports skipped keys itself (below); the store's log lines about them
    # would only repeat that on stderr.
    key_logger = logging.getLogger("configgen.stores.keys")
    level = key_logger.level
    key_logger.setLevel(logging.ERROR)
    try:
        return _with_store(args, flags, key, stored_text, service)
    finally:
        key_logger.setLevel(level)


def _with_store(
    args: argparse.Namespace, flags: dict[str, Flag], key: str, stored_text: str | None,
    service: str,
) -> int:  # fmt: skip
    from configgen.stores import open_store

    try:
        store = open_store(args.store, service=service, known=flags)
    except (ValueError, ImportError) as exc:
        print(f"configgen: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    try:
        if args.action == "set":
            store.set(key, stored_text)
            print(f"{key} = {stored_text}")
            return 0
        if args.action == "delete":
            store.delete(key)
            print(f"{key}: deleted (now its default {flags[key].default!r})")
            return 0
        if not store.wait_synced(args.timeout):
            print(
                f"configgen: {args.store} did not answer within {args.timeout:g} s", file=sys.stderr
            )
            return 1
        values, unreadable = store.values(), store.unreadable()
        status = 0
        for flag in flags.values() if args.action == "list" else [flags[key]]:
            stored = values.get(flag.key)
            shown = stored if stored is not None else f"(default {flag.default!r})"
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
    except Exception as exc:
        print(f"configgen: {args.store}: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
