"""``configgen serve`` and ``configgen auth user|token``: the operator server and its users."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from configgen.settings import load_settings


def add_parsers(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    serve = commands.add_parser(
        "serve", parents=[common], help="the web UI and JSON API to change flags (extra: server)"
    )
    serve.add_argument(
        "--server-config",
        type=Path,
        default=Path("server.toml"),
        metavar="FILE",
        help="users, tokens and settings (default: server.toml)",
    )
    serve.add_argument(
        "--store",
        metavar="URL",
        help="file://PATH, etcd://HOST:PORT/SERVICE or redis://HOST:PORT/DB "
        "(default: the server config's store, else file://flags-overrides.toml)",
    )
    serve.add_argument("--service", help="the service's name in Redis (default: the project's)")
    serve.add_argument("--host", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: 8400)")
    auth = commands.add_parser("auth", parents=[common], help="users and API tokens of the server")
    kinds = auth.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind, text in (
        ("user", "add or change a user (password from stdin)"),
        ("token", "make an API token (printed once)"),
    ):
        sub = kinds.add_parser(kind, help=text)
        sub.add_argument("name")
        sub.add_argument("--role", choices=("viewer", "editor", "admin"))
        sub.add_argument(
            "--file",
            type=Path,
            default=Path("server.toml"),
            metavar="FILE",
            help="the server config file (default: server.toml)",
        )
        sub.add_argument("--remove", action="store_true", help=f"remove the {kind}")


def serve(args: argparse.Namespace) -> int:
    from configgen.server import ServerConfigError, create_app, load

    try:
        import uvicorn
    except ImportError:
        print(
            "configgen: serve needs uvicorn: pip install 'python-configgen[server]'",
            file=sys.stderr,
        )
        return 1
    settings = load_settings(args.project)
    if settings.flags is None:
        print("configgen: no flags file: set 'flags' in [tool.configgen]", file=sys.stderr)
        return 1
    try:
        config = load(args.server_config)
    except ServerConfigError as exc:
        print(f"configgen: {exc}", file=sys.stderr)
        return 1
    if not config.users and not config.tokens and config.proxy is None:
        print(
            f"configgen: note: {args.server_config} has no users: add one with "
            f"'configgen auth user NAME --role editor --file {args.server_config}'"
        )
    store = args.store or config.store
    service = args.service or config.service or settings.project_name or settings.root.name
    try:
        app = create_app(
            settings.flags,
            store,
            args.server_config,
            service=service,
            bucketing=settings.bucketing,
        )
    except (ValueError, ImportError, OSError) as exc:
        print(f"configgen: {exc}", file=sys.stderr)
        return 1
    host, port = args.host or config.host, args.port if args.port is not None else config.port
    print(
        f"configgen: serving {settings.shown(settings.flags)} over {store} "
        f"on http://{host}:{port}/",
        flush=True,
    )
    forwarded = list(config.forwarded_allow_ips)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=bool(forwarded),
        forwarded_allow_ips=forwarded or None,
    )
    return 0


def auth(args: argparse.Namespace) -> int:
    from configgen.server import ServerConfigError
    from configgen.server._auth import hash_password, new_token
    from configgen.server._config import put_entry, remove_entry

    table = "users" if args.kind == "user" else "tokens"
    try:
        if args.remove:
            if not remove_entry(args.file, table, args.name):
                print(f"configgen: no {args.kind} {args.name!r} in {args.file}", file=sys.stderr)
                return 1
            print(f"configgen: removed {args.kind} {args.name} from {args.file}")
            return 0
        if args.role is None:
            print("configgen: give the role: --role viewer|editor|admin", file=sys.stderr)
            return 2
        if args.kind == "user":
            password = _read_password()
            if len(password) < 8:
                print("configgen: a password has at least 8 characters", file=sys.stderr)
                return 1
            entry = {"name": args.name, "role": args.role, "password": hash_password(password)}
            replaced = put_entry(args.file, "users", entry)
            print(
                f"configgen: {'changed' if replaced else 'added'} user {args.name} "
                f"({args.role}) in {args.file}"
            )
            return 0
        token, digest = new_token()
        replaced = put_entry(
            args.file, "tokens", {"name": args.name, "role": args.role, "hash": digest}
        )
        print(
            f"configgen: {'replaced' if replaced else 'added'} token {args.name} "
            f"({args.role}) in {args.file}; it is shown this once:",
            file=sys.stderr,
        )
        print(token)
        return 0
    except ServerConfigError as exc:
        print(f"configgen: {exc}", file=sys.stderr)
        return 1


def _read_password() -> str:
    """The password: typed at a terminal (twice), or the first line of standard input."""
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise SystemExit("configgen: the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")
