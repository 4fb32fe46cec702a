"""Settings: the one reader of ``[tool.configgen]`` in pyproject.toml, for every door."""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from pathlib import Path
from typing import Any

from configgen.bucketing import DEFAULT_SCHEME, SCHEMES, Scheme
from configgen.diagnostics import Diagnostic, Severity, did_you_mean

KEYS = ("bucketing", "config", "env-prefix", "flags", "package", "test-helpers")
CONFIG_MODULE = "configgen_config.py"
FLAGS_MODULE = "configgen_flags.py"
TESTING_MODULE = "configgen_testing.py"
PRODUCTION_ENV = "CONFIGGEN_PRODUCTION"


class SettingsError(Exception):
    """``[tool.configgen]`` is missing or wrong; ``diagnostics`` says where."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(str(d) for d in diagnostics))


class ProjectNotFoundError(Exception):
    """No pyproject.toml with ``[tool.configgen]`` in a folder or any folder above it."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """Where the inputs are and where the generated modules go; paths are absolute."""

    root: Path
    config: Path
    flags: Path | None
    package: Path
    env_prefix: str
    test_helpers: bool
    project_name: str = ""
    """``[project] name``, when there is one."""
    bucketing: Scheme = DEFAULT_SCHEME
    """The rollout bucketing scheme: ``flagd-v3`` (the default) or ``flagd-v2``."""

    def shown(self, path: Path) -> str:
        """*path* relative to the project root, with forward slashes."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return Path(os.path.relpath(path, self.root)).as_posix()

    @property
    def outputs(self) -> dict[str, Path]:
        """The generated modules by role: ``config``, ``flags``, ``testing``."""
        return {
            "config": self.package / CONFIG_MODULE,
            "flags": self.package / FLAGS_MODULE,
            "testing": self.package / TESTING_MODULE,
        }


def production_build() -> bool:
    """Whether ``CONFIGGEN_PRODUCTION`` asks for a build without test helpers."""
    return os.environ.get(PRODUCTION_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _parse_toml(text: str) -> dict[str, Any]:
    """The standard library's TOML parser (tomli on Python 3.10): fast, for the common case."""
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads(text)
    import tomli

    return tomli.loads(text)


class _Locator:
    """Positions in pyproject.toml, found (with tomlkit) only when a problem needs them."""

    def __init__(self, path: Path, text: str | None = None) -> None:
        self.path = path
        self.text = text
        self._positions: dict[str, tuple[int, int]] | None = None

    def __call__(self, key: str) -> tuple[int, int]:
        if self._positions is None:
            self._positions = {}
            from configgen.toml_source import parse_source, read_source

            if self.text is None:
                source, _ = read_source(self.path, "pyproject.toml")
            else:
                source, _ = parse_source(self.text, "pyproject.toml")
            tool = source.document.get("tool") if source is not None else None
            found = tool.get("configgen") if isinstance(tool, dict) else None
            if source is not None and found is not None:
                self._positions[""] = source.position(found)
                if isinstance(found, dict):
                    for name in found:
                        self._positions[name] = source.position(found[name])
        return self._positions.get(key, self._positions.get("", (1, 1)))


def load_settings(
    root: Path, *, require_table: bool = True, pyproject_text: str | None = None
) -> Settings:
    """Read ``[tool.configgen]`` from ``root/pyproject.toml``; raise `SettingsError` if bad.

    *pyproject_text* is the file's text when it is not the one on disk (an editor's
    unsaved buffer).
    """
    root = root.resolve()
    pyproject = root / "pyproject.toml"
    table: dict[str, Any] = {}
    project_name = ""
    locate = _Locator(pyproject, pyproject_text)
    if pyproject_text is not None or pyproject.is_file():
        try:
            document = _parse_toml(
                pyproject.read_text(encoding="utf-8") if pyproject_text is None else pyproject_text
            )
        except (ValueError, UnicodeDecodeError):
            from configgen.toml_source import parse_source, read_source

            if pyproject_text is None:
                _, problems = read_source(pyproject, "pyproject.toml")
            else:
                _, problems = parse_source(pyproject_text, "pyproject.toml")
            raise SettingsError(problems) from None
        project = document.get("project")
        if isinstance(project, dict) and isinstance(project.get("name"), str):
            project_name = project["name"]
        tool = document.get("tool")
        found = tool.get("configgen") if isinstance(tool, dict) else None
        if found is not None:
            if not isinstance(found, dict):
                line, col = locate("")
                raise SettingsError(
                    [Diagnostic("pyproject.toml", line, col, "tool.configgen", "must be a table")]
                )
            table = found
    if not table and require_table:
        where = "pyproject.toml" if pyproject.is_file() else f"{pyproject} (missing)"
        raise SettingsError(
            [
                Diagnostic(
                    where,
                    1,
                    1,
                    "tool.configgen",
                    "no [tool.configgen] table: add one, or run 'configgen init'",
                )
            ]
        )
    problems = []

    def bad(key: str, message: str) -> None:
        line, col = locate(key)
        problems.append(Diagnostic("pyproject.toml", line, col, f"tool.configgen.{key}", message))

    for key in table:
        if key not in KEYS:
            hint = did_you_mean(key, KEYS)
            bad(key, f"unknown setting{hint}; known settings: {', '.join(KEYS)}")

    def text(key: str, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str):
            bad(key, f"must be a string, not {type(value).__name__}")
            return default
        return value

    config = root / text("config", "config.toml")
    flags_text = text("flags", "flags.toml")
    flags: Path | None = root / flags_text
    if not (root / flags_text).is_file():
        if "flags" in table:
            bad("flags", f"the flags file {flags_text} does not exist")
        flags = None
    module_name = _normalise(project_name)
    if "package" in table:
        package = root / text("package", ".")
    else:
        candidates = [root / "src" / module_name, root / module_name] if module_name else []
        package = next((c for c in candidates if c.is_dir()), root)
    if "package" in table and not package.is_dir():
        bad("package", f"the package directory {table['package']} does not exist")
    default_prefix = f"{module_name.upper()}_" if module_name else ""
    env_prefix = text("env-prefix", default_prefix)
    if env_prefix and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", env_prefix):
        bad("env-prefix", f"'{env_prefix}' cannot start an environment variable name")
    test_helpers = table.get("test-helpers", True)
    if not isinstance(test_helpers, bool):
        bad("test-helpers", f"must be true or false, not {test_helpers!r}")
        test_helpers = True
    scheme: Scheme = DEFAULT_SCHEME
    chosen = text("bucketing", DEFAULT_SCHEME)
    for known in SCHEMES:
        if chosen == known:
            scheme = known
            break
    else:
        bad("bucketing", f"'{chosen}' is not a bucketing scheme; use {' or '.join(SCHEMES)}")
    if problems:
        raise SettingsError(problems)
    return Settings(
        root=root,
        config=config,
        flags=flags,
        package=package,
        env_prefix=env_prefix,
        test_helpers=test_helpers,
        project_name=project_name,
        bucketing=scheme,
    )


def _has_table(pyproject: Path) -> bool:
    """Whether *pyproject* has ``[tool.configgen]``; a file that is not valid TOML counts,
    so that its errors are reported rather than skipped."""
    try:
        text = pyproject.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if "configgen" not in text:
        return False
    try:
        tool = _parse_toml(text).get("tool")
    except ValueError:
        return True
    return isinstance(tool, dict) and "configgen" in tool


def find_project(start: Path) -> Path | None:
    """The nearest folder, *start* or one above it, whose pyproject.toml has ``[tool.configgen]``.

    As ruff and pytest do, a pyproject.toml without the table is passed over (in a
    monorepo, a member without the table belongs to the project above it); the walk
    stops at the filesystem root.
    """
    start = start.resolve()
    for folder in (start, *start.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and _has_table(pyproject):
            return folder
    return None


def locate_project(start: Path) -> Path:
    """`find_project`, or raise `ProjectNotFoundError` saying what was found on the way."""
    found = find_project(start)
    if found is not None:
        return found
    start = start.resolve()
    nearest = next(
        (f / "pyproject.toml" for f in (start, *start.parents) if (f / "pyproject.toml").is_file()),
        None,
    )
    if nearest is None:
        raise ProjectNotFoundError(
            f"no pyproject.toml with a [tool.configgen] table in {start} or any folder above "
            "it; run the command inside a project, or name its folder with --project DIR "
            "('configgen init DIR' starts a new one)"
        )
    shown = os.path.relpath(nearest, start)
    init = "configgen init" if nearest.parent == start else f"configgen init {nearest.parent}"
    raise ProjectNotFoundError(
        f"{shown} has no [tool.configgen] table, and no pyproject.toml above it has one; "
        f"run '{init}' to add one there, or name the project's folder with --project DIR"
    )


def requirement_names(requires: list[object]) -> set[str]:
    """The distribution names in a list of requirements (``build-system.requires``).

    Names are normalised as PEP 503 does (``Python.ConfigGen`` is ``python-configgen``). A
    requirement whose environment marker does not hold here is left out; markers are
    evaluated with ``packaging`` when it can be imported, and ignored otherwise.
    """
    names = {_requirement_name(str(requirement).strip()) for requirement in requires}
    return {name for name in names if name is not None}


def _requirement_name(text: str) -> str | None:
    """The PEP 503 name of a requirement, or None when its marker does not hold here."""
    name = re.split(r"[\s<>=!~;\[@(]", text, maxsplit=1)[0]
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:
        pass  # no marker evaluation: every requirement counts
    else:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            pass  # the build frontend will say so; the name is still what it reads
        else:
            name = requirement.name
            try:
                holds = requirement.marker is None or requirement.marker.evaluate()
            except Exception:  # a marker packaging cannot evaluate: as if without one
                holds = True
            if not holds:
                return None
    return re.sub(r"[-_.]+", "-", name).lower()


def build_requirement_problems(
    root: Path, *, severity: Severity = "warning", pyproject_text: str | None = None
) -> list[Diagnostic]:
    """A problem when a build backend would run without ConfigGen.

    With ``[tool.configgen]`` and a Hatch hook table or the setuptools backend (named, or
    the legacy default of a ``[build-system]`` without ``build-backend``),
    ``python-configgen`` must be in ``build-system.requires``. Without it hatchling stops
    with "Unknown build hook: configgen", and setuptools builds without generating: the
    wheel ships without the modules and nothing says so. *pyproject_text*: as for
    `load_settings`.
    """
    from configgen.toml_source import parse_source, read_source

    pyproject = root / "pyproject.toml"
    if pyproject_text is not None:
        source, _ = parse_source(pyproject_text, "pyproject.toml")
    else:
        source, _ = read_source(pyproject, "pyproject.toml") if pyproject.is_file() else (None, [])
    if source is None:
        return []
    document = source.document.unwrap()
    tool = document.get("tool", {})
    if "configgen" not in tool:
        return []
    system = document.get("build-system")
    if not isinstance(system, dict):
        return []
    hatch_hook = "configgen" in tool.get("hatch", {}).get("build", {}).get("hooks", {})
    backend = str(system.get("build-backend", "setuptools.build_meta:__legacy__"))
    setuptools = backend.startswith("setuptools")
    if not (hatch_hook or setuptools):
        return []
    names = requirement_names(system.get("requires", []))
    if "python-configgen" in names:
        return []
    item = source.document.get("build-system")
    line, col = source.position(item) if item is not None else (1, 1)
    if hatch_hook:
        why = (
            "hatchling cannot load the configgen build hook in a fresh build environment "
            "and stops with 'Unknown build hook: configgen'; add it: "
            'requires = ["hatchling", "python-configgen"]'
        )
    else:
        why = (
            "setuptools builds the package without generating the modules, and the wheel "
            "ships without them with no error; add it: "
            'requires = ["setuptools>=64", "python-configgen"]'
        )
    return [
        Diagnostic(
            "pyproject.toml",
            line,
            col,
            "build-system.requires",
            f"'python-configgen' is missing: {why}",
            severity,
        )
    ]


def require_package_dir(settings: Settings) -> None:
    """Raise `configgen.DiagnosticError` when the package directory does not exist."""
    if not settings.package.is_dir():
        from configgen.diagnostics import DiagnosticError

        shown = settings.shown(settings.package)
        raise DiagnosticError([Diagnostic("pyproject.toml", 1, 1, "tool.configgen.package",
                                          f"the package directory {shown} does not exist")])  # fmt: skip
