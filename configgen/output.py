"""Writing the generated modules: all of them or none, and only the ones that changed."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def read_text(path: Path) -> str | None:
    """The file's text, or None when it does not exist or cannot be read as UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _write_temporary(path: Path, text: str) -> str:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
    except BaseException:
        os.unlink(temporary)
        raise
    return temporary


def write_files(files: dict[Path, str]) -> list[Path]:
    """Write *files* atomically as a set; return those that changed.

    Each file is written to a temporary file beside it and moved into place with
    ``os.replace``. If anything fails, files already replaced get their old contents
    back and the error is raised: on any failure, no generated file has changed.
    """
    changed = {path: text for path, text in files.items() if read_text(path) != text}
    temporaries: list[tuple[str, Path]] = []
    try:
        for path, text in changed.items():
            temporaries.append((_write_temporary(path, text), path))
    except BaseException:
        for temporary, _ in temporaries:
            os.unlink(temporary)
        raise
    previous = {path: read_text(path) for path in changed}
    replaced: list[Path] = []
    try:
        for temporary, path in temporaries:
            os.replace(temporary, path)
            replaced.append(path)
    except BaseException:
        for temporary, path in temporaries:
            if path not in replaced and os.path.exists(temporary):
                os.unlink(temporary)
        for path in replaced:
            old = previous[path]
            if old is None:
                path.unlink()
            else:
                os.replace(_write_temporary(path, old), path)
        raise
    return list(changed)


def remove_files(paths: list[Path]) -> list[Path]:
    """Remove those of *paths* that exist; return the removed ones."""
    removed = []
    for path in paths:
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed
