"""``[tool.configgen]``: one reader, defaults, and located errors for a bad table."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from configgen.settings import SettingsError, load_settings


def _settings_error(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(SettingsError) as info:
        load_settings(tmp_path)
    return [str(d) for d in info.value.diagnostics]


def test_defaults_from_project_name(tmp_path: Path) -> None:
    (tmp_path / "src" / "my_app").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "My-App"\n[tool.configgen]\n')
    # an empty table is still the table: the defaults apply
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "My-App"\n[tool.configgen]\nconfig = "config.toml"\n'
    )
    settings = load_settings(tmp_path)
    assert settings.package == (tmp_path / "src" / "my_app").resolve()
    assert settings.env_prefix == "MY_APP_"
    assert settings.config == tmp_path.resolve() / "config.toml"
    assert settings.flags is None
    assert settings.test_helpers is True


def test_unknown_key(tmp_path: Path) -> None:
    assert _settings_error(
        tmp_path, '[tool.configgen]\nconfig = "c.toml"\nenv_prefix = "X_"\n'
    ) == [
        "pyproject.toml:3:1: tool.configgen.env_prefix: unknown setting (did you mean 'env-prefix'?);"
        " known settings: bucketing, config, env-prefix, flags, package, test-helpers"
    ]


def test_wrong_types_and_missing_paths(tmp_path: Path) -> None:
    assert _settings_error(
        tmp_path,
        '[tool.configgen]\nconfig = 1\npackage = "src/nope"\ntest-helpers = "no"\nflags = "f.toml"\nenv-prefix = "1X"\n',
    ) == [
        "pyproject.toml:2:1: tool.configgen.config: must be a string, not int",
        "pyproject.toml:5:1: tool.configgen.flags: the flags file f.toml does not exist",
        "pyproject.toml:3:1: tool.configgen.package: the package directory src/nope does not exist",
        "pyproject.toml:6:1: tool.configgen.env-prefix: '1X' cannot start an environment variable name",
        "pyproject.toml:4:1: tool.configgen.test-helpers: must be true or false, not 'no'",
    ]


def test_not_a_table(tmp_path: Path) -> None:
    assert _settings_error(tmp_path, '[tool]\nconfiggen = "yes"\n') == [
        "pyproject.toml:2:1: tool.configgen: must be a table"
    ]


def test_broken_pyproject(tmp_path: Path) -> None:
    assert _settings_error(tmp_path, "[tool.configgen\n") == [
        "pyproject.toml:1:16: invalid TOML: Unexpected character: '\\n'"
    ]


@pytest.mark.parametrize(
    "requirement",
    [
        "python-configgen",
        "Python.ConfigGen",
        "python--configgen",
        "python_configgen>=0.1",
        "PYTHON__CONFIGGEN [watch] >= 1",
        "python.-_configgen@ https://example.org/python_configgen-1.0-py3-none-any.whl",
        'python-configgen; python_version >= "3"',
    ],
)
@pytest.mark.parametrize("with_packaging", [True, False])
def test_requirement_names_are_normalised_as_pep_503_does(
    requirement: str, with_packaging: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from configgen.settings import requirement_names

    if not with_packaging:
        monkeypatch.setitem(sys.modules, "packaging", None)  # import fails
        monkeypatch.setitem(sys.modules, "packaging.requirements", None)
    assert requirement_names(["hatchling", requirement]) == {"hatchling", "python-configgen"}


def test_a_requirement_whose_marker_never_holds_does_not_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from configgen.settings import requirement_names

    never: list[object] = [
        'python-configgen; python_version < "3"',
        'other; sys_platform == "nowhere"',
    ]
    assert requirement_names(never) == set()
    monkeypatch.setitem(sys.modules, "packaging", None)
    monkeypatch.setitem(sys.modules, "packaging.requirements", None)
    assert requirement_names(never) == {"python-configgen", "other"}  # markers are ignored


def test_bucketing_scheme(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.configgen]\nconfig = "c.toml"\n')
    assert load_settings(tmp_path).bucketing == "flagd-v3"
    (tmp_path / "pyproject.toml").write_text(
        '[tool.configgen]\nconfig = "c.toml"\nbucketing = "flagd-v2"\n'
    )
    assert load_settings(tmp_path).bucketing == "flagd-v2"
    assert _settings_error(tmp_path, '[tool.configgen]\nconfig = "c.toml"\nbucketing = "v2"\n') == [
        "pyproject.toml:3:1: tool.configgen.bucketing: 'v2' is not a bucketing scheme;"
        " use flagd-v3 or flagd-v2"
    ]
