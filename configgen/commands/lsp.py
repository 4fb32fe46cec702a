"""``configgen lsp``: the language server, on standard input and output (pygls, the ``lsp``
extra)."""

from __future__ import annotations

import argparse


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = commands.add_parser(
        "lsp",
        help="the language server for editors: diagnostics, hover, references, definitions "
        "and completion (needs python-configgen[lsp])",
    )
    sub.set_defaults(project=None)  # each document finds its own project
    sub.add_argument("--stdio", action="store_true",
                     help="talk on standard input and output (the default and only way)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from configgen.lsp import main

    return main()
