"""How much chaos: servers, the churn window and rate, and how often each fault happens.

The short form runs in `make test`; the long form with --long.
"""

from __future__ import annotations

from dataclasses import dataclass

from craftplane.contracts import events as contract


@dataclass(frozen=True)
class Profile:
    servers: int
    window: float  # seconds of churn during which the faults are injected
    churn_every: float  # a round of stop/start toggles every this many seconds ...
    churn_batch: int  # ... on this many random servers
    faults: dict[str, int]  # fault kind -> how many times
    nats_pause: float = 0.0  # seconds NATS is SIGSTOPped (nats-pause faults)


SHORT = Profile(
    servers=100,
    window=200,
    churn_every=2.0,
    churn_batch=3,
    faults={
        "operator-leader": 2,
        "gateway": 2,
        "nats": 2,
        "postgres": 2,
        "apiserver": 1,
        "nats-pause": 1,
    },
    nats_pause=contract.DUPLICATE_WINDOW_SECONDS + 15,
)
LONG = Profile(
    servers=300,
    window=420,
    churn_every=1.5,
    churn_batch=6,
    faults={
        "operator-leader": 4,
        "gateway": 4,
        "nats": 3,
        "postgres": 3,
        "apiserver": 1,
        "nats-pause": 1,
    },
    nats_pause=contract.DUPLICATE_WINDOW_SECONDS + 15,
)
