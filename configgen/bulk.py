"""Bulk export and import of flag values: the logic the command line and the server share.

An export is every stored value, typed by its flag and sorted by key, as one JSON object
(``{"ui.theme": "dark", ...}``) or as TOML in the overrides-file format (dotted keys as
nested tables: a valid `FileStore` file). An import is checked against flags.toml as a
whole first (`parse_import`: every problem, located), then compared with what the store
holds (`plan`: the changed flags, old and new), then applied all or nothing
(`changes` gives the batch for `Editor.change_many`, one audit entry per changed flag).
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

from configgen import values
from configgen.audit import Change, Channel, Editor, new_entry
from configgen.diagnostics import Diagnostic, did_you_mean
from configgen.model import Flag
from configgen.values import Value

Format = Literal["json", "toml"]
FORMATS: tuple[Format, ...] = ("json", "toml")
EXPORT_HEADER = (
    "Flag values exported by `configgen flags export`; `configgen flags import FILE` applies them.",
    "Also a valid overrides file for FileStore.",
)


def format_of(name: str) -> Format | None:
    """The format a file name's extension says (``.json``, ``.toml``), or None."""
    lowered = name.lower()
    for known in FORMATS:
        if lowered.endswith("." + known):
            return known
    return None


# -- export -------------------------------------------------------------------------------


class Export(NamedTuple):
    """What `export_values` found in a store."""

    values: dict[str, Value]
    """Each stored value a flag can read, typed by the flag, sorted by key."""
    invalid: dict[str, str]
    """Flags whose stored value the flag cannot read (left out), and why."""
    unknown: list[str]
    """Stored keys that are no flag in flags.toml (left out), sorted."""


def stored_values(editor: Editor) -> dict[str, Any]:
    """Every raw stored value by flag key, including values that are not UTF-8 (as bytes,
    which `Editor.read_all` skips): what a compare-and-set must name as expected."""
    found = editor.read_all()
    unreadable = getattr(editor, "unreadable", None)
    if unreadable is not None:
        for key in unreadable():
            raw = editor.read(key)  # a name that is not UTF-8 itself reads as nothing
            if raw is not None:
                found[key] = raw
    return found


def export_values(
    stored: Mapping[str, Any], flags: Mapping[str, Flag], keys: Iterable[str] | None = None
) -> Export:
    """The stored values worth exporting: of the flags *keys* (default: every flag).

    *stored* is raw (`stored_values`); a value the flag cannot read (`values.from_stored`
    fails) is left out and named in `Export.invalid`; values not stored are not exported.
    """
    wanted = set(flags) if keys is None else set(keys)
    typed: dict[str, Value] = {}
    invalid: dict[str, str] = {}
    unknown: list[str] = []
    for key in sorted(stored):
        if key not in flags:
            if keys is None:
                unknown.append(key)
            continue
        if key not in wanted:
            continue
        try:
            typed[key] = values.from_stored(flags[key], stored[key])
        except ValueError as exc:
            invalid[key] = str(exc)
    return Export(typed, invalid, unknown)


def render(exported: Mapping[str, Value], format: Format) -> str:
    """An export's text: a JSON object, or the overrides file's TOML, sorted by key."""
    if format == "json":
        ordered = {key: exported[key] for key in sorted(exported)}
        return json.dumps(ordered, indent=2, ensure_ascii=False) + "\n"
    from configgen.stores._editors import _render_overrides

    return _render_overrides(dict(exported), header=EXPORT_HEADER)


# -- import -------------------------------------------------------------------------------


def parse_import(
    data: str | bytes,
    flags: Mapping[str, Flag],
    *,
    format: Format,
    shown_as: str = "import",
) -> tuple[dict[str, Value], list[Diagnostic]]:
    """The values an import file sets, typed by flags.toml, and every problem with them.

    The file is a JSON object of flag keys (nested objects join their keys with dots) or
    TOML (dotted keys, tables). Problems: the file is no such document; a key is no flag
    (with the closest one); a value does not fit its flag (wrong type, an enum value not
    allowed, a percentage out of 0..100, a float that is not finite, an int beyond 64
    bits); a key given twice. Each is a `Diagnostic` with the line and column of the key
    (``key`` set; the message names the flag too), in file order. Nothing may be written
    when there is one: the values returned are then incomplete.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            said = f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); the file must be UTF-8"
            return {}, [Diagnostic(shown_as, line, col, "", said)]
    else:
        text = data
    text = text.removeprefix("\ufeff")
    if format == "json":
        members, problems = _json_members(text, shown_as, flags)
    else:
        members, problems = _toml_members(text, shown_as, flags)
    if problems:  # not JSON, not TOML: its syntax error alone
        return {}, problems
    typed: dict[str, Value] = {}
    first_line: dict[str, int] = {}
    for key, value, line, col in members:
        message: str | None = None
        flag = flags.get(key)
        if key in first_line:
            message = f"{key} is given twice (first at line {first_line[key]})"
        elif flag is None:
            message = f"no flag {key!r} in flags.toml{did_you_mean(key, flags)}"
        else:
            try:
                typed[key] = values.from_json(flag, value)
            except ValueError as exc:
                message = str(exc)
        first_line.setdefault(key, line)
        if message is not None:
            problems.append(Diagnostic(shown_as, line, col, key, message))
    problems.sort(key=lambda d: (d.line, d.col))
    return typed, problems


_Member = tuple[str, object, int, int]


class _Lines:
    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def at(self, index: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, index)
        return line, index - self.starts[line - 1] + 1


_SPACE = re.compile(r"[ \t\n\r]*")


def _json_members(
    text: str, shown_as: str, flags: Mapping[str, Flag]
) -> tuple[list[_Member], list[Diagnostic]]:
    """The JSON document's flag keys and values, each with the line and column of its key;
    an object under a key that is no flag holds flags whose keys start with that key."""
    decoder = json.JSONDecoder()
    lines = _Lines(text)
    members: list[_Member] = []

    def fail(index: int, message: str) -> tuple[list[_Member], list[Diagnostic]]:
        line, col = lines.at(index)
        return members, [Diagnostic(shown_as, line, col, "", f"invalid JSON: {message}")]

    def skip(index: int) -> int:
        found = _SPACE.match(text, index)
        assert found is not None
        return found.end()

    at = skip(0)
    if text[at : at + 1] != "{":
        line, col = lines.at(at)
        message = 'an import file in JSON is one object: {"flag.key": value, ...}'
        return members, [Diagnostic(shown_as, line, col, "", message)]
    stack: list[str] = [""]  # the key prefixes of the objects open
    at = skip(at + 1)
    expect_member = False  # after a comma, a member must follow
    try:
        while stack:
            if text[at : at + 1] == "}" and not expect_member:
                stack.pop()
                at = skip(at + 1)
                if stack:
                    if text[at : at + 1] == ",":
                        at, expect_member = skip(at + 1), True
                    elif text[at : at + 1] != "}":
                        return fail(at, "expecting ',' delimiter")
                continue
            if text[at : at + 1] != '"':
                return fail(at, "expecting property name enclosed in double quotes")
            key_at = at
            name, at = json.decoder.scanstring(text, at + 1)  # type: ignore[attr-defined]
            at = skip(at)
            if text[at : at + 1] != ":":
                return fail(at, "expecting ':' delimiter")
            at = skip(at + 1)
            key = stack[-1] + name
            if text[at : at + 1] == "{" and key not in flags:  # a category of flags
                stack.append(key + ".")
                at, expect_member = skip(at + 1), False
                continue
            try:
                value, end = decoder.raw_decode(text, at)
            except json.JSONDecodeError:
                raise
            except ValueError as exc:  # an integer of more digits than Python converts
                members.append((key, _TooLong(str(exc)), *lines.at(key_at)))
                end = _end_of_number(text, at)
            else:
                members.append((key, value, *lines.at(key_at)))
            at = skip(end)
            if text[at : at + 1] == ",":
                at, expect_member = skip(at + 1), True
            elif text[at : at + 1] == "}":
                expect_member = False
            else:
                return fail(at, "expecting ',' delimiter")
    except json.JSONDecodeError as exc:
        return members, [
            Diagnostic(shown_as, exc.lineno, exc.colno, "", f"invalid JSON: {exc.msg.lower()}")
        ]
    if at != len(text):
        return fail(at, "extra data after the object")
    return members, []


class _TooLong:
    """A JSON number with more digits than Python converts: no flag's value."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return "a number of over 4300 digits"


def _end_of_number(text: str, at: int) -> int:
    found = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?").match(text, at)
    return found.end() if found else at + 1


def _toml_members(
    text: str, shown_as: str, flags: Mapping[str, Flag]
) -> tuple[list[_Member], list[Diagnostic]]:
    """The TOML document's flag keys (dotted, tables joined) and values, with positions."""
    from collections.abc import Mapping as MappingABC

    import tomlkit.items

    from configgen.toml_source import parse_source

    source, problems = parse_source(text, shown_as)
    if source is None:
        return [], problems
    members: list[_Member] = []
    pending: list[tuple[str, Any, tuple[int, int]]] = [("", source.document, (1, 1))]
    while pending:
        prefix, table, where = pending.pop(0)
        for name, item in table.items():
            key = prefix + str(name)
            line, col = source.locate(item) or where
            if isinstance(item, MappingABC) and key not in flags:  # a category of flags
                pending.append((key + ".", item, (line, col)))
                continue
            value = item.unwrap() if isinstance(item, tomlkit.items.Item) else item
            members.append((key, value, line, col))
    members.sort(key=lambda member: (member[2], member[3]))
    return members, []


# -- the plan -----------------------------------------------------------------------------


class Difference(NamedTuple):
    """One flag an import changes."""

    key: str
    stored: Any
    """The raw value the store holds (None: none): the compare-and-set's expected value."""
    old: Any
    """The value before, typed by the flag (the raw value if the flag cannot read it;
    None: none stored, the default applies)."""
    new: Value | None
    """The value after (None: deleted, back to the default: ``--replace``)."""


def plan(
    wanted: Mapping[str, Value],
    stored: Mapping[str, Any],
    flags: Mapping[str, Flag],
    *,
    replace: bool = False,
) -> list[Difference]:
    """What an import changes, sorted by key: each flag whose value it sets differs from
    what the services read now; with *replace*, also each stored flag it does not mention
    (deleted). Flags whose stored value already is the wanted one are not listed; stored
    keys that are no flag are never touched."""
    found: list[Difference] = []
    for key in sorted(set(wanted) | (set(stored) & set(flags) if replace else set())):
        raw = stored.get(key)
        old = _typed(flags[key], raw)
        new = wanted.get(key)
        if raw is None and new is None:
            continue
        if raw is not None and new is not None and _same_value(old, new):
            continue
        found.append(Difference(key, raw, old, new))
    return found


def _typed(flag: Flag, raw: object) -> Any:
    if raw is None:
        return None
    try:
        return values.from_stored(flag, raw)
    except ValueError:
        return raw


def _same_value(old: object, new: Value) -> bool:
    if type(old) is not type(new):
        return False
    if isinstance(old, float) and isinstance(new, float) and math.isnan(old):
        return False
    return old == new


def show(difference: Difference, flags: Mapping[str, Flag] | None = None) -> str:
    """One line of the diff: ``+ key: (default) -> new``, ``~ key: old -> new``, ``- key: old
    -> (default)``; strings quoted as JSON, a stored value the flag cannot read as its repr."""
    mark = "+" if difference.stored is None else "-" if difference.new is None else "~"
    flag = flags.get(difference.key) if flags is not None else None
    old = _shown(difference.old, valid=_valid(flag, difference.stored))
    return f"{mark} {difference.key}: {old} -> {_shown(difference.new, valid=True)}"


def _valid(flag: Flag | None, raw: object) -> bool:
    if raw is None or flag is None:
        return True
    try:
        values.from_stored(flag, raw)
    except ValueError:
        return False
    return True


def _shown(value: object, *, valid: bool) -> str:
    if value is None:
        return "(default)"
    if not valid:
        return f"{value!r} (invalid)"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (bool, int, float)):
        return values.to_text(value)
    return repr(value)


def changes(
    differences: Sequence[Difference],
    editor: Editor,
    *,
    actor: str,
    note: str = "",
    channel: Channel = "import",
) -> list[Change]:
    """The batch for ``editor.change_many``: each difference compared against the stored
    value the plan saw, with its own audit entry (typed old and new, one note for all)."""
    return [
        Change(
            difference.key,
            difference.stored,
            None if difference.new is None else editor.encode(difference.new),
            new_entry(
                actor=actor,
                channel=channel,
                flag=difference.key,
                old=difference.old,
                new=difference.new,
                note=note,
            ),
        )
        for difference in differences
    ]


def batch_limit(editor: object) -> int | None:
    """The most changes *editor* applies in one batch (etcd's transaction limit), or None."""
    limit = getattr(editor, "max_changes", None)
    return limit if isinstance(limit, int) else None


def too_many(editor: object, count: int) -> str | None:
    """Why a batch of *count* changes cannot be applied to *editor* at once, or None."""
    limit = batch_limit(editor)
    if limit is None or count <= limit:
        return None
    max_txn_ops = getattr(editor, "max_txn_ops", 2 * limit)
    return (
        f"{count} changes do not fit in one etcd transaction, which takes at most {limit} "
        f"(two operations each; etcd's --max-txn-ops is {max_txn_ops}): nothing was written. "
        "Import smaller files, or raise --max-txn-ops on every etcd server and pass the same "
        "--max-txn-ops to configgen"
    )


__all__ = [
    "EXPORT_HEADER",
    "FORMATS",
    "Difference",
    "Export",
    "Format",
    "batch_limit",
    "changes",
    "export_values",
    "format_of",
    "parse_import",
    "plan",
    "render",
    "show",
    "stored_values",
    "too_many",
]
