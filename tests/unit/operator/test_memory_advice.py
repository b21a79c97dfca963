"""The memory to ask for after an OOM kill: the next size up, in whole 256Mi steps."""

from __future__ import annotations

import pytest

from craftplane_operator.memory_advice import format_mb, next_memory_mb, oom_advice

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("limit", "suggested"),
    [
        ("512Mi", "1Gi"),  # +512Mi beats 1.5x below 1Gi
        ("768Mi", "1280Mi"),
        ("1Gi", "1536Mi"),  # equal: 1.5x = +512Mi
        ("1500Mi", "2304Mi"),  # 2250Mi rounded up to 9 x 256Mi
        ("2Gi", "3Gi"),
        ("3G", "4352Mi"),  # decimal: 2861.02Mi x 1.5 = 4291.5Mi -> 17 x 256Mi
        ("4Gi", "6Gi"),
        ("10Gi", "15Gi"),
        ("1073741824", "1536Mi"),  # plain bytes
    ],
)
def test_next_size_up(limit: str, suggested: str) -> None:
    assert format_mb(next_memory_mb(limit)) == suggested
    assert next_memory_mb(limit) % 256 == 0


def test_the_message_names_the_limit_and_the_size_to_ask_for() -> None:
    assert oom_advice("1Gi") == (
        "the container was killed for using more than its 1Gi memory limit (OOMKilled); set "
        "spec.resources.memory to at least 1536Mi (or lower spec.resources.jvm.heap)"
    )


@pytest.mark.parametrize("limit", [None, "", "a lot"])
def test_without_a_readable_limit_the_advice_is_general(limit: str | None) -> None:
    message = oom_advice(limit)
    assert "OOMKilled" in message and "raise spec.resources.memory" in message
