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
