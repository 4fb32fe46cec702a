"""Arrays of tables (``[[servers]]``) and maps of tables with nested tables, end to end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from configgen.config_reader import read_config

SERVERS = """\
name = "app"

# The upstream servers.
[[servers]]
host = "a.example"
port = 80

[servers.tls]
enabled = false

[[servers]]
host = "b.example"
port = 443

[servers.tls]
enabled = true
"""


def test_an_array_of_tables_is_a_tuple_of_one_class(
    generated: Callable[..., ModuleType],
) -> None:
    module = generated(SERVERS)
    config = module.default_config()
    assert [(s.host, s.port, s.tls.enabled) for s in config.servers] == [
        ("a.example", 80, False),
        ("b.example", 443, True),
    ]
    assert type(config.servers) is tuple
    assert type(config.servers[0]) is module.ServersItem
    assert type(config.servers[0].tls) is module.ServersItemTls


def test_a_file_replaces_the_array_and_the_environment_too(
    generated: Callable[..., ModuleType], tmp_path: Path
) -> None:
    module = generated(SERVERS)
    override = tmp_path / "override.toml"
    override.write_text('[[servers]]\nhost = "c"\nport = 1\n[servers.tls]\nenabled = true\n')
    config = module.load_config(override, env={})
    assert [(s.host, s.port) for s in config.servers] == [("c", 1)]
    env = {"APP_SERVERS": '[{host = "d", port = 2, tls = {enabled = false}}]'}
    config = module.load_config(env=env)
    assert [(s.host, s.port, s.tls.enabled) for s in config.servers] == [("d", 2, False)]
    with pytest.raises(module.ConfigError) as caught:
        module.load_config(env={"APP_SERVERS": '[{host = "d"}]'})
    assert "APP_SERVERS" in str(caught.value)


def test_inline_tables_in_an_array_read_the_same(generated: Callable[..., ModuleType]) -> None:
    module = generated("points = [{x = 1, y = 2}, {x = 3, y = 4}]\n")
    assert [(p.x, p.y) for p in module.default_config().points] == [(1, 2), (3, 4)]


def test_every_problem_in_an_array_points_at_its_own_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[[servers]]\nhost = "a"\n\n[[servers]]\nhost = 1\n\n[[servers]]\n"bad key" = 2\n'
    )
    _, diagnostics = read_config(path, "config.toml", "APP_")
    assert [str(d).split(": ")[0] for d in diagnostics] == [
        "config.toml:4:1",
        "config.toml:8:1",
    ]
    path.write_text('[[servers]]\nhost = "a"\n\n[[servers]]\nhost = 1\n')
    _, diagnostics = read_config(path, "config.toml", "APP_")
    assert [str(d) for d in diagnostics] == [
        "config.toml:4:1: servers.1: entry '1' has keys {host: int}, entry '0' has {host: str}:"
        " every table of an array has the same keys and types"
    ]


def test_entries_of_a_map_share_their_nested_classes(
    generated: Callable[..., ModuleType],
) -> None:
    module = generated(
        "[up]  # map\n[up.a]\nurl = 'x'\n[up.a.tls]\non = true\n"
        "[up.b]\nurl = 'y'\n[up.b.tls]\non = false\n[up.c]\nurl = 'z'\n[up.c.tls]\non = true\n"
    )
    up = module.default_config().up
    assert {key: (entry.url, entry.tls.on) for key, entry in up.items()} == {
        "a": ("x", True),
        "b": ("y", False),
        "c": ("z", True),
    }
    assert type(up["a"].tls) is type(up["c"].tls) is module.UpEntryTls


def test_nested_arrays_share_one_class_across_outer_entries(
    generated: Callable[..., ModuleType],
) -> None:
    module = generated(
        "[[a]]\nx = 1\n[[a.b]]\ny = 1\n[[a]]\nx = 2\n[[a.b]]\ny = 2\n[[a.b]]\ny = 3\n"
    )
    assert [(a.x, [b.y for b in a.b]) for a in module.default_config().a] == [(1, [1]), (2, [2, 3])]
    assert type(module.default_config().a[1].b[0]) is module.AItemBItem
    module = generated('[m]  # map\n[m.e]\ns = [{x = 1}]\n[m."ü-1 x"]\ns = [{x = 2}]\n')
    assert module.default_config().m["ü-1 x"].s[0].x == 2


PROBLEMS = {
    "nested arrays that differ across outer entries": (
        "[[a]]\nx = 1\n[[a.b]]\ny = 1\n[[a]]\nx = 2\n[[a.b]]\ny = 's'\n",
        "config.toml:7:1: a.1.b: the tables here have keys {y: str}, those at line 3 have"
        " {y: int}: they share one class, so they must have the same keys and types",
    ),
    "directives on an array's header": (
        "[[a]]  # sensitive, required\npw = 'secret'\n",
        "config.toml:1:1: a.0: directives are not supported on the entries of a map or an array"
        " of tables (put them on the map's header, or leave them out)",
    ),
    "a broken directive on an array's header": (
        "[[d]]  # sensitive required\npw = 'x'\n",
        "config.toml:1:20: d.0: expected ',' before 'required'; did you mean '# sensitive, required'?",
    ),
    "directives on a map entry's header": (
        "[up]  # map\n[up.a]  # sensitive\nurl = 'x'\n",
        "config.toml:2:1: up.a: directives are not supported on the entries of a map or an array"
        " of tables (put them on the map's header, or leave them out)",
    ),
    "directives on a header declared after its sub-table": (
        "[up.a]\nhost = 'h'\n[up]  # sensitive\n",
        "config.toml:3:1: up: directives on a section header: only 'map' applies to a table"
        " (put the others on its keys)",
    ),
    "a table declared twice": (
        "[a]\nx = 1\n[b]\nq = 2\n[a.c]\nz = 1\n[a]\nq = 1\n",
        "config.toml:7:3: invalid TOML: Cannot declare ('a',) twice",
    ),
}


@pytest.mark.parametrize(("text", "expected"), list(PROBLEMS.values()), ids=list(PROBLEMS))
def test_problems_of_tables_are_located(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    schema, diagnostics = read_config(path, "config.toml", "APP_")
    assert schema is None
    assert [str(d) for d in diagnostics] == [expected]


def test_a_map_header_declared_after_its_entries_is_still_a_map(
    generated: Callable[..., ModuleType],
) -> None:
    module = generated("# The upstreams.\n[up.a]\nhost = 'h'\n[up]  # map\n")
    assert dict(module.default_config().up) == {"a": module.UpEntry(host="h")}
