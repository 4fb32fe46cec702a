"""The operator server: a web UI and a JSON API to change flags safely (extra ``server``).

`create_app` builds a Starlette application that `configgen serve` runs with uvicorn and
that a Starlette or FastAPI app can mount (``app.mount("/flags", create_app(...))``);
docs/server.md shows a Flask or Django app mounting it through a2wsgi.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from configgen.server._config import (
    ROLES,
    Proxy,
    Role,
    ServerConfig,
    ServerConfigError,
    Token,
    User,
    load,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from configgen.audit import Editor
    from configgen.bucketing import Scheme
    from configgen.model import FlagsSchema
    from configgen.server._app import HostUser


def _require_starlette() -> None:
    try:
        import starlette  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "the server needs Starlette and uvicorn: pip install 'python-configgen[server]'"
        ) from exc


def create_app(
    flags: FlagsSchema | str | os.PathLike[str],
    store: Editor | str | None = None,
    config: ServerConfig | str | os.PathLike[str] | None = None,
    *,
    service: str | None = None,
    user: HostUser | None = None,
    outbox: Any = None,
    bucketing: Scheme | None = None,
) -> Starlette:
    """The operator app.

    *flags* is a flags.toml path (or a read schema); *store* an editor or a store URL
    (default: the config's ``store``); *config* a `ServerConfig` or the path of a server
    config file, read again whenever it changes (new users and tokens take effect without a
    restart); *user*, for a host app with its own login, returns ``(name, role)`` for a
    request, or None. With ``[[webhooks]]`` in the config, a dispatcher thread delivers every
    change; its state lives in *outbox* (default: the store's own, from the store URL).
    *bucketing* is the rollout bucketing scheme that evaluations explain (default: the
    schema's, ``flagd-v3`` for a path).
    """
    _require_starlette()
    from configgen.server._app import build

    schema = _schema(flags)
    if bucketing is not None:
        schema = dataclasses.replace(schema, bucketing=bucketing)
    config_source = _config_source(config)
    current = config_source()
    if store is None or isinstance(store, str):
        from configgen.stores import open_editor

        editor = open_editor(
            store or current.store,
            service=service or current.service,
            retention=current.audit_retention,
        )
    else:
        editor = store
    dispatcher = None
    if current.webhooks:
        from configgen import webhooks

        endpoints = webhooks.endpoints(current.webhooks)
        if outbox is None:
            url = store or current.store
            if not isinstance(url, str):
                raise ValueError("webhooks over an editor object need an outbox= as well")
            from configgen.stores import open_outbox

            outbox = open_outbox(url, service=service or current.service)
        flags_by_key = {flag.key: flag for flag in schema.flags()}
        dispatcher = webhooks.Dispatcher(editor, outbox, endpoints, flags_by_key)
        dispatcher.start()
    return build(schema, editor, config_source, user, dispatcher)


def _schema(flags: Any) -> FlagsSchema:
    from configgen.model import FlagsSchema

    if isinstance(flags, FlagsSchema):
        return flags
    from configgen.diagnostics import DiagnosticError
    from configgen.flags_reader import read_flags

    path = Path(flags)
    try:  # shown relative to where the server runs, as the command line shows paths
        shown = Path(os.path.relpath(path)).as_posix() if path.is_absolute() else path.as_posix()
    except ValueError:  # another drive (Windows)
        shown = path.as_posix()
    schema, diagnostics = read_flags(path, shown)
    if schema is None:
        raise DiagnosticError(diagnostics)
    return schema


def _config_source(config: Any) -> Any:
    if config is None:
        fixed = ServerConfig()
        return lambda: fixed
    if isinstance(config, ServerConfig):
        return lambda: config
    path = Path(config)
    cache: dict[str, Any] = {}

    def current() -> ServerConfig:
        try:
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except FileNotFoundError:
            stamp = None
        if cache.get("stamp") != stamp or "config" not in cache:
            cache["config"] = load(path)  # a broken edit raises: keep serving the last good one
            cache["stamp"] = stamp
        return cache["config"]  # type: ignore[no-any-return]

    def guarded() -> ServerConfig:
        try:
            return current()
        except ServerConfigError:
            if "config" in cache:
                return cache["config"]  # type: ignore[no-any-return]
            raise

    return guarded


__all__ = [
    "ROLES",
    "Proxy",
    "Role",
    "ServerConfig",
    "ServerConfigError",
    "Token",
    "User",
    "create_app",
    "load",
]
