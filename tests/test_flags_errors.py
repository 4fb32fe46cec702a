"""Every bad flags.toml gets a located, specific diagnostic, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from configgen.flags_reader import read_flags

BOOL = 'type = "bool"\ndefault = false\n'
CASES = {
    "unknown type": (
        '[flags.a]\ntype = "boolean"\ndefault = false\n',
        "flags.toml:2:1: flags.a.type: unknown type 'boolean' (did you mean 'bool'?); expected one of bool, int, float, string, enum, percent",
    ),
    "default of the wrong type": (
        '[flags.a]\ntype = "bool"\ndefault = "no"\n',
        "flags.toml:3:1: flags.a.default: the default of a bool flag must be a bool, not a string 'no'",
    ),
    "float default for an int": (
        '[flags.a]\ntype = "int"\ndefault = 1.5\n',
        "flags.toml:3:1: flags.a.default: the default of an int flag must be an int, not a float 1.5",
    ),
    "enum without values": (
        '[flags.a]\ntype = "enum"\ndefault = "x"\n',
        'flags.toml:1:1: flags.a: an enum flag needs values = ["a", "b", ...]',
    ),
    "enum with empty values": (
        '[flags.a]\ntype = "enum"\nvalues = []\ndefault = "x"\n',
        "flags.toml:3:1: flags.a.values: an enum's values must be a non-empty array of non-empty strings",
    ),
    "enum with duplicate values": (
        '[flags.a]\ntype = "enum"\nvalues = ["x", "y", "x"]\ndefault = "x"\n',
        "flags.toml:3:1: flags.a.values: an enum's values must differ: 'x' given more than once",
    ),
    "enum default not in values": (
        '[flags.a]\ntype = "enum"\nvalues = ["x", "y"]\ndefault = "z"\n',
        "flags.toml:4:1: flags.a.default: the default 'z' is not one of the values 'x', 'y'",
    ),
    "values on a non-enum": (
        f'[flags.a]\n{BOOL}values = ["x"]\n',
        "flags.toml:4:1: flags.a.values: 'values' is for enum flags; this flag is bool",
    ),
    "percent above 100": (
        '[flags.a]\ntype = "percent"\ndefault = 101\n',
        "flags.toml:3:1: flags.a.default: a percent flag's default is a percentage from 0 to 100, got 101",
    ),
    "rollout below 0": (
        f"[flags.a]\n{BOOL}rollout = -1\n",
        "flags.toml:4:1: flags.a.rollout: 'rollout' is a percentage from 0 to 100, got -1",
    ),
    "users on an int flag": (
        '[flags.a]\ntype = "int"\ndefault = 1\nusers = ["x"]\n',
        "flags.toml:4:1: flags.a.users: 'users' targets bool flags; this flag is int",
    ),
    "segments on a string flag": (
        '[flags.a]\ntype = "string"\ndefault = "s"\nsegments = ["x"]\n',
        "flags.toml:4:1: flags.a.segments: 'segments' targets bool flags; this flag is string",
    ),
    "rollout on a percent flag": (
        '[flags.a]\ntype = "percent"\ndefault = 1\nrollout = 5\n',
        "flags.toml:4:1: flags.a.rollout: 'rollout' targets bool flags; this flag is percent",
    ),
    "unknown segment": (
        f'[flags.a]\n{BOOL}segments = ["staf"]\n[segments.staff]\nusers = ["a"]\n',
        "flags.toml:4:1: flags.a.segments: unknown segment 'staf' (did you mean 'staff'?); define it as [segments.staf]",
    ),
    "segment with users and attribute": (
        f'[flags.a]\n{BOOL}[segments.s]\nusers = ["a"]\nattribute = "c"\nin = ["x"]\n',
        "flags.toml:4:1: segments.s: a segment needs either 'users' or 'attribute' with 'in', not both",
    ),
    "segment attribute with a dot": (
        f'[flags.a]\n{BOOL}[segments.s]\nattribute = "plan.tier"\nin = ["x"]\n',
        "flags.toml:5:1: segments.s.attribute: a segment attribute cannot contain '.': flagd reads 'plan.tier' as a path into nested attributes, the getters as one name; use a plain name",
    ),
    "segment attribute targetingKey": (
        f'[flags.a]\n{BOOL}[segments.s]\nattribute = "targetingKey"\nin = ["x"]\n',
        "flags.toml:5:1: segments.s.attribute: 'targetingKey' is the evaluation context's own, not an attribute; segments match the targeting key with 'users'",
    ),
    "segment value nan": (
        f'[flags.a]\n{BOOL}[segments.s]\nattribute = "n"\nin = [1, nan]\n',
        "flags.toml:6:1: segments.s.in: nan equals nothing, so it would match no context",
    ),
    "float default inf": (
        '[flags.a]\ntype = "float"\ndefault = inf\n',
        "flags.toml:3:1: flags.a.default: the default must be a finite number, not inf",
    ),
    "segment value inf": (
        f'[flags.a]\n{BOOL}[segments.s]\nattribute = "n"\nin = [1, -inf]\n',
        "flags.toml:6:1: segments.s.in: inf is no JSON number: OpenFeature contexts cannot carry it",
    ),
    "segment with neither": (
        f"[flags.a]\n{BOOL}[segments.s]\n",
        "flags.toml:4:1: segments.s: a segment needs either 'users' or 'attribute' with 'in', and has neither",
    ),
    "expires as a string": (
        f'[flags.a]\n{BOOL}expires = "2027-01-01"\n',
        "flags.toml:4:1: flags.a.expires: 'expires' must be a date such as 2027-03-01, not a string",
    ),
    "expires as a datetime": (
        f"[flags.a]\n{BOOL}expires = 2027-01-01T00:00:00\n",
        "flags.toml:4:1: flags.a.expires: 'expires' must be a date such as 2027-03-01, not a datetime",
    ),
    "duplicate after normalisation": (
        f"[flags.new-ui]\n{BOOL}[flags.new_ui]\n{BOOL}",
        "flags.toml:4:1: flags.new_ui: 'new_ui' and 'new-ui' both become 'new_ui'; rename one",
    ),
    "a flag and a category of one name": (
        f"[flags.ui]\n{BOOL}[flags.ui.theme]\n{BOOL}",
        "flags.toml:4:1: flags.ui.theme: [flags.ui] is a flag (it has a type), so it cannot also be a category holding 'theme'; a flag and a category cannot share a name",
    ),
    "int default beyond 64 bits": (
        '[flags.a]\ntype = "int"\ndefault = 9223372036854775808\n',
        "flags.toml:3:1: flags.a.default: integer out of the 64-bit range TOML allows",
    ),
    "python keyword": (
        f"[flags.import]\n{BOOL}",
        "flags.toml:1:1: flags.import: 'import' is a Python keyword; rename it (e.g. 'import_')",
    ),
    "name starting with an underscore": (
        f"[flags._secret]\n{BOOL}",
        "flags.toml:1:1: flags._secret: '_secret' starts with '_': flag and category names start with a letter",
    ),
    "name of a Flags method": (
        f"[flags.refresh]\n{BOOL}",
        "flags.toml:1:1: flags.refresh: 'refresh' would hide Flags.refresh(); rename it",
    ),
    "missing default": (
        '[flags.a]\ntype = "bool"\n',
        "flags.toml:1:1: flags.a: a flag needs a default (a bool value)",
    ),
    "misspelt key": (
        f'[flags.a]\n{BOOL}descripton = "x"\n',
        "flags.toml:4:1: flags.a.descripton: unknown key in a flag (did you mean 'description'?); a flag has default, description, expires, permanent, review-after, rollout, segments, type, users, values",
    ),
    "a value where a flag table belongs": (
        "[flags]\na = true\n",
        "flags.toml:2:1: flags.a: expected a table [flags.a] with a type and a default, got a bool",
    ),
    "unknown top-level table": (
        f"[flag.a]\n{BOOL}",
        "flags.toml:1:1: flag: unknown top-level key: flags.toml holds [flags.NAME] tables and [segments.NAME] tables",
    ),
    "no flags at all": (
        '[segments.s]\nusers = ["a"]\n',
        "flags.toml:1:1: flags: no flags: add a [flags.NAME] table with a type and a default",
    ),
    "two flags, one test_flags_with keyword": (
        f"[flags.ui_theme]\n{BOOL}[flags.ui.theme]\n{BOOL}",
        "flags.toml:1:1: flags.ui_theme: 'ui_theme' and 'ui.theme' would both be test_flags_with(ui_theme=...); rename one",
    ),
    "toml syntax error": (
        '[flags.a]\ntype = "bool\n',
        "flags.toml:2:13: invalid TOML: Control characters (codes less than 0x1f and 0x7f) are not allowed in strings, use \\u000a instead",
    ),
}


@pytest.mark.parametrize(("text", "expected"), list(CASES.values()), ids=list(CASES))
def test_bad_flags_are_located(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "flags.toml"
    path.write_text(text, encoding="utf-8")
    schema, diagnostics = read_flags(path, "flags.toml")
    assert schema is None
    assert [str(d) for d in diagnostics] == [expected]


def test_enum_values_need_not_be_identifiers(tmp_path: Path) -> None:
    path = tmp_path / "flags.toml"
    path.write_text(
        '[flags.a]\ntype = "enum"\nvalues = ["high-contrast", "a b", "ü"]\ndefault = "a b"\n'
    )
    schema, diagnostics = read_flags(path, "flags.toml")
    assert diagnostics == []
    assert schema is not None
    assert schema.flags()[0].python == 'Literal["high-contrast", "a b", "ü"]'
