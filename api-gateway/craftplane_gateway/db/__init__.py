"""The gateway's PostgreSQL layer (asyncpg), within what CockroachDB also supports.

- migrate: versioned SQL migrations, safe from several replicas at once.
- projection: events and the cluster's view into the ``servers`` projection and the timeline.
- queries: tenant-scoped reads.
- rules: the pure projection rule.
- retry: transactions retried on serialization failure (40001) and deadlock (40P01).
"""

from craftplane_gateway.db.migrate import migrate
from craftplane_gateway.db.models import (
    ClusterServer,
    DeadLetter,
    PlayerCount,
    ProjectedChange,
    ServerRow,
    TimelineEntry,
)
from craftplane_gateway.db.retry import Conn, in_transaction, is_retryable

__all__ = [
    "ClusterServer",
    "Conn",
    "DeadLetter",
    "PlayerCount",
    "ProjectedChange",
    "ServerRow",
    "TimelineEntry",
    "in_transaction",
    "is_retryable",
    "migrate",
]
