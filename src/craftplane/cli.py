"""The `craftplane` command: run the local sandbox platform, create tenants and mint tokens."""

from __future__ import annotations

import argparse
import sys
from typing import Any

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
    from craftplane import tenancy

    return tenancy.tenant_error(tenant)


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
    _tenant_parser(sub)
    return parser


TENANT_EPILOG = """\
The cluster is the one kubectl would use: $KUBECONFIG, else ~/.kube/config (for the
sandbox: eval "$(craftplane sandbox env)").

exit codes:
  0  done: applied (or, with --dry-run, printed); sync: every namespace it covers synced
  1  the API server refused part-way (some objects may be applied: fix and re-run),
     or sync could not sync some namespaces (the others are synced)
  2  nothing applied: a bad or reserved name, no such CraftplanePolicy, a namespace that
     is not this tenant's, or a cluster that cannot be reached or read
"""


def _tenant_parser(sub: Any) -> None:
    def described(parser: Any, name: str, text: str) -> argparse.ArgumentParser:
        made: argparse.ArgumentParser = parser.add_parser(
            name,
            help=text,
            description=text,
            epilog=TENANT_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        return made

    tenant = described(sub, "tenant", "tenant namespaces made from their CraftplanePolicy")
    actions = tenant.add_subparsers(dest="action", required=True)
    create = described(
        actions,
        "create",
        "create (or re-apply) tenant-NAME: namespace, quota and limits, network policies, RBAC",
    )
    create.add_argument("name", help="the tenant (its namespace is tenant-NAME)")
    create.add_argument(
        "--policy", default=None, help="its CraftplanePolicy (default: the one named default)"
    )
    create.add_argument("--dry-run", action="store_true", help="print the YAML, apply nothing")
    sync = described(
        actions, "sync", "re-apply every tenant namespace's quota and limits from its policy"
    )
    sync.add_argument("tenants", nargs="*", metavar="NAME", help="only these tenants")
    sync.add_argument("--policy", default=None, help="only the tenants on this CraftplanePolicy")
    tenant.set_defaults(func=_tenant)


def _tenant(args: argparse.Namespace) -> int:
    from craftplane import tenant_cli

    return tenant_cli.run(args)


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
