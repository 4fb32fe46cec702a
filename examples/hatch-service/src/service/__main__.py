"""Print the service's typed configuration and flags.

``service`` loads the configuration (defaults, then $SERVICE_CONFIG_FILE, then SERVICE_*
variables) and evaluates its flags over the overrides in $SERVICE_FLAGS_FILE, if set.
"""

from __future__ import annotations

import os
import sys

from service.configgen_config import ConfigError, load_config
from service.configgen_flags import EvaluationContext, FileStore, Flags, MemoryStore


def main() -> int:
    try:
        config = load_config()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    overrides = os.environ.get("SERVICE_FLAGS_FILE")
    flags = Flags(FileStore(overrides) if overrides else MemoryStore())

    print(f"service {config.name!r}: listening on {config.server.host}:{config.server.port}")
    print(f"  tls enabled:   {config.server.tls.enabled}")
    print(f"  timeout:       {config.server.timeout} s ({type(config.server.timeout).__name__})")
    print(f"  database:      {config.database!r}")
    print(f"  labels:        {dict(config.labels)}")
    print("flags:")
    print(f"  ui.theme:                 {flags.ui.theme()!r}")
    for user in ("alice", "bob", "dave"):
        ctx = EvaluationContext(user)
        print(
            f"  for {user:<6} new_checkout={flags.new_checkout(ctx)!s:<5}"
            f" search.new_ranker={flags.search.new_ranker(ctx)}"
        )
    keys = [EvaluationContext(f"user-{i}") for i in range(1000)]
    print(f"  search.new_ranker is on for {sum(map(flags.search.new_ranker, keys))} of 1000 users")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
