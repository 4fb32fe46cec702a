"""``configgen flags stale``: expiry, ``review-after``, ``permanent``, and flags the audit log
shows at one value for everyone (over a real overrides file, the ``file://`` store)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import CLIResult, write_project

FLAGS = """\
[flags.old]
type = "bool"
default = false
expires = 2020-01-01

[flags.review]
type = "bool"
default = false
review-after = 2026-01-01

[flags.kill_switch]
type = "bool"
default = true
permanent = true

[flags.launched]
type = "bool"
default = false

[flags.ranker]
type = "percent"
default = 30

[flags.half]
type = "percent"
default = 0

[flags.targeted]
type = "bool"
default = false
users = ["alice"]

[flags.limit]
type = "int"
default = 3
"""


def _project(tmp_path: Path) -> Path:
    root = write_project(tmp_path / "proj", "[a]\nx = 1\n", extra='flags = "flags.toml"\n')
    (root / "flags.toml").write_text(FLAGS, encoding="utf-8")
    return root


def test_by_date(tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    root = _project(tmp_path)
    result = cli("flags", "stale", "--project", root, "--today", "2026-01-01")
    assert result.code == 1
    assert result.out.splitlines() == [
        "flags.toml:1:1: flag old expired on 2020-01-01: its getter returns the default False; "
        "remove the flag",
        "flags.toml:6:1: flag review is due for review since 2026-01-01 (review-after): remove "
        "it, move the date, or mark it permanent = true",
    ]
    before = cli("flags", "stale", "--project", root, "--today", "2025-12-31")
    assert "review" not in before.out


def test_one_value_for_everyone_by_the_audit_log(
    tmp_path: Path, cli: Callable[..., CLIResult]
) -> None:
    root = _project(tmp_path)
    store = f"file://{root / 'overrides.toml'}"
    for key, value in [("launched", "true"), ("ranker", "100"), ("half", "50"),
                       ("kill_switch", "false"), ("targeted", "false"), ("limit", "4")]:  # fmt: skip
        assert cli("flags", "set", key, value, "--store", store, "--project", root).code == 0
    today = cli("flags", "stale", "--project", root, "--store", store, "--today", "2026-01-02")
    assert "launched" not in today.out  # changed less than 30 days ago
    later = cli("flags", "stale", "--project", root, "--store", store, "--today", "2100-01-01")
    lines = [line for line in later.out.splitlines() if "every context" in line]
    changed = lines[0].split("since ")[1][:10]
    assert [line.split(" since")[0] for line in lines] == [
        "flags.toml:16:1: flag launched has served true to every context",
        "flags.toml:20:1: flag ranker has served 100% to every context",
        "flags.toml:28:1: flag targeted has served false to every context",
    ]
    assert f"since {changed} (" in lines[0] and "days by the audit log)" in lines[0]
    # the permanent kill switch, a 50% rollout and an int flag are never reported
    assert not any(key in later.out for key in ("kill_switch", "half", "limit"))
    # --days 0: a value set today counts
    now = cli("flags", "stale", "--project", root, "--store", store, "--days", "0")
    assert "flag launched has served true" in now.out
    # a value back to the default is a change too: the clock starts again
    assert cli("flags", "delete", "ranker", "--store", store, "--project", root).code == 0
    assert "ranker" not in cli("flags", "stale", "--project", root, "--store", store).out


def test_nothing_stale(tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    root = _project(tmp_path)
    (root / "flags.toml").write_text('[flags.a]\ntype = "bool"\ndefault = false\n')
    result = cli("flags", "stale", "--project", root)
    assert (result.code, result.out) == (0, "")


def test_lifetime_keys_are_checked(tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    root = _project(tmp_path)
    (root / "flags.toml").write_text(
        '[flags.a]\ntype = "bool"\ndefault = false\nreview-after = "soon"\n\n'
        '[flags.b]\ntype = "bool"\ndefault = false\npermanent = "yes"\n\n'
        '[flags.c]\ntype = "bool"\ndefault = false\npermanent = true\nexpires = 2030-01-01\n'
    )
    result = cli("validate", "--project", root)
    assert result.code == 1
    assert result.err.splitlines()[:3] == [
        "flags.toml:4:1: flags.a.review-after: 'review-after' must be a date such as "
        "2027-03-01, not a string",
        "flags.toml:9:1: flags.b.permanent: 'permanent' must be true or false, not a string",
        "flags.toml:15:1: flags.c.expires: a permanent flag has no 'expires' date; remove one "
        "of 'permanent = true' and 'expires'",
    ]


def test_what_the_store_cannot_show_is_said(tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    """A ``file://`` store that does not exist, and audit lines that are no entry, are
    warnings on standard error: a flag changed on such a line could look settled."""
    root = _project(tmp_path)
    missing = cli("flags", "stale", "--project", root, "--today", "2019-01-01",
                  "--store", f"file://{root / 'nowhere.toml'}")  # fmt: skip
    assert (missing.code, missing.out) == (0, "")
    assert missing.err == (
        f"configgen: warning: file://{root / 'nowhere.toml'}: no file {root / 'nowhere.toml'}: "
        "no stored values and no audit log; only the dates in flags.toml are judged\n"
    )
    store = f"file://{root / 'overrides.toml'}"
    assert cli("flags", "set", "launched", "true", "--store", store, "--project", root).code == 0
    log = root / "overrides.audit.jsonl"
    log.write_bytes(log.read_bytes() + b'{"flag": "launched", "new": fals\n{"flag": "x"}\n')
    result = cli("flags", "stale", "--project", root, "--store", store, "--today", "2019-01-01")
    assert result.code == 0
    [bad_json, no_entry] = result.err.splitlines()
    assert bad_json.startswith("configgen: warning: overrides.audit.jsonl:2: not JSON (")
    assert no_entry.startswith("configgen: warning: overrides.audit.jsonl:3: not an audit entry:")
    assert no_entry.endswith("; the line is skipped")
