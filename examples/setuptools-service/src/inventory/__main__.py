"""Print the inventory service's typed configuration and flags."""

from __future__ import annotations

from inventory.configgen_config import load_config
from inventory.configgen_flags import Flags


def main() -> int:
    config = load_config()
    flags = Flags()
    print(
        f"inventory at {config.store_url}: sync every {config.sync.interval} s from {config.sync.sources}"
    )
    print(f"auto_reorder={flags.auto_reorder()} batch_size={flags.batch_size()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
