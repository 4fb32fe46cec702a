"""The command line with flags.toml: generation, validation, expiry, production builds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CLIResult

CONFIG = "[server]\nport = 8080\n"
FLAGS = '[flags.new_checkout]\ntype = "bool"\ndefault = false\n'
EXPIRED = '[flags.old]\ntype = "bool"\ndefault = false\nexpires = 2020-01-01\n'


def _package(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "src" / "app").glob("configgen_*.py"))


def test_flags_module_only_with_a_flags_file(
    project: Callable[..., Path], cli: Callable[..., CLIResult]
) -> None:
    root = project(CONFIG)
    assert cli("generate", "--project", root).code == 0
    assert _package(root) == ["configgen_config.py", "configgen_testing.py"]
    (root / "flags.toml").write_text(FLAGS)  # the default name is found without a setting
    result = cli("generate", "--project", root)
    assert result.out == (
        "configgen: wrote src/app/configgen_flags.py\nconfiggen: wrote src/app/configgen_testing.py\n"
    )
    assert _package(root) == ["configgen_config.py", "configgen_flags.py", "configgen_testing.py"]
    (root / "flags.toml").unlink()
    result = cli("generate", "--project", root)
    assert "configgen: removed src/app/configgen_flags.py\n" in result.out
    assert _package(root) == ["configgen_config.py", "configgen_testing.py"]


def test_test_helpers_false_leaves_the_testing_module_out(
    project: Callable[..., Path], cli: Callable[..., CLIResult]
) -> None:
    root = project(CONFIG)
    cli("generate", "--project", root)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "test-helpers = false\n")
    result = cli("generate", "--project", root)
    assert result.out == "configgen: removed src/app/configgen_testing.py\n"
    assert _package(root) == ["configgen_config.py"]
    assert cli("check", "--project", root).code == 0


def test_production_environment_leaves_the_testing_module_out(
    project: Callable[..., Path], cli: Callable[..., CLIResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(CONFIG)
    monkeypatch.setenv("CONFIGGEN_PRODUCTION", "1")
    cli("generate", "--project", root)
    assert _package(root) == ["configgen_config.py"]


def test_a_users_own_file_is_never_removed(
    project: Callable[..., Path], cli: Callable[..., CLIResult]
) -> None:
    root = project(CONFIG + "", extra="test-helpers = false\n")
    own = root / "src" / "app" / "configgen_testing.py"
    own.write_text("# my own module, not generated\n")
    cli("generate", "--project", root)
    assert own.read_text() == "# my own module, not generated\n"


def test_validate_flags_and_expiry(
    project: Callable[..., Path], cli: Callable[..., CLIResult]
) -> None:
    root = project(CONFIG)
    (root / "flags.toml").write_text(FLAGS + "\n" + EXPIRED)
    result = cli("validate", "--project", root)
    assert result.code == 0
    assert result.out == "config.toml: ok\nflags.toml: ok\n"
    assert result.err == (
        "flags.toml:5:1: warning: flags.old: expired on 2020-01-01: the getter now returns the "
        "default False; remove the flag or move its date\n"
    )
    strict = cli("validate", "--strict", "--project", root)
    assert strict.code == 1
    assert strict.err == (
        "flags.toml:5:1: flags.old: expired on 2020-01-01: the getter now returns the "
        "default False; remove the flag or move its date\n"
    )
    generated = cli("generate", "--project", root)
    assert generated.code == 0 and "warning: flags.old: expired" in generated.err


def test_validate_a_named_flags_file(tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    path = tmp_path / "features.toml"
    path.write_text('[flags.a]\ntype = "int"\ndefault = "x"\n')
    result = cli("validate", "--project", tmp_path, path)
    assert result.code == 1
    assert result.err.endswith(
        "features.toml:3:1: flags.a.default: the default of an int flag must be an int, not a string 'x'\n"
    )


def test_generate_with_bad_flags_writes_nothing(
    project: Callable[..., Path], cli: Callable[..., CLIResult]
) -> None:
    root = project(CONFIG)
    (root / "flags.toml").write_text(FLAGS)
    cli("generate", "--project", root)
    before = {p.name: p.read_bytes() for p in (root / "src" / "app").glob("configgen_*.py")}
    (root / "config.toml").write_text(CONFIG + "host = 'h'\n")
    (root / "flags.toml").write_text('[flags.a]\ntype = "nope"\ndefault = 1\n')
    result = cli("generate", "--project", root)
    assert result.code == 1
    assert "flags.toml:2:1: flags.a.type: unknown type 'nope'" in result.err
    after = {p.name: p.read_bytes() for p in (root / "src" / "app").glob("configgen_*.py")}
    assert after == before  # not even the valid config module changed


# -- flags list|get|set|delete|history over a local overrides file (file://) -------------------


@pytest.fixture
def everything(tmp_path: Path) -> Path:
    from tests.conftest import DATA, write_project

    root = write_project(tmp_path / "proj", CONFIG, extra='flags = "flags.toml"\n')
    (root / "flags.toml").write_text((DATA / "everything_flags.toml").read_text(encoding="utf-8"))
    return root


def _history(result: CLIResult) -> list[list[str]]:
    """The history's lines, split at tabs, without the time (checked for its form)."""
    import re

    rows = [line.split("\t") for line in result.out.splitlines()]
    for row in rows:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", row[0]), row
    return [row[1:] for row in rows]


def test_flags_in_a_file(everything: Path, tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    from configgen.audit import os_user

    overrides = tmp_path / "etc" / "overrides.toml"
    common = ["--project", everything, "--store", f"file://{overrides}"]
    assert cli("flags", "get", "ui.theme", *common).out == "(default 'light')\n"
    assert cli("flags", "history", *common).out == ""
    assert not overrides.exists()  # reading does not create it

    assert cli("flags", "set", "ui.theme", "dark", *common, "--note", "launch").out == (
        "ui.theme = dark\n"
    )
    assert cli("flags", "set", "kill_switch", "OFF", *common).out == "kill_switch = false\n"
    assert cli("flags", "set", "max_items", "7", *common).out == "max_items = 7\n"
    assert cli("flags", "set", "discount", "0.50", *common).out == "discount = 0.5\n"
    assert overrides.read_text().endswith(
        'discount = 0.5\nkill_switch = false\nmax_items = 7\n\n[ui]\ntheme = "dark"\n'
    )
    assert cli("flags", "get", "max_items", *common).out == "7\n"
    listing = cli("flags", "list", *common).out.splitlines()
    assert "ui.theme\tenum\tdark" in listing and "kill_switch\tbool\tfalse" in listing
    assert "greeting\tstring\t(default 'Hello, \"friend\"')" in listing

    wrong = cli("flags", "set", "max_items", "many", *common)
    assert (wrong.code, wrong.err) == (
        1,
        "configgen: max_items is an int flag: 'many' is not an integer\n",
    )
    assert cli("flags", "set", "discount", "nan", *common).err == (
        "configgen: discount is a float flag: 'nan' is not a finite number\n"
    )
    deleted = cli("flags", "delete", "ui.theme", *common)
    assert (deleted.code, deleted.out) == (0, "ui.theme: deleted (now its default 'light')\n")
    again = cli("flags", "delete", "ui.theme", *common)
    assert (again.code, again.out) == (
        0,
        "ui.theme: no stored value (its default 'light' applies); nothing to delete\n",
    )

    me = os_user()
    assert _history(cli("flags", "history", *common)) == [
        [me, "cli", "ui.theme", "dark -> (default)"],
        [me, "cli", "discount", "(default) -> 0.5"],
        [me, "cli", "max_items", "(default) -> 7"],
        [me, "cli", "kill_switch", "(default) -> false"],
        [me, "cli", "ui.theme", "(default) -> dark", "launch"],
    ]
    assert _history(cli("flags", "history", "ui.theme", *common, "--limit", "1")) == [
        [me, "cli", "ui.theme", "dark -> (default)"],
    ]
    log = overrides.with_name("overrides.audit.jsonl").read_text().splitlines()
    assert len(log) == 5  # the refused values and the delete of nothing are not changes


def test_expect_names_the_value_the_operator_saw(
    everything: Path, tmp_path: Path, cli: Callable[..., CLIResult]
) -> None:
    overrides = tmp_path / "overrides.toml"
    audit = tmp_path / "overrides.audit.jsonl"
    common = ["--project", everything, "--store", f"file://{overrides}"]
    assert cli("flags", "set", "ui.theme", "dark", *common, "--expect-default").code == 0
    before = (overrides.read_bytes(), audit.read_bytes())

    stale = cli("flags", "set", "ui.theme", "high-contrast", *common, "--expect", "light")
    assert (stale.code, stale.out, stale.err) == (
        1,
        "",
        "configgen: ui.theme: expected 'light' (--expect), but the store holds 'dark'; "
        "nothing was written\n",
    )
    stale = cli("flags", "delete", "ui.theme", *common, "--expect-default")
    assert (stale.code, stale.err) == (
        1,
        "configgen: ui.theme: expected no stored value (--expect-default), but the store "
        "holds 'dark'; nothing was written\n",
    )
    stale = cli("flags", "set", "max_items", "3", *common, "--expect", "50")
    assert stale.err == (
        "configgen: max_items: expected '50' (--expect), but the store holds no value "
        "(the default applies); nothing was written\n"
    )
    assert (overrides.read_bytes(), audit.read_bytes()) == before  # nothing written, nor logged

    assert cli("flags", "set", "ui.theme", "light", *common, "--expect", "dark").code == 0
    assert cli("flags", "set", "kill_switch", "on", *common, "--expect-default").code == 0
    assert cli("flags", "set", "kill_switch", "no", *common, "--expect", "yes").code == 0
    assert cli("flags", "set", "discount", "1", *common).code == 0
    assert cli("flags", "delete", "discount", *common, "--expect", "1.00").code == 0
    both = cli("flags", "set", "max_items", "3", *common, "--expect", "1", "--expect-default")
    assert both.code == 2 and "not allowed with argument" in both.err
    assert cli("flags", "get", "kill_switch", *common).out == "false\n"


def test_a_relative_file_url_is_from_the_current_folder(
    everything: Path, tmp_path: Path, cli: Callable[..., CLIResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    common = ["--project", everything, "--store", "file://conf/flags.toml"]
    assert cli("flags", "set", "max_items", "4", *common).code == 0
    assert (tmp_path / "conf" / "flags.toml").read_text().endswith("\nmax_items = 4\n")
    assert (tmp_path / "conf" / "flags.audit.jsonl").is_file()


def test_history_of_a_key_that_never_was(
    everything: Path, tmp_path: Path, cli: Callable[..., CLIResult]
) -> None:
    common = ["--project", everything, "--store", f"file://{tmp_path / 'o.toml'}"]
    typo = cli("flags", "history", "ui.them", *common)
    assert (typo.code, typo.err) == (
        1,
        "configgen: no flag 'ui.them' in flags.toml and no changes of it "
        "(did you mean 'ui.theme'?)\n",
    )
    assert cli("flags", "history", *common, "--limit", "0").code == 2


def test_a_broken_overrides_file_is_reported(
    everything: Path, tmp_path: Path, cli: Callable[..., CLIResult]
) -> None:
    overrides = tmp_path / "o.toml"
    overrides.write_text("max_items = [\n")
    common = ["--project", everything, "--store", f"file://{overrides}"]
    for action in (["get", "max_items"], ["list"], ["set", "max_items", "3"]):
        result = cli("flags", *action, *common)
        assert result.code == 1 and result.out == ""
        assert result.err.startswith(
            f"configgen: file://{overrides}: {overrides} is not a TOML file"
        )
    assert overrides.read_text() == "max_items = [\n"
    assert not (tmp_path / "o.audit.jsonl").exists()


def test_a_change_made_meanwhile_is_refused(
    everything: Path, tmp_path: Path, cli: Callable[..., CLIResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    from configgen.stores import FileEditor

    overrides = tmp_path / "o.toml"
    common = ["--project", everything, "--store", f"file://{overrides}"]
    assert cli("flags", "set", "ui.theme", "dark", *common).code == 0
    before = overrides.read_bytes()
    # another operator's write lands between this command's read and its compare-and-set
    monkeypatch.setattr(FileEditor, "read", lambda self, key: None)
    raced = cli("flags", "set", "ui.theme", "light", *common)
    assert (raced.code, raced.out, raced.err) == (
        1,
        "",
        "configgen: ui.theme changed meanwhile: the store now holds 'dark', not no value "
        "(the default applies); nothing was written\n",
    )
    assert overrides.read_bytes() == before
    assert len((tmp_path / "o.audit.jsonl").read_text().splitlines()) == 1
