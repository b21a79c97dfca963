"""Settings checked once at start-up: a component with a bad setting refuses to start.

A setting that is wrong (a signing key too short for HS256, a URL with the wrong scheme)
otherwise surfaces much later as a 500 on every request or a reconnect loop in the logs.
Failing at once, with the name of the setting and exit code 2, points the operator of the
platform at the fix.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Final, TypeVar
from urllib.parse import urlsplit

from pydantic import ValidationError

# Like argparse: 2 means "you called me wrongly", not "I crashed".
EXIT_INVALID_SETTINGS: Final = 2

NATS_SCHEMES: Final = ("nats", "tls", "ws", "wss")
DATABASE_SCHEMES: Final = ("postgresql", "postgres")

S = TypeVar("S")


def url_errors(setting: str, value: str, schemes: Iterable[str], *, host: bool) -> list[str]:
    """What is wrong with a URL setting (comma-separated lists allowed), naming the setting."""
    allowed = tuple(schemes)
    errors: list[str] = []
    for url in value.split(","):
        try:
            parts = urlsplit(url.strip())
            parts.port  # noqa: B018 - parsing the port is the check: it raises on garbage
        except ValueError as exc:
            errors.append(f"{setting}: {url.strip()!r} is not a URL ({exc})")
            continue
        if parts.scheme not in allowed:
            errors.append(
                f"{setting}: {url.strip()!r} must start with one of "
                + ", ".join(f"{s}://" for s in allowed)
            )
        elif host and not parts.hostname:
            errors.append(f"{setting}: {url.strip()!r} names no host")
    return errors


def _describe(exc: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)
    ]


def load_or_exit(program: str, load: Callable[[], S], check: Callable[[S], list[str]]) -> S:
    """The settings ``load`` returns, or exit with code 2 listing every invalid setting."""
    try:
        settings = load()
    except ValidationError as exc:
        errors = _describe(exc)
    else:
        errors = check(settings)
        if not errors:
            return settings
    print(f"{program}: refusing to start: invalid settings", file=sys.stderr)
    for error in errors:
        print(f"  {error}", file=sys.stderr)
    raise SystemExit(EXIT_INVALID_SETTINGS)
