"""Every bad config.toml gets one located, specific diagnostic, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from configgen.config_reader import read_config

CASES = {
    "toml syntax error": (
        'a = 1\nb = "unterminated\n',
        "config.toml:2:18: invalid TOML: Control characters (codes less than 0x1f and 0x7f)"
        " are not allowed in strings, use \\u000a instead",
    ),
    "unclosed table header": (
        "[server\nport = 1\n",
        "config.toml:1:8: invalid TOML: Unexpected character: '\\n'",
    ),
    "empty file": (
        "",
        "config.toml:1:1: the file has no keys: a config.toml needs at least one key",
    ),
    "only comments": (
        "# nothing\n",
        "config.toml:1:1: the file has no keys: a config.toml needs at least one key",
    ),
    "mixed-type array": (
        '[server]\nhosts = [1, "a"]\n',
        "config.toml:2:1: server.hosts: mixed-type array (int, str): every element must have the same type",
    ),
    "int and float in one array": (
        "xs = [1, 2.5]\n",
        "config.toml:1:1: xs: mixed-type array (float, int): every element must have the same type",
    ),
    "empty array without hint": (
        "[server]\n  tags = []\n",
        "config.toml:2:3: server.tags: an empty array has no element type: add a hint such as '# type: list[str]'",
    ),
    "key with a space": (
        '"my key" = 1\n',
        "config.toml:1:1: my key: key 'my key' is not a valid Python identifier (after '-' -> '_': 'my key');"
        " use letters, digits, '_' and '-', not starting with a digit",
    ),
    "key starting with a digit": (
        "[server]\n2fa = true\n",
        "config.toml:2:1: server.2fa: key '2fa' is not a valid Python identifier (after '-' -> '_': '2fa');"
        " use letters, digits, '_' and '-', not starting with a digit",
    ),
    "python keyword": (
        'class = "x"\n',
        "config.toml:1:1: class: key 'class' is a Python keyword; rename it (e.g. 'class_')",
    ),
    "shadows a generated name": (
        'str = "x"\n',
        "config.toml:1:1: str: key 'str' would shadow the name 'str' that the generated module uses; rename it",
    ),
    "dunder name": (
        "__init__ = 1\n",
        "config.toml:1:1: __init__: key '__init__' starts with '__', which Python reserves",
    ),
    "two keys normalise to one name": (
        "a-b = 1\na_b = 2\n",
        "config.toml:2:1: a_b: key 'a_b' and key 'a-b' both become the attribute 'a_b'; rename one",
    ),
    "two fields, one environment variable": (
        "[server]\ntls_enabled = true\n[server.tls]\nenabled = false\n",
        "config.toml:4:1: server.tls.enabled: 'server.tls.enabled' and 'server.tls_enabled' (line 2) both read"
        " the environment variable APP_SERVER_TLS_ENABLED; rename one or give one an 'env:' directive",
    ),
    "two env directives, one variable": (
        "a = 1  # env: X\nb = 2  # env: X\n",
        "config.toml:2:1: b: 'b' and 'a' (line 1) both read the environment variable X;"
        " rename one or give one an 'env:' directive",
    ),
    "field reads the config-file variable": (
        'config_file = "x"\n',
        "config.toml:1:1: config_file: 'config_file' reads APP_CONFIG_FILE, which names the config file"
        " for load_config(); rename it or give it an 'env:' directive",
    ),
    "two tables, one class": (
        "[server_tls]\na = 1\n[server.tls]\nb = 2\n",
        "config.toml:3:1: server.tls: table [server.tls] would generate class ServerTls, like [server_tls] at line 1;"
        " rename one",
    ),
    "key named like a generated class": (
        "B = false\n[b]\na = 1\n",
        "config.toml:1:1: B: key 'B' would hide the class B generated for [b]; rename one",
    ),
    "table whose class would be a keyword": (
        "[true]\na = 1\n",
        "config.toml:1:1: true: table [true] cannot name a class (it would be 'True'); rename it",
    ),
    "table shadows a generated class": (
        "[config_error]\na = 1\n",
        "config.toml:1:1: config_error: table [config_error] would generate class ConfigError,"
        " a name the generated module already defines",
    ),
    "unknown directive": (
        "port = 1  # validat: min=1\n",
        "config.toml:1:13: port: unknown directive 'validat' (did you mean 'validate'?); known directives:"
        " env, map, required, sensitive, type, validate (a comment that is a sentence is a note, not a directive)",
    ),
    "misspelt flag directive": (
        "port = 1  # sensitve\n",
        "config.toml:1:13: port: unknown directive 'sensitve' (did you mean 'sensitive'?); known directives:"
        " env, map, required, sensitive, type, validate (a comment that is a sentence is a note, not a directive)",
    ),
    "unknown rule": (
        "port = 1  # validate: mni=1\n",
        "config.toml:1:23: port: unknown rule 'mni' in validate (did you mean 'min'?);"
        " known rules: max, min, oneof, pattern",
    ),
    "directive given twice": (
        "a = 1  # sensitive, sensitive\n",
        "config.toml:1:21: a: directive 'sensitive' is given twice",
    ),
    "min greater than max": (
        "port = 1  # validate: min=10,max=5\n",
        "config.toml:1:1: port: min=10 is greater than max=5",
    ),
    "default breaks its min": (
        "port = 0  # validate: min=1,max=65535\n",
        "config.toml:1:1: port: the default 0 is below min=1",
    ),
    "default breaks its pattern": (
        'name = "Bad"  # validate: pattern=^[a-z]+$\n',
        "config.toml:1:1: name: the default 'Bad' does not match pattern=^[a-z]+$",
    ),
    "default breaks its length": (
        'name = "ab"  # validate: min=3\n',
        "config.toml:1:1: name: the default has length 2, below min=3",
    ),
    "default not in oneof": (
        'mode = "x"  # validate: oneof=a|b\n',
        "config.toml:1:1: mode: the default 'x' is not one of a|b",
    ),
    "invalid regex": (
        'name = "x"  # validate: pattern=[a-\n',
        "config.toml:1:1: name: 'pattern=[a-' is not a valid regular expression:"
        " unterminated character set at position 0",
    ),
    "oneof on a non-string": (
        "port = 1  # validate: oneof=1|2\n",
        "config.toml:1:1: port: 'oneof' applies to strings; this key is an int",
    ),
    "pattern on a non-string": (
        "port = 1  # validate: pattern=1\n",
        "config.toml:1:1: port: 'pattern' applies to strings; this key is an int",
    ),
    "min on a bool": (
        "debug = false  # validate: min=1\n",
        "config.toml:1:1: debug: 'min' does not apply to a bool",
    ),
    "fractional min on an int": (
        "n = 1  # validate: min=0.5\n",
        "config.toml:1:1: n: 'min=0.5' must be a whole number for an int",
    ),
    "map values differ in type": (
        '[labels]  # map\na = "x"\nb = 1\n',
        "config.toml:3:1: labels.b: map values differ in type: 'b' is an int, 'a' is a str",
    ),
    "map of tables with different shapes": (
        '[ups]  # map\n[ups.a]\nurl = "x"\n[ups.b]\nurl = 1\n',
        "config.toml:4:1: ups.b: map values differ in type: entry 'b' has keys {url: int}, entry 'a' has {url: str}",
    ),
    "map of tables and values": (
        '[ups]  # map\nx = 1\n[ups.a]\nurl = "x"\n',
        "config.toml:1:1: ups: map values differ in type: some are tables, some are not",
    ),
    "map on a value": (
        "port = 1  # map\n",
        "config.toml:1:1: port: 'map' applies to tables; this key is not a table",
    ),
    "empty map without hint": (
        "[labels]  # map\n",
        "config.toml:1:1: labels: an empty map has no value type: add a hint such as '# map, type: dict[str, str]'",
    ),
    "directive on a section header": (
        "[server]  # sensitive\na = 1\n",
        "config.toml:1:1: server: directives on a section header: only 'map' applies to a table"
        " (put the others on its keys)",
    ),
    "int beyond 64 bits": (
        "n = 9223372036854775808\n",
        "config.toml:1:1: n: integer out of the 64-bit range TOML allows",
    ),
    "tables of an array with other keys": (
        '[[servers]]\nname = "a"\n\n[[servers]]\nhost = "b"\n',
        "config.toml:4:1: servers.1: entry '1' has keys {host: str}, entry '0' has {name: str}:"
        " every table of an array has the same keys and types",
    ),
    "inline tables of an array with other types": (
        'xs = [{a = 1}, {a = "x"}]\n',
        "config.toml:1:17: xs.1: entry '1' has keys {a: str}, entry '0' has {a: int}:"
        " every table of an array has the same keys and types",
    ),
    "tables mixed with other values": (
        "xs = [{a = 1}, 2]\n",
        "config.toml:1:1: xs: an array that mixes tables and other values: every element must be a table",
    ),
    "an array of arrays of tables": (
        "xs = [[{a = 1}]]\n",
        "config.toml:1:1: xs: an array of tables is supported as a key of a table, not inside another"
        " array or as the value of a '# map'",
    ),
    "unknown type hint": (
        "xs = []  # type: list[strr]\n",
        "config.toml:1:1: xs: type hint 'list[strr]' is not understood: expected str, int, float, bool, datetime,"
        " date, time, list[T] or (for a map) dict[str, T]",
    ),
    "type hint does not match": (
        "xs = [1]  # type: list[str]\n",
        "config.toml:1:1: xs: type hint 'list[str]' does not match the value, which is a list[int]",
    ),
    "invalid env name": (
        "a = 1  # env: 9X\n",
        "config.toml:1:1: a: '9X' is not a valid environment variable name",
    ),
}


def _diagnostics(tmp_path: Path, text: str | bytes) -> list[str]:
    path = tmp_path / "config.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    schema, diagnostics = read_config(path, "config.toml", "APP_")
    assert schema is None
    return [str(d) for d in diagnostics]


@pytest.mark.parametrize(("text", "expected"), list(CASES.values()), ids=list(CASES))
def test_bad_config_is_located(tmp_path: Path, text: str, expected: str) -> None:
    assert _diagnostics(tmp_path, text) == [expected]


def test_not_utf8(tmp_path: Path) -> None:
    assert _diagnostics(tmp_path, b'a = 1\nname = "caf\xe9"\n') == [
        "config.toml:2:12: not valid UTF-8 (byte 0xe9); TOML files must be UTF-8"
    ]


def test_missing_file(tmp_path: Path) -> None:
    schema, diagnostics = read_config(tmp_path / "nope.toml", "nope.toml", "")
    assert schema is None
    assert [str(d) for d in diagnostics] == ["nope.toml:1:1: file not found"]


def test_all_errors_at_once(tmp_path: Path) -> None:
    text = "class = 1\nxs = []\n[server]\nport = 0  # validate: min=1\n"
    assert _diagnostics(tmp_path, text) == [
        "config.toml:1:1: class: key 'class' is a Python keyword; rename it (e.g. 'class_')",
        "config.toml:2:1: xs: an empty array has no element type: add a hint such as '# type: list[str]'",
        "config.toml:4:1: server.port: the default 0 is below min=1",
    ]


def test_sentence_comment_is_a_note_not_a_directive(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[server.tls]  # nested section -> class ServerTls\nport = 1  # the port we use\n"
    )
    schema, diagnostics = read_config(path, "config.toml", "APP_")
    assert diagnostics == []
    assert schema is not None
