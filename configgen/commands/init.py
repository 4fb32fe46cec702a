"""``configgen init [DIR]``: a project that builds; never overwrites.

Writes the starter inputs, the package folder, and the pyproject.toml tables that are
missing: ``[project]``, ``[build-system]`` (Hatch with its hook, or setuptools) and
``[tool.configgen]``. An existing pyproject.toml is edited with tomlkit, so its comments
and layout stay; existing files and tables are left as they are, and reported.
"""

from __future__ import annotations

import argparse
import keyword
import re
import sys
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import ParseError

from configgen.naming import IDENTIFIER
from configgen.settings import requirement_names

REQUIRES_PYTHON = ">=3.10"
BACKENDS = {
    "hatch": (["hatchling", "python-configgen"], "hatchling.build"),
    "setuptools": (["setuptools>=64", "python-configgen"], "setuptools.build_meta"),
}
# a distribution name (PEP 508)
PROJECT_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")

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


def _identifier(name: str) -> str:
    """A project or folder name as an import name, the way hatchling looks for it."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _is_identifier(name: str) -> bool:
    """An ASCII identifier: what a package, and the environment prefix made from it, need."""
    return IDENTIFIER.match(name) is not None and not keyword.iskeyword(name)


def _detect_package(root: Path, module: str) -> str | None:
    """An existing package folder: ``src/<module>``, ``<module>``, or the one in ``src``."""
    for candidate in (f"src/{module}", module):
        if (root / candidate).is_dir():
            return candidate
    src = root / "src"
    packages = (
        sorted(p.name for p in src.iterdir() if (p / "__init__.py").is_file())
        if src.is_dir()
        else []
    )
    return f"src/{packages[0]}" if len(packages) == 1 else None


def _table(parent: Any, key: str) -> Any:
    """``parent[key]``, created as a header-less table when missing."""
    if key not in parent:
        parent.add(key, tomlkit.table(is_super_table=True))
    return parent[key]


def _backend_of(system: object) -> str | None:
    if not isinstance(system, dict):
        return None
    backend = str(system.get("build-backend", "setuptools.build_meta:__legacy__"))
    if backend.startswith("hatchling"):
        return "hatch"
    return "setuptools" if backend.startswith("setuptools") else None


def run(args: argparse.Namespace) -> int:
    root: Path = args.dir if args.dir is not None else args.project
    pyproject = root / "pyproject.toml"
    shown = root.as_posix().rstrip("/")
    where = "" if shown == "." else f"{shown}/"
    try:
        document = (
            tomlkit.parse(pyproject.read_text(encoding="utf-8"))
            if pyproject.is_file()
            else tomlkit.document()
        )
    except ParseError as exc:
        print(f"configgen: {where}pyproject.toml: invalid TOML: {exc}", file=sys.stderr)
        return 1
    project = document.get("project")
    name = str(project.get("name", "")) if isinstance(project, dict) else ""
    named_by = "project name" if name else "folder name"
    name = name or root.resolve().name
    if args.package is not None and not _is_identifier(args.package):
        print(f"configgen: --package {args.package!r} is not a Python identifier", file=sys.stderr)
        return 2
    module = _identifier(name)
    existing = None if args.package is not None else _detect_package(root, module)
    if args.package is None and existing is None and not _is_identifier(module):
        print(
            f"configgen: the {named_by} {name!r} does not make a package name ({module!r} is "
            "not a Python identifier); name the package with --package NAME",
            file=sys.stderr,
        )
        return 2
    tool_table = document.get("tool", {}).get("configgen")
    configured = tool_table if isinstance(tool_table, dict) else {}
    package = str(configured["package"]) if "package" in configured else existing or (
        args.package if args.package and (root / args.package).is_dir() else
        f"src/{args.package or module}"
    )  # fmt: skip
    if not PROJECT_NAME.fullmatch(name):  # no distribution name: the package's is one
        name = Path(package).name.strip("_")
    if not PROJECT_NAME.fullmatch(name) or not _is_identifier(_identifier(Path(package).name)):
        print(
            f"configgen: {name!r} is not a project name (letters, digits, '.', '_' and '-', "
            "starting and ending with a letter or digit); name the package with --package NAME",
            file=sys.stderr,
        )
        return 2
    prefix = f"{_identifier(Path(package).name).upper()}_"

    def wrote(path: str) -> None:
        print(f"configgen: wrote {where}{path}")

    def left(what: str) -> None:
        print(f"configgen: {what}, left as it is")

    root.mkdir(parents=True, exist_ok=True)
    for file, text in (
        (
            str(configured.get("config", "config.toml")),
            STARTER_CONFIG.format(name=name, prefix=prefix),
        ),
        (str(configured.get("flags", "flags.toml")), STARTER_FLAGS),
    ):
        if (root / file).exists():
            left(f"{where}{file} exists")
        else:
            (root / file).parent.mkdir(parents=True, exist_ok=True)
            (root / file).write_text(text, encoding="utf-8")
            wrote(file)

    if (root / package).is_dir():
        left(f"{where}{package}/ exists")
    else:
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text(f'"""{name}."""\n', encoding="utf-8")
        wrote(f"{package}/__init__.py")

    added: list[str] = []
    kept: list[str] = []
    system = document.get("build-system")
    backend = _backend_of(system)
    if isinstance(system, dict):
        kept.append("[build-system]")
        if args.backend is not None and args.backend != backend:
            print(f"configgen: note: --backend {args.backend} ignored: [build-system] is kept")
        if backend is not None and "python-configgen" not in requirement_names(
            list(system.get("requires", []))
        ):
            print(
                'configgen: note: add "python-configgen" to [build-system] requires, or '
                "builds in a fresh environment cannot generate the modules"
            )
    else:
        backend = args.backend or "hatch"
        requires, build_backend = BACKENDS[backend]
        table = tomlkit.table()
        table.add("requires", requires)
        table.add("build-backend", build_backend)
        document.add("build-system", table)
        added.append("[build-system]")

    if isinstance(project, dict):
        kept.append("[project]")
    else:
        table = tomlkit.table()
        table.add("name", name)
        table.add("version", "0.1.0")
        table.add("requires-python", REQUIRES_PYTHON)
        document.add("project", table)
        added.append("[project]")

    tool = _table(document, "tool")
    if backend == "hatch":
        hatch = _table(tool, "hatch")
        hooks = _table(_table(hatch, "build"), "hooks")
        if "configgen" in hooks:
            kept.append("[tool.hatch.build.hooks.configgen]")
        else:
            hooks.add("configgen", tomlkit.table())
            added.append("[tool.hatch.build.hooks.configgen]")
        module_found = Path(package).name == _identifier(name) or ("targets" in hatch["build"])
        if not module_found:  # hatchling finds src/<project name> on its own, nothing else
            wheel = _table(_table(hatch["build"], "targets"), "wheel")
            wheel.add("packages", [package])
            added.append("[tool.hatch.build.targets.wheel]")

    if "configgen" in tool:
        kept.append("[tool.configgen]")
    else:
        table = tomlkit.table()
        table.add("config", "config.toml")
        if (root / "flags.toml").is_file():
            table.add("flags", "flags.toml")
        table.add("package", package)
        table.add("env-prefix", prefix)
        table.add("test-helpers", True)
        tool.add("configgen", table)
        added.append("[tool.configgen]")

    if added:
        existed = pyproject.is_file()
        pyproject.write_text(tomlkit.dumps(document), encoding="utf-8")
        print(
            f"configgen: {'added' if existed else 'wrote'} {where}pyproject.toml: "
            f"{', '.join(added)}"
        )
    if kept:
        left(f"{where}pyproject.toml has {', '.join(kept)}")
    if added or not kept:
        print("configgen: next: 'configgen generate', then 'pip install -e .' or 'pip wheel .'")
    return 0
