"""What to tell the user of a server killed for its memory limit (pure).

An OOM kill means the JVM's heap plus its own memory outgrew the container's limit; raising
the limit a little only postpones the next kill, so the advice is a real step up: one and a
half times the limit, at least 512Mi more, in whole 256Mi steps.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Final

from craftplane.contracts.quantity import MIB, InvalidQuantity, to_bytes

GROWTH: Final = Decimal("1.5")
MIN_STEP_MB: Final = 512
ROUND_MB: Final = 256


def next_memory_mb(limit: str) -> int:
    """max(1.5 * limit, limit + 512Mi), rounded up to a multiple of 256Mi, in MiB."""
    limit_mb = Decimal(to_bytes(limit)) / MIB
    wanted = max(limit_mb * GROWTH, limit_mb + MIN_STEP_MB)
    return math.ceil(wanted / ROUND_MB) * ROUND_MB


def format_mb(mb: int) -> str:
    """A MiB count as a quantity: whole gibibytes as Gi, anything else as Mi."""
    return f"{mb // 1024}Gi" if mb % 1024 == 0 else f"{mb}Mi"


def oom_advice(limit: str | None) -> str:
    """The message of an OOMKilled server whose container had this memory limit."""
    try:
        suggested = format_mb(next_memory_mb(limit)) if limit else None
    except InvalidQuantity:
        suggested = None
    if suggested is None:
        return (
            "the container was killed for using more than its memory limit (OOMKilled); "
            "raise spec.resources.memory (or lower spec.resources.jvm.heap)"
        )
    return (
        f"the container was killed for using more than its {limit} memory limit "
        f"(OOMKilled); set spec.resources.memory to at least {suggested} "
        "(or lower spec.resources.jvm.heap)"
    )
