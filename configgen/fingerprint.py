"""What generated output depends on, recorded in every module so that builds can skip work.

Kept free of heavy imports: a build whose inputs did not change reads only this.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import NamedTuple

from configgen.settings import Settings

_HERE = Path(__file__).resolve().parent
# The modules whose code decides what is generated (tests/test_fingerprint.py keeps
# this list complete: every module that the pipeline imports to render is on it).
GENERATOR_MODULES = (
    "bucketing.py",
    "config_reader.py",
    "diagnostics.py",
    "directives.py",
    "fieldtypes.py",
    "flags_reader.py",
    "model.py",
    "naming.py",
    "pipeline.py",
    "pyexpr.py",
    "reading.py",
    "render.py",
    "rules.py",
    "toml_source.py",
)


def templates_dir() -> Path:
    """Where the templates are: inside the installed package, or at the top of a checkout."""
    for candidate in (_HERE / "templates", _HERE.parent / "templates"):
        if (candidate / "config.py.j2").is_file():
            return candidate
    raise FileNotFoundError(f"configgen's templates are missing (looked in {_HERE / 'templates'})")


@functools.lru_cache(maxsize=1)
def generator_fingerprint() -> bytes:
    """Changes whenever the generator can change its output: its version, its templates
    and every module that reads the inputs or shapes the output."""
    from configgen import __version__

    digest = hashlib.sha256(__version__.encode())
    shaping = sorted(templates_dir().glob("*.j2")) + [_HERE / name for name in GENERATOR_MODULES]
    for path in shaping:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.digest()


class Provenance(NamedTuple):
    """Where a generated module came from, recorded in it."""

    inputs_digest: str
    """Digest of everything the output depends on: the input, settings, the generator."""
    shown_source: str
    """The input's path relative to the project: ``config/config.toml``."""
    relative_source: str
    """The input's path relative to the generated module's directory."""
    source_digest: str
    """``sha256:`` of the input's bytes, for the import-time staleness check."""


def provenance(settings: Settings, source: Path) -> Provenance:
    """What a module generated from *source* records about its origin."""
    data = source.read_bytes()
    inputs = hashlib.sha256(generator_fingerprint())
    for part in (settings.env_prefix, settings.shown(source), settings.bucketing):
        inputs.update(part.encode() + b"\0")
    inputs.update(data)
    return Provenance(
        inputs_digest="sha256:" + inputs.hexdigest()[:32],
        shown_source=settings.shown(source),
        relative_source=Path(os.path.relpath(source, settings.package)).as_posix(),
        source_digest="sha256:" + hashlib.sha256(data).hexdigest(),
    )


def header(digest: str) -> str:
    """The second line of a generated module: its inputs digest."""
    return f"# configgen-inputs: {digest}"


def testing_digest(config: Provenance, flags: Provenance | None) -> str:
    """The testing module depends on both inputs."""
    if flags is None:
        return config.inputs_digest
    joined = (config.inputs_digest + flags.inputs_digest).encode()
    return "sha256:" + hashlib.sha256(joined).hexdigest()[:32]


def expected_headers(settings: Settings) -> dict[Path, str]:
    """The provenance line each generated module must carry to be current."""
    outputs = settings.outputs
    config = provenance(settings, settings.config)
    flags = provenance(settings, settings.flags) if settings.flags is not None else None
    headers = {outputs["config"]: header(config.inputs_digest)}
    if flags is not None:
        headers[outputs["flags"]] = header(flags.inputs_digest)
    headers[outputs["testing"]] = header(testing_digest(config, flags))
    return headers
