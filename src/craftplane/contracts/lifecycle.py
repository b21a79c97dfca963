"""How a server stops, restarts and is maintained: the `spec.lifecycle` part of the spec,
the JVM settings of `spec.resources.jvm`, and the annotation that asks for a restart.

One shutdown path: the image's own SIGTERM handling saves the world within its stop
duration (`stopGracePeriodSeconds`), and the pod's grace period is that plus a margin, so
the kubelet's SIGKILL never lands mid-save.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import Field, StringConstraints, field_validator

from craftplane.contracts.base import ApiModel, cel_rule, cel_rules

# `kubectl annotate mcs/<name> craftplane.io/restart-requested-at=<RFC 3339 time>` (or
# `POST /servers/{name}/restart`) asks for one restart; the operator restarts once per new
# value and records the value it acted on in status.lastRestart.
RESTART_REQUEST_ANNOTATION: Final = "craftplane.io/restart-requested-at"
# Who asked, beside the request (the gateway writes its token's subject); informational.
RESTART_REQUESTER_ANNOTATION: Final = "craftplane.io/restart-requested-by"

DEFAULT_STOP_SECONDS: Final = 60
MIN_STOP_SECONDS: Final = 10
MAX_STOP_SECONDS: Final = 1800
# Between the image's own stop deadline and the kubelet's SIGKILL: tini forwarding the
# signal, the JVM's shutdown hooks, the kubelet's own latency.
GRACE_MARGIN_SECONDS: Final = 15
MAX_ANNOUNCE_SECONDS: Final = 600
DEFAULT_MAX_DELAY_MINUTES: Final = 240
# Five fields (minute hour day-of-month month day-of-week); the operator parses it with
# cronsim, this pattern only keeps the CRD from accepting obvious garbage.
CRON_PATTERN: Final = r"^\s*([0-9A-Za-z*/,?-]+\s+){4}[0-9A-Za-z*/,?-]+\s*$"
TIME_ZONE_PATTERN: Final = r"^[A-Za-z][A-Za-z0-9_+/-]*$"
JVM_FLAG_PATTERN: Final = r"^-[A-Za-z0-9:+=._/,%-]+$"
# Flags that load or run code the image did not ship (agents, native libraries, commands on a
# JVM error): on a shared node that is arbitrary code under the server's identity.
FORBIDDEN_JVM_FLAG_PREFIXES: Final = (
    "-javaagent",
    "-agentpath",
    "-agentlib",
    "-Xbootclasspath",
    "-XX:OnError",
    "-XX:OnOutOfMemoryError",
    "-Djava.library.path",
)


JvmFlag = Annotated[str, StringConstraints(pattern=JVM_FLAG_PATTERN, max_length=256)]


class AllowlistMode(StrEnum):
    """Whether the spec's allowlist and ops are the whole truth or a minimum."""

    ENFORCE = "enforce"
    MERGE = "merge"


def parsed_cron(cron: str) -> str:
    """The cron expression, stripped, if cronsim (what the operator runs on) reads it."""
    try:
        CronSim(cron.strip(), datetime(2026, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        raise ValueError(f"not a cron expression: {exc}") from exc
    return cron.strip()


def known_zone(zone: str) -> str:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{zone} is not an IANA time zone") from exc
    return zone


class RestartSchedule(ApiModel):
    """A recurring restart, like a cron job, done by the operator (no host cron needed)."""

    cron: str = Field(
        pattern=CRON_PATTERN,
        max_length=128,
        description=(
            "When to restart, as five cron fields (minute hour day-of-month month "
            "day-of-week), e.g. '0 4 * * *' for 04:00 every day."
        ),
    )
    time_zone: str = Field(
        default="UTC",
        pattern=TIME_ZONE_PATTERN,
        max_length=64,
        description="IANA time zone the cron fields are read in, e.g. Europe/Berlin.",
    )
    when_empty_only: bool = Field(
        default=False,
        description=(
            "Wait at the slot until no player is online (up to maxDelayMinutes), instead of "
            "restarting with a countdown for the players online."
        ),
    )
    max_delay_minutes: int = Field(
        default=DEFAULT_MAX_DELAY_MINUTES,
        ge=1,
        le=1440,
        description=(
            "With whenEmptyOnly: restart anyway (with the countdown) this long after the slot "
            "when players never left."
        ),
    )

    @field_validator("cron")
    @classmethod
    def _parses(cls, cron: str) -> str:
        return parsed_cron(cron)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        return known_zone(zone)


class Lifecycle(ApiModel):
    """Stops, restarts and scheduled maintenance."""

    stop_grace_period_seconds: int = Field(
        default=DEFAULT_STOP_SECONDS,
        ge=MIN_STOP_SECONDS,
        le=MAX_STOP_SECONDS,
        description=(
            "How long the server may take to save and stop (the image's STOP_DURATION); the "
            f"pod's grace period is this plus {GRACE_MARGIN_SECONDS} s, so a large world is "
            "never killed mid-save."
        ),
    )
    announce_seconds: int = Field(
        default=0,
        ge=0,
        le=MAX_ANNOUNCE_SECONDS,
        description=(
            "Before a stop, restart or version change while players are online, count down "
            "in game this long (a 'say' countdown over RCON), then save, then stop. 0 stops "
            "at once (after the save)."
        ),
    )
    restart_schedule: RestartSchedule | None = Field(
        default=None, description="A recurring restart; status.nextRestart shows the next slot."
    )


class Jvm(ApiModel):
    """JVM settings for users who know better than the derived defaults."""

    heap: str | None = Field(
        default=None,
        pattern=r"^[0-9]{1,6}[MG]$",
        description=(
            "Explicit heap (-Xms/-Xmx) such as 3G or 1536M. By default it is derived from the "
            "memory limit (75%, leaving at least 256Mi for the JVM's own memory)."
        ),
    )
    flags: list[JvmFlag] = Field(
        default=[],
        max_length=50,
        description=(
            "Extra JVM flags (JVM_XX_OPTS), each starting with '-', e.g. -XX:+UseZGC. Flags that "
            "load code (" + ", ".join(FORBIDDEN_JVM_FLAG_PREFIXES) + ") are refused."
        ),
        json_schema_extra=cel_rules(
            cel_rule(
                "self.all(f, "
                + " && ".join(f"!f.startsWith('{p}')" for p in FORBIDDEN_JVM_FLAG_PREFIXES)
                + ")",
                "flags must not load agents, native libraries or commands ("
                + ", ".join(FORBIDDEN_JVM_FLAG_PREFIXES)
                + ")",
                reason="FieldValueForbidden",
            )
        ),
    )
    aikar_flags: bool | None = Field(
        default=None,
        description=(
            "Aikar's G1 tuning flags (USE_AIKAR_FLAGS). Default: on from 2 CPUs, where G1's "
            "concurrent collector has a core to run on."
        ),
    )

    @field_validator("flags")
    @classmethod
    def _flags(cls, flags: list[str]) -> list[str]:
        for flag in flags:
            if flag.startswith(FORBIDDEN_JVM_FLAG_PREFIXES):
                raise ValueError(f"{flag} loads code the image did not ship: refused")
            if flag.startswith(("-Xmx", "-Xms")):
                raise ValueError("set the heap with jvm.heap, not -Xmx/-Xms in flags")
        return flags
