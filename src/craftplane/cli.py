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
        # `up --only services` starts no operator or gateway: "not started" is not a failure.
        healthy = all(state.startswith(("running", "not started")) for state in report.values())
        return 0 if healthy else 3
    elif args.action == "env":
        for key, value in stack.env(cfg).items():
            print(f"export {key}={value}")
    return 0


def _token(args: argparse.Namespace) -> int:
    import os
    from datetime import timedelta

    from craftplane import tokens

    key = os.environ.get("CRAFTPLANE_TOKEN_KEY")
    if not key:
        from craftplane.sandbox import apps
        from craftplane.sandbox.config import SandboxConfig

        key = apps.token_key(SandboxConfig())
    if not tokens.is_valid_tenant(args.tenant):
        print(f"craftplane: error: {args.tenant!r} is not a valid tenant name", file=sys.stderr)
        return 2
    print(tokens.mint(args.tenant, key, ttl=timedelta(hours=args.hours)))
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
    token = sub.add_parser(
        "token", help="mint a tenant token (key from CRAFTPLANE_TOKEN_KEY, else the sandbox's)"
    )
    token.add_argument("action", choices=["mint"])
    token.add_argument("--tenant", required=True)
    token.add_argument("--hours", type=float, default=12)
    token.set_defaults(func=_token)
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
