"""Print the service's typed configuration, as loaded from defaults, a file and the environment."""

from __future__ import annotations

import sys

from service.configgen_config import ConfigError, load_config


def main() -> int:
    try:
        config = load_config()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"service {config.name!r}: listening on {config.server.host}:{config.server.port}")
    print(f"  tls enabled:   {config.server.tls.enabled}")
    print(f"  timeout:       {config.server.timeout} s ({type(config.server.timeout).__name__})")
    print(f"  database:      {config.database!r}")
    print(f"  labels:        {dict(config.labels)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
