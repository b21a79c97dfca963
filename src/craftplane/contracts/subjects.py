"""The subject layout of the event stream, and the filters a consumer subscribes with.

Every subject is ``craftplane.<family>.<action>.<namespace>.<name>``: five tokens for every
event type (``server.status.changed`` is ``server.status_changed``), so one wildcard filter
works across types, e.g. ``craftplane.k8s.*.team-a.*`` (phase events in a namespace) or
``craftplane.*.*.team-a.survival`` (everything about one server).
"""

from __future__ import annotations

from typing import Final

from craftplane.contracts.event_types import EventType

SUBJECT_PREFIX: Final = "craftplane"
STREAM_NAME: Final = "CRAFTPLANE"
# Wider than the layout on purpose: messages published under an older layout (a
# six-token server.status.changed) stay in the stream and reach the same consumers.
STREAM_SUBJECTS: Final = [f"{SUBJECT_PREFIX}.>"]
STREAM_MAX_AGE_SECONDS: Final = 86400
DUPLICATE_WINDOW_SECONDS: Final = 120
# Stands for "every namespace" / "every server" in sync subjects; cannot clash
# with a Kubernetes name, which starts with an alphanumeric character.
ALL_TOKEN: Final = "_all"
_ANY: Final = "*"


def _token(value: str | None) -> str:
    # "." separates subject tokens; Kubernetes names may contain dots but
    # never "_", so the replacement is unambiguous.
    return ALL_TOKEN if not value else value.replace(".", "_")


def subject(event_type: EventType, namespace: str | None, name: str | None) -> str:
    """``craftplane.<family>.<action>.<namespace>.<name>``; ``_all`` for what a sync event
    leaves open."""
    family, action = event_type.subject_tokens
    return f"{SUBJECT_PREFIX}.{family}.{action}.{_token(namespace)}.{_token(name)}"


def subject_filter(
    event_type: EventType | None = None,
    *,
    namespace: str | None = None,
    name: str | None = None,
) -> str:
    """A NATS filter for events of ``event_type`` about ``namespace`` / ``name``; what is not
    given matches anything. Trailing wildcards become ``>``, so the filter for everything is
    the stream's own subject and also matches messages of an older layout."""
    family, action = event_type.subject_tokens if event_type is not None else (_ANY, _ANY)
    tokens = [
        family,
        action,
        _ANY if namespace is None else _token(namespace),
        _ANY if name is None else _token(name),
    ]
    while tokens and tokens[-1] == _ANY:
        tokens.pop()
    if len(tokens) < 4:
        tokens.append(">")
    return ".".join([SUBJECT_PREFIX, *tokens])
