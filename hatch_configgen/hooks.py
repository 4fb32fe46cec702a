"""Registration with Hatch (the ``hatch`` entry point)."""

from __future__ import annotations

from hatchling.plugin import hookimpl

from hatch_configgen.plugin import ConfigGenBuildHook


@hookimpl
def hatch_register_build_hook() -> type[ConfigGenBuildHook]:
    return ConfigGenBuildHook
