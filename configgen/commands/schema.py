"""``configgen schema``: JSON Schemas of config.toml (and the files ``load_config`` reads
over it) and of flags.toml, for editors that check TOML against a schema."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from configgen.config_reader import read_config
from configgen.diagnostics import Diagnostic, print_diagnostics
from configgen.flags_reader import read_flags
from configgen.json_schema import config_schema, dumps, flags_schema
from configgen.output import read_text, write_files
from configgen.settings import Settings, load_settings

SUFFIX = ".schema.json"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser],
               common: argparse.ArgumentParser) -> None:  # fmt: skip
    sub = commands.add_parser(
        "schema",
        parents=[common],
        help="write JSON Schemas of config.toml and flags.toml for editors",
    )
    sub.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        metavar="DIR",
        help="write the schemas into DIR (default: beside each TOML file, as NAME.schema.json)",
    )
    sub.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if a schema is missing or out of date",
    )


def schema_path(toml: Path, output_dir: Path | None) -> Path:
    """Where the schema of *toml* goes: ``config.toml`` -> ``config.schema.json``."""
    return (output_dir if output_dir is not None else toml.parent) / (toml.stem + SUFFIX)


def render_schemas(
    settings: Settings, output_dir: Path | None
) -> tuple[dict[Path, str], list[Diagnostic]]:
    """Each schema file and its text; or, when an input is invalid, its problems."""
    config, problems = read_config(
        settings.config, settings.shown(settings.config), settings.env_prefix
    )
    if settings.flags is not None:
        problems += read_flags(settings.flags, settings.shown(settings.flags))[1]
    if config is None or problems:
        return {}, problems
    config_path = schema_path(settings.config, output_dir)
    files = {config_path: dumps(config_schema(config))}
    if settings.flags is not None:
        flags_path = schema_path(settings.flags, output_dir)
        if flags_path == config_path:
            shown = settings.shown(config_path)
            return {}, [Diagnostic(settings.shown(settings.flags), 1, 1, "",
                                   f"its schema and the schema of {settings.shown(settings.config)} "
                                   f"would both be {shown}: the two files need different names "
                                   "to share a DIR")]  # fmt: skip
        files[flags_path] = dumps(flags_schema())
    return files, []


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.project)
    output_dir = args.output_dir.resolve() if args.output_dir is not None else None
    files, problems = render_schemas(settings, output_dir)
    if problems:
        print_diagnostics(problems)
        return 1
    if args.check:
        ret = 0
        for path, text in files.items():
            current = read_text(path)
            if current != text:
                state = "missing" if current is None else "out of date"
                print(f"{settings.shown(path)}: {state}; run 'configgen schema'", file=sys.stderr)
                ret = 1
        return ret
    if output_dir is not None and not output_dir.is_dir():
        print(f"configgen: {settings.shown(output_dir)}: no such directory", file=sys.stderr)
        return 1
    try:
        written = write_files(files)
    except OSError as exc:
        print(f"configgen: cannot write the schemas: {exc.strerror or exc}; no schema was "
              "changed", file=sys.stderr)  # fmt: skip
        return 1
    for path in written:
        print(f"configgen: wrote {settings.shown(path)}")
    return 0
