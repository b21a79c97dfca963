"""The stream the operator creates takes every subject the contracts lay out."""

from __future__ import annotations

import pytest

from craftplane.contracts.events import STREAM_SUBJECTS, EventType, subject, subject_filter
from craftplane_operator.publisher import stream_config
from tests.unit.contracts.test_event_vocabulary import nats_match

pytestmark = pytest.mark.unit


def test_the_stream_takes_every_subject_and_every_consumer_filter() -> None:
    config = stream_config()
    assert config.subjects == STREAM_SUBJECTS
    # The gateway's projector and live feed subscribe with subject_filter(): all of it.
    assert subject_filter() in STREAM_SUBJECTS
    for event_type in EventType:
        published = subject(event_type, "team-a", "survival")
        assert any(nats_match(pattern, published) for pattern in config.subjects or [])
        assert nats_match(subject_filter(event_type), published)
