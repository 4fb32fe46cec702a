"""The pipeline every door calls: settings -> read -> check -> render -> write."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from configgen.config_reader import parse_config, read_config
from configgen.diagnostics import Diagnostic, DiagnosticError, errors
from configgen.fingerprint import header, provenance, testing_digest
from configgen.flags_reader import expired, parse_flags, read_flags
from configgen.model import ConfigSchema, FlagsSchema
from configgen.naming import class_name_for
from configgen.output import remove_files, write_files
from configgen.render import render_config, render_flags, render_testing
from configgen.settings import Settings, production_build, require_package_dir


class Generation(NamedTuple):
    """What the generated modules should contain, or why they cannot be made."""

    files: dict[Path, str]
    """Each module to write, and its text."""
    diagnostics: list[Diagnostic]
    """Errors and warnings; with any error, ``files`` is empty."""
    obsolete: list[Path]
    """Generated modules that should no longer exist (``test-helpers = false``)."""

    @property
    def ok(self) -> bool:
        return not errors(self.diagnostics)


def render(settings: Settings, *, production: bool | None = None) -> Generation:
    """Read and check the inputs and render every module in memory; write nothing.

    The testing module is left out when ``test-helpers = false``, or for a production
    build (*production*, by default ``CONFIGGEN_PRODUCTION`` in the environment).
    """
    with _collector_paused():
        return _render(settings, production)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Reading and rendering make many objects that all live until the end: the cyclic
    garbage collector, left on, walks them again and again (its cost grows faster than
    the schema)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _render(settings: Settings, production: bool | None) -> Generation:
    if production is None:
        production = production_build()
    config, diagnostics = read_config(
        settings.config, settings.shown(settings.config), settings.env_prefix
    )
    flags = None
    if settings.flags is not None:
        flags, flag_diagnostics = read_flags(settings.flags, settings.shown(settings.flags))
        diagnostics = diagnostics + flag_diagnostics
        if flags is not None:
            flags = dataclasses.replace(flags, bucketing=settings.bucketing)
            diagnostics += expired(
                flags, datetime.datetime.now(datetime.timezone.utc).date(), strict=False
            )
    if config is not None and flags is not None:
        diagnostics += _shared_names(config, flags)
    outputs = settings.outputs
    if config is None or (settings.flags is not None and flags is None) or errors(diagnostics):
        return Generation({}, diagnostics, [])
    config_origin = provenance(settings, settings.config)
    flags_origin = (
        provenance(settings, settings.flags) if flags is not None and settings.flags else None
    )
    files = {outputs["config"]: render_config(config, provenance=config_origin)}
    obsolete = []
    if flags is not None and flags_origin is not None:
        files[outputs["flags"]] = render_flags(flags, provenance=flags_origin)
    else:
        obsolete.append(outputs["flags"])
    if settings.test_helpers and not production:
        testing_header = header(testing_digest(config_origin, flags_origin))
        files[outputs["testing"]] = render_testing(config, flags, header=testing_header)
    else:
        obsolete.append(outputs["testing"])
    return Generation(files, diagnostics, [path for path in obsolete if _is_generated(path)])


def _shared_names(config: ConfigSchema, flags: FlagsSchema) -> list[Diagnostic]:
    """The testing module imports the config's classes and the enum aliases side by side."""
    classes = {section.class_name: section for section in config.root.sections}
    classes.update({entry.class_name: entry for entry in config.entries})
    found = []
    for flag in flags.flags():
        alias = class_name_for(flag.path)
        if flag.kind == "enum" and alias in classes:
            table = classes[alias].dotted
            found.append(Diagnostic(flags.source, flag.line, flag.col, f"flags.{flag.key}",
                                    f"the values of '{flag.key}' would be named {alias}, like the "
                                    f"class of [{table}] in {config.source}; the test helpers "
                                    "import both: rename one"))  # fmt: skip
    return found


def _is_generated(path: Path) -> bool:
    """Whether *path* is a module configgen wrote (never remove a user's own file)."""
    try:
        with path.open(encoding="utf-8") as file:
            return file.readline().startswith("# generated by configgen")
    except (OSError, UnicodeDecodeError):
        return False


class Generated(NamedTuple):
    """What `generate` did."""

    written: list[Path]
    removed: list[Path]
    warnings: list[Diagnostic]


def generate(settings: Settings, *, production: bool | None = None) -> Generated:
    """Render and write the modules; return what changed.

    Raises `DiagnosticError` with every problem if the inputs are invalid; then no
    file is written. Unchanged modules are not touched.
    """
    generation = render(settings, production=production)
    if not generation.ok:
        raise DiagnosticError(errors(generation.diagnostics))
    require_package_dir(settings)
    with _writing(settings, "no generated file was changed"):
        written = write_files(generation.files)
    with _writing(settings, "the new modules were written"):
        removed = remove_files(generation.obsolete)
    return Generated(written, removed, generation.diagnostics)


@contextlib.contextmanager
def _writing(settings: Settings, outcome: str) -> Iterator[None]:
    """Turn a failed write into one clear diagnostic (no space left, read-only, a
    directory in the way); *outcome* says what state the files are left in."""
    try:
        yield
    except OSError as exc:
        raise DiagnosticError([_write_problem(settings, exc, outcome)]) from None


def _write_problem(settings: Settings, exc: OSError, outcome: str) -> Diagnostic:
    # os.replace names the module it could not replace second
    named = exc.filename2 if isinstance(exc.filename2, str) else exc.filename
    target = Path(named) if isinstance(named, str) else settings.package
    if target.name.startswith(".") and target.name.endswith(".tmp"):  # our temporary file
        target = target.parent
    reason = exc.strerror or str(exc)
    return Diagnostic(settings.shown(target), 1, 1, "",
                      f"cannot write the generated modules: {reason}; {outcome}")  # fmt: skip


def validate(path: Path, shown: str, env_prefix: str, *, strict: bool = False) -> list[Diagnostic]:
    """Check one input file without writing anything.

    A file is read as flags when it has a top-level ``flags`` table (or is named
    ``flags*.toml``), otherwise as config. Expired flags are warnings, or errors with
    *strict*.
    """
    if is_flags_file(path):
        return _with_expired(*read_flags(path, shown), strict=strict)
    _, diagnostics = read_config(path, shown, env_prefix)
    return diagnostics


def validate_text(
    text: str, shown: str, env_prefix: str, *, flags: bool, strict: bool = False
) -> list[Diagnostic]:
    """`validate` for the text of a file that is not saved (an editor's buffer): flags.toml
    when *flags*, otherwise config.toml."""
    if flags:
        return _with_expired(*parse_flags(text, shown), strict=strict)
    _, diagnostics = parse_config(text, shown, env_prefix)
    return diagnostics


def _with_expired(
    schema: FlagsSchema | None, diagnostics: list[Diagnostic], *, strict: bool
) -> list[Diagnostic]:
    if schema is not None:
        today = datetime.datetime.now(datetime.timezone.utc).date()
        diagnostics += expired(schema, today, strict=strict)
    return diagnostics


def is_flags_file(path: Path) -> bool:
    """Whether *path* looks like a flags.toml: by its name, or by a ``[flags.`` table."""
    if path.name.startswith("flags"):
        return True
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return any(
        line.strip().startswith(("[flags.", "[flags]", "[segments.", "flags.", "segments."))
        for line in text.splitlines()
    )
