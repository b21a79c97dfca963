"""Kubernetes resource quantities: validation, parsing and the JVM heap derived from one."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Final

# The grammar of k8s.io/apimachinery/pkg/api/resource, without a sign: a
# negative size or memory is never meaningful in a MinecraftServer. "E" alone
# is the exa suffix; followed by digits it is an exponent. [0-9] rather than
# \d because \d also matches non-ASCII digits in Python and Rust regexes. At most two
# exponent digits: the API server's own quantity parser overflows on a huge exponent and
# spins (kubernetes/kubernetes#131063), so no such string may reach a CEL quantity().
QUANTITY_PATTERN: Final = (
    r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]{1,2})?$"
)


def cel_quantity_guard(value: str) -> str:
    """CEL that is true when ``value`` is not a well-formed quantity; put it before any
    ``isQuantity``/``quantity`` call on tenant input. CEL rules run even when the field's
    pattern failed, and the API server's parser must never see a string the pattern refuses."""
    return f"!{value}.matches(r'{QUANTITY_PATTERN}') || !isQuantity({value})"


_QUANTITY_RE: Final = re.compile(QUANTITY_PATTERN)

_BINARY: Final = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL: Final = {"m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
# Beyond this a quantity is a typo, and huge exponents would make Decimal slow.
_MAX_EXPONENT: Final = 30

MIB: Final = 1024**2
MIN_MEMORY: Final = "512Mi"
# The JVM needs memory outside the heap (metaspace, code cache, thread stacks,
# direct buffers used by Netty); a container limited to exactly -Xmx is
# OOM-killed under load. A quarter of the limit, and never less than this
# floor, is left for it.
HEAP_FRACTION: Final = Decimal("0.75")
NON_HEAP_FLOOR_MB: Final = 256
MIN_HEAP_MB: Final = 256


class InvalidQuantity(ValueError):
    """Raised for a string that is not a non-negative Kubernetes quantity."""


def is_quantity(value: str) -> bool:
    """Whether ``value`` is a non-negative Kubernetes quantity such as ``2Gi`` or ``500m``."""
    return _QUANTITY_RE.fullmatch(value) is not None


def parse_quantity(value: str) -> Decimal:
    """The value of a quantity in base units (bytes for memory, cores for CPU)."""
    # fullmatch: Python's "$" would also accept a trailing newline.
    match = _QUANTITY_RE.fullmatch(value)
    if match is None:
        raise InvalidQuantity(f"{value!r} is not a Kubernetes quantity (e.g. 512Mi, 2Gi, 500m)")
    number = Decimal(match[1])
    suffix = match[3] or ""
    if suffix in _BINARY:
        return number * Decimal(1024 ** _BINARY[suffix])
    if suffix in _DECIMAL:
        return number.scaleb(_DECIMAL[suffix])
    try:
        exponent = int(suffix[1:])
    except ValueError as exc:  # pragma: no cover - the regex only lets digits through
        raise InvalidQuantity(f"{value!r} has a malformed exponent") from exc
    if abs(exponent) > _MAX_EXPONENT:
        raise InvalidQuantity(f"{value!r} has an unreasonable exponent")
    try:
        return number.scaleb(exponent)
    except InvalidOperation as exc:  # pragma: no cover - bounded exponent above
        raise InvalidQuantity(f"{value!r} is out of range") from exc


def to_bytes(value: str) -> int:
    """A memory or storage quantity in bytes, rounded up as Kubernetes does."""
    return math.ceil(parse_quantity(value))


def to_millicores(value: str) -> int:
    """A CPU quantity in millicores, rounded up as Kubernetes does."""
    return math.ceil(parse_quantity(value) * 1000)


def jvm_heap_mb(memory_limit: str) -> int:
    """The JVM heap (-Xmx, in MiB) to use in a container with this memory limit.

    75 % of the limit, but leaving at least NON_HEAP_FLOOR_MB for the JVM's
    non-heap memory, and never below MIN_HEAP_MB (a smaller heap cannot load
    a world at all; the spec refuses limits below MIN_MEMORY for that reason).
    """
    limit_mb = Decimal(to_bytes(memory_limit)) / MIB
    heap = min(limit_mb * HEAP_FRACTION, limit_mb - NON_HEAP_FLOOR_MB)
    return max(MIN_HEAP_MB, math.floor(heap))
