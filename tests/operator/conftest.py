"""The operator fixtures live in craftplane.testing.plugin (shared with the gateway and
dashboard suites); these names stay importable from here for the operator tests."""

from craftplane.testing.plugin import operator_process, server_manifest, stream_events

__all__ = ["operator_process", "server_manifest", "stream_events"]
