"""Contracts shared by the operator, the gateway and the CRD: one place each.

The pydantic models here are the single source of truth; the CRD schema in
``crds/`` is generated from them (``python -m craftplane.contracts.crd``).

- ``spec`` / ``status`` / ``resource``: the MinecraftServer resource.
- ``phases``: how a phase is shown outside the cluster (``ServerState``, the status words).
- ``event_types``: event names and their kinds (spec / status / sync).
- ``subjects``: the stream, its subject layout and the filters consumers subscribe with.
- ``events``: the versioned envelope (server events and sync requests), ids, encode/decode.
- ``cr_events``: the one mapping from a MinecraftServer object to the events announcing it.
"""
