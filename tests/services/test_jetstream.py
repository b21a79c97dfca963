"""NATS in the sandbox is a real JetStream: retention, duplicate window, de-duplication."""

from __future__ import annotations

import nats
import pytest
from nats.js.api import StorageType, StreamConfig

from craftplane.testing.platform import Platform

pytestmark = pytest.mark.services


async def test_duplicate_msg_id_is_stored_once(platform: Platform, subject_prefix: str) -> None:
    nc = await nats.connect(platform.nats_url)
    try:
        js = nc.jetstream()
        stream = subject_prefix.upper()
        await js.add_stream(
            StreamConfig(
                name=stream,
                subjects=[f"{subject_prefix}.>"],
                max_age=24 * 3600,
                duplicate_window=120,
                storage=StorageType.FILE,
            )
        )
        try:
            info = await js.stream_info(stream)
            assert info.config.max_age == 24 * 3600
            assert info.config.duplicate_window == 120
            first = await js.publish(f"{subject_prefix}.a", b"one", headers={"Nats-Msg-Id": "m-1"})
            again = await js.publish(f"{subject_prefix}.a", b"one", headers={"Nats-Msg-Id": "m-1"})
            other = await js.publish(f"{subject_prefix}.a", b"two", headers={"Nats-Msg-Id": "m-2"})
            assert not first.duplicate
            assert again.duplicate
            assert again.seq == first.seq
            assert not other.duplicate
            info = await js.stream_info(stream)
            assert info.state.messages == 2
        finally:
            await js.delete_stream(stream)
    finally:
        await nc.close()
