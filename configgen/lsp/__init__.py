"""The language server, ``configgen lsp``: diagnostics, hover, references, definitions and
completion for config.toml, flags.toml, ``[tool.configgen]`` and the Python code that reads
the flags.

`configgen.lsp.analysis` answers every question from the generator's own readers and
`configgen.references`, and imports nothing optional; `configgen.lsp.server` speaks the
protocol with pygls (``pip install 'python-configgen[lsp]'``).
"""

from __future__ import annotations

EXTRA_MESSAGE = (
    "configgen lsp needs pygls, which is not installed: pip install 'python-configgen[lsp]'"
)


def main() -> int:
    """Serve the protocol on standard input and output until the client says exit."""
    try:
        import pygls  # noqa: F401
    except ImportError:
        import sys

        print(f"configgen: {EXTRA_MESSAGE}", file=sys.stderr)
        return 1
    from configgen.lsp.server import serve

    serve()
    return 0
