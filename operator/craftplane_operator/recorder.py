"""Kubernetes Events on a MinecraftServer, visible in `kubectl describe`.

Only transitions are recorded (the reconciler calls this when the phase changes), so a server
that is reconciled every minute does not flood its event list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from craftplane import logs
from craftplane.clock import utcnow
from craftplane.kube import KubeClient, KubeError

log = logs.get_logger(__name__)

COMPONENT = "craftplane-operator"


class EventRecorder:
    def __init__(self, kube: KubeClient, instance: str) -> None:
        self._kube = kube
        self._instance = instance

    async def record(
        self, body: Mapping[str, Any], *, warning: bool, reason: str, message: str
    ) -> None:
        meta = body["metadata"]
        now = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": body.get("apiVersion", "craftplane.io/v1alpha1"),
                "kind": body.get("kind", "MinecraftServer"),
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
            },
            "type": "Warning" if warning else "Normal",
            "reason": reason,
            "message": message[:1024],
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": self._instance,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self._kube.create(event)
        except KubeError as exc:
            # An event is a courtesy to the reader; failing to post one must not fail a reconcile.
            log.warning("could not record event %s on %s: %s", reason, meta["name"], exc)
