"""The `craftplane` command: run the local sandbox platform and mint development tokens."""

from __future__ import annotations

import argparse
import sys

from craftplane.sandbox.errors import SandboxError


def _sandbox(args: argparse.Namespace) -> int:
    import craftplane.sandbox.stack as stack
    from craftplane.sandbox.config import SandboxConfig

    cfg = SandboxConfig()
    if args.action == "up":
        stack.up(cfg, only=args.only)
    elif args.action == "down":
        stack.down(cfg)
    elif args.action == "status":
        report = stack.status(cfg)
        width = max(len(name) for name in report)
        for name, state in report.items():
            print(f"{name:<{width}}  {state}")
        return 0 if all(state.startswith("running") for state in report.values()) else 3
    elif args.action == "env":
        for key, value in stack.env(cfg).items():
            print(f"export {key}={value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="craftplane", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sandbox = sub.add_parser("sandbox", help="the local platform: control plane, NATS, PostgreSQL")
    sandbox.add_argument("action", choices=["up", "down", "status", "env"])
    sandbox.add_argument(
        "--only",
        choices=["services"],
        default=None,
        help="services: only the control plane, NATS and PostgreSQL (no operator or gateway)",
    )
    sandbox.set_defaults(func=_sandbox)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except SandboxError as exc:
        print(f"craftplane: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
