"""``configgen init [DIR]``: starter inputs and a ``[tool.configgen]`` table; never overwrites."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import tomlkit

STARTER_CONFIG = """\
# Settings of this application. Every value is both the type and the default of its key;
# a comment line above a key becomes its docstring, a trailing comment holds directives.
# Environment variables override any key: {prefix}SERVER_PORT, {prefix}DATABASE_URL, ...

# Shown in logs.
name = "{name}"
debug = false

[server]
host = "127.0.0.1"
port = 8080  # validate: min=1,max=65535

[database]
# Where the data lives.
url = "sqlite:///app.db"
password = ""  # sensitive
pool_size = 5  # validate: min=1,max=100
"""


STARTER_FLAGS = """\
# Feature flags. Each [flags.NAME] table is one flag with a type and a default;
# a table without a type is a category (flags.ui.theme()). Values can be changed at
# run time through the store given to Flags(store).

[flags.new_checkout]
type = "bool"
default = false
description = "The new checkout flow"
users = ["alice"]          # these targeting keys get true
segments = ["staff"]       # so do the members of these segments
rollout = 10               # and this percentage of everyone else

[flags.ui.theme]
type = "enum"
values = ["light", "dark"]
default = "light"

[flags.search.new_ranker]
type = "percent"           # the getter is true for this percentage of targeting keys
default = 0

[segments.staff]
users = ["alice", "bob"]
"""


def _detect_package(root: Path, module: str) -> str:
    for candidate in (f"src/{module}", module):
        if module and (root / candidate).is_dir():
            return candidate
    src = root / "src"
    packages = (
        sorted(p.name for p in src.iterdir() if (p / "__init__.py").is_file())
        if src.is_dir()
        else []
    )
    if len(packages) == 1:
        return f"src/{packages[0]}"
    return f"src/{module}" if module else "."


def run(args: argparse.Namespace) -> int:
    root: Path = args.dir if args.dir is not None else args.project
    root.mkdir(parents=True, exist_ok=True)
    pyproject = root / "pyproject.toml"
    document = (
        tomlkit.parse(pyproject.read_text(encoding="utf-8"))
        if pyproject.is_file()
        else tomlkit.document()
    )
    project = document.get("project")
    name = str(project.get("name", "")) if isinstance(project, dict) else ""
    name = name or root.resolve().name
    module = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_").lower() or "app"
    prefix = f"{module.upper()}_"

    config = root / "config.toml"
    if config.exists():
        print(f"configgen: {config} exists, left as it is")
    else:
        config.write_text(STARTER_CONFIG.format(name=name, prefix=prefix), encoding="utf-8")
        print(f"configgen: wrote {config}")

    flags = root / "flags.toml"
    if flags.exists():
        print(f"configgen: {flags} exists, left as it is")
    else:
        flags.write_text(STARTER_FLAGS, encoding="utf-8")
        print(f"configgen: wrote {flags}")

    tool = document.get("tool")
    if isinstance(tool, dict) and "configgen" in tool:
        print(f"configgen: {pyproject} already has [tool.configgen], left as it is")
        return 0
    table = tomlkit.table()
    table.add("config", "config.toml")
    if (root / "flags.toml").is_file():
        table.add("flags", "flags.toml")
    table.add("package", _detect_package(root, module))
    table.add("env-prefix", prefix)
    table.add("test-helpers", True)
    if not isinstance(tool, dict):
        tool = tomlkit.table(is_super_table=True)
        document.add("tool", tool)
    tool["configgen"] = table
    pyproject.write_text(tomlkit.dumps(document), encoding="utf-8")
    print(f"configgen: added [tool.configgen] to {pyproject}")
    package = root / str(table["package"])
    if not package.is_dir():
        print(
            f"configgen: note: set 'package' to your package directory ({package} does not exist yet)"
        )
    return 0
