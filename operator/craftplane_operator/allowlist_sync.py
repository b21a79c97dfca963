"""Allowlist and ops, live over RCON (pure): what the server reports, what to run, and what
the AllowlistSynced condition says.

Vanilla RCON lists the allowlist (`whitelist list`) but not the ops, so ops are diffed
against the set the operator last applied (kept in an annotation on the CR), and whether the
allowlist is switched on is remembered there too. Minecraft names are case-insensitive:
every comparison is on lower-cased names, commands use the spec's spelling.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from craftplane.contracts.lifecycle import AllowlistMode
from craftplane.contracts.status import ConditionStatus

LIST_COMMAND: Final = "whitelist list"
# What the operator last applied on the running server: {"ops": [...], "enabled": bool}.
APPLIED_ANNOTATION: Final = "craftplane.io/applied-access"

REASON_SYNCED: Final = "Synced"
REASON_DRIFT_REVERTED: Final = "DriftReverted"
REASON_DRIFT_KEPT: Final = "DriftKept"
REASON_RCON_UNAVAILABLE: Final = "RconUnavailable"
REASON_NOT_RUNNING: Final = "NotRunning"
REASON_NOT_CONFIRMED: Final = "NotConfirmed"

_NONE = re.compile(r"There are no whitelisted players", re.IGNORECASE)
# "There are 2 whitelisted player(s): a, b" (vanilla 1.13+, also "players"); older vanilla
# says "There are 2 (out of 3 seen) whitelisted players:".
_SOME = re.compile(
    r"There are (\d+)(?: \(out of \d+ seen\))? whitelisted players?(?:\(s\))?:?(.*)",
    re.IGNORECASE | re.DOTALL,
)


class UnrecognizedOutput(ValueError):
    """The server answered `whitelist list` with something this parser does not know."""


def parse_whitelist(output: str) -> list[str]:
    """The names in a `whitelist list` answer, in the server's order."""
    text = output.strip()
    if _NONE.search(text):
        return []
    match = _SOME.search(text)
    if match is None:
        raise UnrecognizedOutput(f"not a whitelist listing: {text[:120]!r}")
    names = [n.strip() for n in re.split(r"[,\s]+", match.group(2)) if n.strip()]
    if int(match.group(1)) != len(names):
        # Vanilla truncates long RCON answers; a partial list must not read as drift.
        raise UnrecognizedOutput(f"listing says {match.group(1)} names but holds {len(names)}")
    return names


@dataclass(frozen=True)
class Applied:
    """What the operator last applied to the running server (from the annotation)."""

    ops: tuple[str, ...] = ()
    enabled: bool | None = None  # None: never switched by the operator
    # The allowlist the operator last applied: a name it put there and the spec dropped is a
    # removal, not drift. None: not recorded yet (every extra name reads as drift).
    allowlist: tuple[str, ...] | None = None

    def encode(self) -> str:
        data: dict[str, Any] = {"ops": sorted(self.ops), "enabled": self.enabled}
        if self.allowlist is not None:
            data["allowlist"] = sorted(self.allowlist)
        return json.dumps(data, sort_keys=True)


def read_applied(annotations: Mapping[str, str]) -> Applied:
    raw = annotations.get(APPLIED_ANNOTATION)
    if not raw:
        return Applied()
    try:
        data: Any = json.loads(raw)
        ops = tuple(str(n) for n in data.get("ops") or [])
        enabled = data.get("enabled")
        listed = data.get("allowlist")
        allowlist = None if listed is None else tuple(str(n) for n in listed)
    except (ValueError, AttributeError, TypeError):
        return Applied()  # edited by hand into garbage: start from nothing known
    enabled = enabled if isinstance(enabled, bool) else None
    return Applied(ops=ops, enabled=enabled, allowlist=allowlist)


@dataclass(frozen=True)
class Desired:
    """The spec's side: what the server should allow and who is op."""

    allowlist: tuple[str, ...]
    ops: tuple[str, ...]
    mode: AllowlistMode


@dataclass(frozen=True)
class SyncPlan:
    commands: tuple[str, ...]
    drift: tuple[str, ...]  # on the server, not in the spec (added in game)
    applied: Applied  # what the annotation says once the commands ran


def _folded(names: Iterable[str]) -> dict[str, str]:
    return {n.lower(): n for n in names}


def plan_sync(desired: Desired, listed: Sequence[str], applied: Applied) -> SyncPlan:
    """The commands that make the server say what the spec says."""
    want = _folded(desired.allowlist)
    have = _folded(listed)
    ours = _folded(applied.allowlist or ())
    extra = sorted(key for key in have if key not in want)
    dropped = tuple(have[key] for key in extra if key in ours)  # removed from the spec
    drift = tuple(sorted(have[key] for key in extra if key not in ours))  # added in game
    commands = [f"whitelist add {want[key]}" for key in sorted(want) if key not in have]
    commands += [f"whitelist remove {name}" for name in dropped]
    if desired.mode is AllowlistMode.ENFORCE:
        commands += [f"whitelist remove {name}" for name in drift]
    want_ops = _folded(desired.ops)
    had_ops = _folded(applied.ops)
    commands += [f"op {want_ops[key]}" for key in sorted(want_ops) if key not in had_ops]
    commands += [f"deop {had_ops[key]}" for key in sorted(had_ops) if key not in want_ops]
    # In merge mode names kept from the game keep the list non-empty: it stays on.
    enabled = bool(want) or (desired.mode is AllowlistMode.MERGE and bool(drift))
    if applied.enabled is not enabled:
        commands.append("whitelist on" if enabled else "whitelist off")
    applied_now = Applied(tuple(sorted(desired.ops)), enabled, tuple(sorted(desired.allowlist)))
    return SyncPlan(tuple(commands), drift, applied_now)


def confirmed(desired: Desired, listed: Sequence[str]) -> list[str]:
    """What is still missing (or, enforcing, still extra) after the commands ran."""
    want = _folded(desired.allowlist)
    have = _folded(listed)
    wrong = [want[key] for key in sorted(want) if key not in have]
    if desired.mode is AllowlistMode.ENFORCE:
        wrong += [have[key] for key in sorted(have) if key not in want]
    return wrong


@dataclass(frozen=True)
class SyncOutcome:
    """The AllowlistSynced condition after one sync, and the drift it found."""

    status: ConditionStatus
    reason: str
    message: str
    drift: tuple[str, ...] = ()


def outcome(mode: AllowlistMode, drift: Sequence[str], wrong: Sequence[str]) -> SyncOutcome:
    if wrong:
        return SyncOutcome(
            ConditionStatus.FALSE,
            REASON_NOT_CONFIRMED,
            f"the server's allowlist still differs from the spec for: {', '.join(wrong)}",
            tuple(drift),
        )
    if drift and mode is AllowlistMode.ENFORCE:
        names = ", ".join(drift)
        message = f"removed names added in game (not in spec.allowlist): {names}"
        return SyncOutcome(ConditionStatus.TRUE, REASON_DRIFT_REVERTED, message, tuple(drift))
    if drift:
        names = ", ".join(drift)
        message = f"kept names added in game (allowlistMode merge): {names}"
        return SyncOutcome(ConditionStatus.TRUE, REASON_DRIFT_KEPT, message, tuple(drift))
    return SyncOutcome(ConditionStatus.TRUE, REASON_SYNCED, "allowlist and ops match the spec")


def unavailable(error: str) -> SyncOutcome:
    return SyncOutcome(
        ConditionStatus.UNKNOWN, REASON_RCON_UNAVAILABLE, f"RCON unavailable: {error}"[:1000]
    )
