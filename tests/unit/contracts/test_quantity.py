from __future__ import annotations

from decimal import Decimal

import pytest

from craftplane.contracts.quantity import (
    InvalidQuantity,
    is_quantity,
    jvm_heap_mb,
    parse_quantity,
    to_bytes,
    to_millicores,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", Decimal(0)),
        ("1", Decimal(1)),
        ("1.5", Decimal("1.5")),
        (".5", Decimal("0.5")),
        ("1.", Decimal(1)),
        ("500m", Decimal("0.5")),
        ("1k", Decimal(1000)),
        ("1Ki", Decimal(1024)),
        ("512Mi", Decimal(512 * 1024**2)),
        ("2Gi", Decimal(2 * 1024**3)),
        ("1.5Gi", Decimal(3 * 1024**3 // 2)),
        ("1G", Decimal(10**9)),
        ("1E", Decimal(10**18)),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),
        ("5e-3", Decimal("0.005")),
    ],
)
def test_parse_quantity(text: str, expected: Decimal) -> None:
    assert is_quantity(text)
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(
    "text", ["", "-1Gi", "+1Gi", "2Gx", "Gi", "1 Gi", "1gi", "1.2.3", "2Gi\n", "١٢", "1e99"]
)
def test_invalid_quantities(text: str) -> None:
    with pytest.raises(InvalidQuantity):
        parse_quantity(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1), ("1Ki", 1024), ("2Gi", 2 * 1024**3), ("1.1", 2), ("100m", 1)],
)
def test_to_bytes_rounds_up(text: str, expected: int) -> None:
    assert to_bytes(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1000), ("500m", 500), ("0.25", 250), ("2", 2000), ("0.0001", 1)],
)
def test_to_millicores(text: str, expected: int) -> None:
    assert to_millicores(text) == expected


@pytest.mark.parametrize(
    ("limit", "heap_mb"),
    [
        ("512Mi", 256),  # the floor of non-heap memory dominates small limits
        ("768Mi", 512),
        ("1Gi", 768),
        ("2Gi", 1536),
        ("4Gi", 3072),
        ("16Gi", 12288),
        ("1G", 697),  # decimal units: 953.67 MiB - 256, rounded down
        ("256Mi", 256),  # never below the minimum heap, even if the spec would refuse it
    ],
)
def test_jvm_heap_leaves_headroom(limit: str, heap_mb: int) -> None:
    assert jvm_heap_mb(limit) == heap_mb


@pytest.mark.parametrize("limit", ["512Mi", "1Gi", "1500Mi", "2Gi", "3G", "8Gi", "64Gi"])
def test_jvm_heap_always_below_limit_by_the_non_heap_floor(limit: str) -> None:
    assert jvm_heap_mb(limit) <= to_bytes(limit) / 1024**2 - 256
