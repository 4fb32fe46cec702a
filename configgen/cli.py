"""The ``configgen`` command line: argparse wiring only; each command is its own module."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from configgen import __version__
from configgen.commands import (
    check,
    diff,
    flags,
    generate,
    init,
    lsp,
    schema,
    serve,
    validate,
    watch,
)
from configgen.diagnostics import print_diagnostics
from configgen.settings import ProjectNotFoundError, SettingsError, find_project, locate_project

COMMANDS = {
    "auth": serve.auth,
    "check": check.run,
    "diff": diff.run,
    "flags": flags.run,
    "generate": generate.run,
    "init": init.run,
    "lsp": lsp.run,
    "schema": schema.run,
    "serve": serve.serve,
    "validate": validate.run,
    "watch": watch.run,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="configgen",
        description="Typed Python modules from config.toml and flags.toml.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--project",
        type=Path,
        default=None,
        metavar="DIR",
        help="the project directory, holding pyproject.toml (default: the nearest folder, "
        "the current one or one above it, whose pyproject.toml has [tool.configgen])",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub = commands.add_parser("init", parents=[common], help="write starter inputs and settings")
    sub.add_argument(
        "dir", nargs="?", type=Path, help="where (default: --project, or the current folder)"
    )
    sub.add_argument(
        "--backend",
        choices=("hatch", "setuptools"),
        help="the build backend to set up when pyproject.toml has no [build-system] "
        "(default: hatch)",
    )
    sub.add_argument(
        "--package",
        metavar="NAME",
        help="the import package to create (default: the folder's name as an identifier)",
    )
    commands.add_parser("generate", parents=[common], help="write the generated modules")
    sub = commands.add_parser("validate", parents=[common], help="check inputs, write nothing")
    sub.add_argument(
        "files",
        nargs="*",
        type=Path,
        metavar="FILES",
        help="TOML files to check (default: those in [tool.configgen])",
    )
    sub.add_argument(
        "--strict", action="store_true", help="treat warnings (expired flags) as errors"
    )
    commands.add_parser(
        "check", parents=[common], help="exit 1 if generated modules are missing or out of date"
    )
    commands.add_parser("diff", parents=[common], help="show what 'generate' would change")
    flags.add_parser(commands, common)
    schema.add_parser(commands, common)
    serve.add_parsers(commands, common)
    lsp.add_parser(commands)
    commands.add_parser(
        "watch", parents=[common], help="regenerate on every change of the inputs (Ctrl-C stops)"
    )
    return parser


def _find_project(args: argparse.Namespace) -> None:
    """Without ``--project``, use the nearest project at or above the current folder."""
    if args.project is not None:
        return
    here = Path.cwd()
    if args.command in ("init", "auth", "lsp"):
        args.project = Path(".")  # init starts a project here; auth and lsp need none
    elif args.command == "validate" and args.files:
        args.project = find_project(here) or here  # only for the env-prefix, when there is one
    else:
        args.project = locate_project(here)
        if args.project != here.resolve():
            print(f"configgen: project {args.project}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 invalid or stale, 2 usage)."""
    args = build_parser().parse_args(argv)
    try:
        _find_project(args)
        return COMMANDS[args.command](args)
    except ProjectNotFoundError as exc:
        print(f"configgen: {exc}", file=sys.stderr)
        return 1
    except SettingsError as exc:
        print_diagnostics(exc.diagnostics)
        return 1
    except KeyboardInterrupt:
        print("configgen: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `configgen diff | head`: the reader left, nothing to report
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the interpreter's final flush is quiet
        return 1
