"""Structured (JSON lines) logging shared by the operator and the gateway.

Every line says what happened and, through `extra={"server": "ns/name"}`, to which server.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = (
                    value if isinstance(value, str | int | float | bool | None) else str(value)
                )
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, separators=(",", ":"))


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # kopf logs every watch-stream event at DEBUG/INFO; keep its warnings only.
    logging.getLogger("kopf").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def get_logger(module: str) -> logging.Logger:
    """The logger of a module, named `craftplane.<component>.<module>` from its `__name__`.

    One scheme for every component: `craftplane_operator.leader` logs as
    `craftplane.operator.leader`, `craftplane_gateway.db.retry` as
    `craftplane.gateway.db.retry`, so `craftplane.gateway` selects the whole gateway.
    """
    head, _, rest = module.partition(".")
    if head.startswith("craftplane_"):
        component = head.removeprefix("craftplane_")
        return logging.getLogger(
            f"craftplane.{component}.{rest}" if rest else f"craftplane.{component}"
        )
    return logging.getLogger(module)
