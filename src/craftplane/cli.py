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


def _fail(message: str) -> int:
    print(f"craftplane: error: {message}", file=sys.stderr)
    return 2


def _token_key() -> str:
    import os

    key = os.environ.get("CRAFTPLANE_TOKEN_KEY")
    if not key:
        from craftplane.sandbox import apps
        from craftplane.sandbox.config import SandboxConfig

        key = apps.token_key(SandboxConfig())
    return key


def _tenant_error(tenant: str) -> str | None:
    from craftplane import tokens

    if not tokens.is_valid_tenant(tenant):
        return f"{tenant!r} is not a valid tenant name"
    if tokens.is_reserved_tenant(tenant):
        return f"{tenant!r} is reserved for the platform, not a tenant name"
    return None


def _token(args: argparse.Namespace) -> int:
    if args.action == "revoke":
        return _revoke(args)
    import math
    from datetime import timedelta

    from craftplane import tokens

    error = _tenant_error(args.tenant)
    if error:
        return _fail(error)
    most = tokens.MAX_LIFETIME.total_seconds() / 3600
    if not math.isfinite(args.hours) or not 0 < args.hours <= most:
        return _fail(f"--hours must be more than 0 and at most {most:g}")
    print(tokens.mint(args.tenant, _token_key(), ttl=timedelta(hours=args.hours)))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    """Write a revocation the gateways pick up within seconds (their deny list cache)."""
    import asyncio
    import os
    from datetime import datetime

    error = _tenant_error(args.tenant)
    if error:
        return _fail(error)
    if (args.jti is None) == (args.all_before is None):
        return _fail("give exactly one of --jti or --all-before")
    before = None
    if args.all_before is not None:
        try:
            before = datetime.fromisoformat(args.all_before.replace("Z", "+00:00"))
        except ValueError:
            return _fail(f"--all-before {args.all_before!r} is not an ISO 8601 time")
        if before.tzinfo is None:
            return _fail("--all-before needs a time zone (e.g. 2030-01-01T00:00:00Z)")
    from craftplane_gateway.db import revocations

    dsn = os.environ.get("DATABASE_URL") or _sandbox_database_url()
    try:
        asyncio.run(revocations.revoke_with_dsn(dsn, args.tenant, jti=args.jti, before=before))
    except (OSError, revocations.RevocationError) as exc:
        return _fail(f"could not write the revocation: {exc}")
    print(f"revoked {'token ' + args.jti if args.jti else 'tokens issued before ' + str(before)}")
    return 0


def _sandbox_database_url() -> str:
    import craftplane.sandbox.stack as stack
    from craftplane.sandbox.config import SandboxConfig

    return stack.env(SandboxConfig())["DATABASE_URL"]


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
        "token",
        help=(
            "mint a tenant token (key from CRAFTPLANE_TOKEN_KEY, else the sandbox's), or revoke "
            "tokens (in the gateway's database: DATABASE_URL, else the sandbox's)"
        ),
    )
    token.add_argument("action", choices=["mint", "revoke"])
    token.add_argument("--tenant", required=True)
    token.add_argument("--hours", type=float, default=12, help="mint: how long it is valid")
    token.add_argument("--jti", default=None, help="revoke: the one token with this id")
    token.add_argument(
        "--all-before", default=None, help="revoke: every token issued before this ISO time"
    )
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
