"""The service side of the Temporal tests: the worker's flags, as an application holds them.

Workflow code imports this module through the sandbox (``imports_passed_through``), so the
workflow that reads a getter directly reads the worker's own ``Flags``, the way an
application's workflow could by mistake.
"""

from __future__ import annotations

from ffapp.configgen_flags import Flags, MemoryStore

store = MemoryStore()
flags = Flags(store)
