"""Does a live object already say what we would apply? (pure)

Server-side apply of an unchanged object is a no-op for the cluster but still a request; at
thousands of servers those requests dominate. We skip the apply when every field we set is
already in place with the same value; anything else (a field edited by hand, a child deleted)
makes the apply happen and repairs it.
"""

from __future__ import annotations

from typing import Any

_SKIP_TOP = {"apiVersion", "kind"}


def contains(live: Any, desired: Any) -> bool:
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        return all(k in live and contains(live[k], v) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return False
        return all(contains(a, b) for a, b in zip(live, desired, strict=True))
    return bool(live == desired)


def up_to_date(live: dict[str, Any] | None, desired: dict[str, Any]) -> bool:
    if live is None:
        return False
    return all(contains(live.get(k), v) for k, v in desired.items() if k not in _SKIP_TOP)
