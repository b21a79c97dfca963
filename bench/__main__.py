"""`python -m bench <name> [options]` (`make bench BENCH_ARGS="operator --servers 200"`)."""

from __future__ import annotations

import sys


def main() -> None:
    names = {
        "operator": "bench.operator_scale",
        "projection": "bench.projection",
        "fanout": "bench.fanout",
        "scale": "bench.scale",
        "realnode": "bench.realnode",
        "backup": "bench.backup",
        "router": "bench.router",
    }
    if len(sys.argv) < 2 or sys.argv[1] not in names:
        print(f"usage: python -m bench {{{'|'.join(names)}}} [options]", file=sys.stderr)
        sys.exit(2)
    module = __import__(names[sys.argv[1]], fromlist=["main"])
    module.main(sys.argv[2:])


if __name__ == "__main__":
    main()
