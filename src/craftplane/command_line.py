"""A component's command line: configured by environment variables, so the only flags are
``--help`` (which lists those variables and their defaults) and ``--version``."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Mapping, Sequence
from importlib import metadata

from pydantic import BaseModel


def version_of(distribution: str) -> str:
    """The installed version of ``distribution``, else of the developers' project."""
    for name in (distribution, "craftplane"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            return metadata.version(name)
    return "unknown"


def _env_name(prefix: str, name: str, alias: object) -> str:
    # A field read from a shared variable (NATS_URL, CRAFTPLANE_GAME_DOMAIN) names it first.
    choices = getattr(alias, "choices", None)
    return str(choices[0]) if choices else f"{prefix}{name.upper()}"


def _default(factory: object, default: object) -> str:
    if factory is None:
        return repr(default)
    return "(empty)" if factory in (list, dict, set) else "(computed)"


def settings_help(settings: type[BaseModel]) -> str:
    """Every variable a pydantic-settings model reads, with its default."""
    config: Mapping[str, object] = settings.model_config
    prefix = str(config.get("env_prefix") or "")
    rows = [
        (
            _env_name(prefix, name, info.validation_alias),
            _default(info.default_factory, info.default),
        )
        for name, info in settings.model_fields.items()
    ]
    width = max((len(env) for env, _ in rows), default=0) + 2
    return "\n".join(
        ["settings (environment variables):"]
        + [f"  {env:{width}} default {default}" for env, default in rows]
    )


def parse_args(
    prog: str, description: str, settings: type[BaseModel], argv: Sequence[str] | None = None
) -> argparse.Namespace:
    """``argv`` read as ``prog``'s: ``--help`` and ``--version`` print and exit (code 0).
    ``prog`` is the name of the component's distribution too, whose version is shown."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=f"{description} Configured by environment variables, not flags.",
        epilog=settings_help(settings),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version_of(prog)}")
    return parser.parse_args(argv)
