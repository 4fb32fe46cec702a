"""``configgen flags stale [--store URL]``: flags that have done their job.

A flag is stale when its ``expires`` date has passed, when its ``review-after`` date has
come, or (with ``--store``) when every context has got one value — a bool flag held at true
or false, a percent flag at 0 or 100 — and the audit log shows no change of it for
``--days`` days. Flags with ``permanent = true`` are never stale.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from typing import Any

from configgen import values
from configgen.audit import AuditEntry
from configgen.diagnostics import Diagnostic
from configgen.model import Flag, FlagsSchema
from configgen.settings import Settings

DEFAULT_DAYS = 30


def add_parser(actions: argparse._SubParsersAction[argparse.ArgumentParser],
               store: list[argparse.ArgumentParser]) -> None:  # fmt: skip
    sub = actions.add_parser(
        "stale",
        parents=store,
        help="expired flags, flags due for review, and (with --store) flags at one value for "
        "everyone for --days days",
    )
    sub.add_argument("--days", type=_days, default=DEFAULT_DAYS, metavar="N",
                     help=f"unchanged for N days in the audit log (default {DEFAULT_DAYS})")  # fmt: skip
    sub.add_argument("--today", type=datetime.date.fromisoformat, default=None,
                     metavar="YYYY-MM-DD", help="judge as of this day (default: today, UTC)")  # fmt: skip


def _days(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days")
    return number


def run(args: argparse.Namespace, settings: Settings, schema: FlagsSchema) -> int:
    today = args.today or datetime.datetime.now(datetime.timezone.utc).date()
    findings = by_date(schema, today)
    if args.store is not None:
        from configgen.stores import open_editor

        service = args.service or settings.project_name or settings.root.name
        try:
            editor = open_editor(args.store, service=service, timeout=args.timeout)
        except (ValueError, ImportError) as exc:
            print(f"configgen: {exc}", file=sys.stderr)
            return 2 if isinstance(exc, ValueError) else 1
        try:
            for warning in store_warnings(editor, args.store):
                print(f"configgen: warning: {warning}", file=sys.stderr)
            findings += settled(schema, editor, today, args.days)
        except Exception as exc:
            print(f"configgen: {args.store}: {exc}", file=sys.stderr)
            return 1
        finally:
            editor.close()
    for finding in sorted(findings, key=lambda d: (d.line, d.col, d.message)):
        print(finding)
    return 1 if findings else 0


def store_warnings(editor: Any, url: str) -> list[str]:
    """What the judgement by the audit log cannot see: an overrides file that does not
    exist (a mistyped ``file://`` path reads as an empty store), and lines of its audit log
    that are no entry (skipped by the store; a flag changed there may look settled)."""
    path = getattr(editor, "path", None)
    audit = getattr(editor, "audit_path", None)
    if getattr(editor, "kind", "") != "file" or path is None or audit is None:
        return []
    if not path.exists() and not audit.exists():
        return [f"{url}: no file {path}: no stored values and no audit log; only the dates "
                "in flags.toml are judged"]  # fmt: skip
    try:
        data = audit.read_bytes()
    except OSError as exc:
        return [f"{audit}: cannot read the audit log: {exc}"] if audit.exists() else []
    found = []
    # the last line, when not ended, is one a crash cut short: the store leaves it out too
    for number, line in enumerate(data.split(b"\n")[:-1], start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError as exc:
            found.append(f"{audit.name}:{number}: not JSON ({exc}); the line is skipped")
            continue
        if isinstance(entry, dict) and set(entry) == {"aborted"}:
            continue  # a withdrawn entry
        try:
            AuditEntry.from_json(line)
        except ValueError as exc:
            found.append(f"{audit.name}:{number}: {exc}; the line is skipped")
    return found


def by_date(schema: FlagsSchema, today: datetime.date) -> list[Diagnostic]:
    """Flags past ``expires`` or at ``review-after``; permanent flags have neither."""
    found = []
    for flag in schema.flags():
        if flag.expires is not None and today > flag.expires:
            found.append(_finding(schema, flag, f"expired on {flag.expires.isoformat()}: its "
                                  f"getter returns the default {flag.default!r}; remove the flag"))  # fmt: skip
        elif flag.review_after is not None and today >= flag.review_after:
            found.append(_finding(schema, flag, f"is due for review since "
                                  f"{flag.review_after.isoformat()} (review-after): remove it, "
                                  "move the date, or mark it permanent = true"))  # fmt: skip
    return found


def settled(schema: FlagsSchema, editor: Any, today: datetime.date, days: int) -> list[Diagnostic]:
    """Flags every context has got one value of (0% or 100%) for *days* days, by the
    store's value and the newest audit entry of the flag."""
    stored = editor.read_all()
    found = []
    for flag in schema.flags():
        if flag.permanent or flag.kind not in ("bool", "percent"):
            continue
        if flag.expires is not None and today > flag.expires:
            continue  # reported as expired
        value = _one_value(flag, stored.get(flag.key))
        if value is None:
            continue
        history: list[AuditEntry] = editor.history(flag.key, limit=1)
        if not history:
            continue  # no evidence of how long: the log may have been trimmed
        since = _day_of(history[0].time)
        if since is None or (today - since).days < days:
            continue
        found.append(_finding(schema, flag, f"has served {value} to every context since "
                              f"{since.isoformat()} ({(today - since).days} days by the audit "
                              "log): remove the flag and its reads, or mark it permanent = true"))  # fmt: skip
    return found


def _one_value(flag: Flag, raw: object) -> str | None:
    """``"true"``/``"false"`` (``"100%"``/``"0%"``) when every context gets one value, else None."""
    value: object
    if raw is not None:  # a stored value is served to everyone
        try:
            value = values.from_stored(flag, raw)
        except ValueError:
            return None  # the getters serve the default: `flags list` reports it
    elif flag.users or flag.segments or flag.rollout not in (None, 0.0, 100.0):
        return None  # flags.toml's targeting splits the contexts
    else:
        value = True if flag.rollout == 100.0 else flag.default
    if flag.kind == "bool":
        return "true" if value else "false"
    if isinstance(value, (int, float)) and value in (0, 100):
        return f"{float(value):g}%"
    return None


def _day_of(stamp: str) -> datetime.date | None:
    try:
        return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _finding(schema: FlagsSchema, flag: Flag, message: str) -> Diagnostic:
    return Diagnostic(schema.source, flag.line, flag.col, "", f"flag {flag.key} {message}")
