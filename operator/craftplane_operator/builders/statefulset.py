"""The StatefulSet running the server, with its world volume claim."""

from __future__ import annotations

import copy
from typing import Any, Final

from craftplane.contracts import names
from craftplane_operator.builders.context import ServerContext
from craftplane_operator.builders.meta import object_meta
from craftplane_operator.builders.naming import (
    CONFIG_HASH_ANNOTATION,
    CONTAINER_NAME,
    DATA_MOUNT_PATH,
    DATA_VOLUME,
    GAME_PORT,
    GAME_PORT_NAME,
    RCON_PASSWORD_KEY,
    RCON_PORT,
    RCON_PORT_NAME,
    configmap_name,
    secret_name,
    service_name,
    statefulset_name,
)

# The UID/GID the itzg image runs the server as; running as it directly (not
# as root dropping privileges) is what Pod Security "restricted" demands.
RUN_AS_ID: Final = 1000
# Saving a large world on shutdown takes a while; the kubelet's default 30 s
# can kill the JVM mid-save and corrupt region files.
TERMINATION_GRACE_SECONDS: Final = 60
# mc-health pings the server with mc-monitor; the kubelet's 1 s default
# timeout fails it on a busy server.
PROBE_TIMEOUT_SECONDS: Final = 5
HEALTH_COMMAND: Final = ("mc-health",)


def _probe(period: int, failure_threshold: int) -> dict[str, Any]:
    return {
        "exec": {"command": list(HEALTH_COMMAND)},
        "periodSeconds": period,
        "timeoutSeconds": PROBE_TIMEOUT_SECONDS,
        "failureThreshold": failure_threshold,
    }


def _pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_ID,
        "runAsGroup": RUN_AS_ID,
        "fsGroup": RUN_AS_ID,
        # A recursive chown of a big world on every start would delay it by minutes.
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _container_security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        # The image writes its helper configuration outside /data at start.
        "readOnlyRootFilesystem": False,
    }


def _container(server: ServerContext) -> dict[str, Any]:
    spec = server.spec
    quantities = {"cpu": spec.resources.cpu, "memory": spec.resources.memory}
    ports = [{"name": GAME_PORT_NAME, "containerPort": GAME_PORT, "protocol": "TCP"}]
    if spec.rcon.enabled:
        ports.append({"name": RCON_PORT_NAME, "containerPort": RCON_PORT, "protocol": "TCP"})
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": spec.image,
        "envFrom": [{"configMapRef": {"name": configmap_name(server.name)}}],
        "env": [
            {
                "name": "RCON_PASSWORD",
                "valueFrom": {
                    "secretKeyRef": {"name": secret_name(server.name), "key": RCON_PASSWORD_KEY}
                },
            }
        ],
        "ports": ports,
        # Requests equal to limits: Guaranteed QoS, so the server is neither
        # throttled below what it asked for nor evicted first under pressure.
        "resources": {"requests": dict(quantities), "limits": dict(quantities)},
        # Generating a new world can take minutes; allow up to 10 before the
        # kubelet gives up, without slowing down liveness once started.
        "startupProbe": _probe(period=10, failure_threshold=60),
        "readinessProbe": _probe(period=10, failure_threshold=3),
        "livenessProbe": _probe(period=20, failure_threshold=6),
        "volumeMounts": [{"name": DATA_VOLUME, "mountPath": DATA_MOUNT_PATH}],
        "securityContext": _container_security_context(),
        # The image reports bad settings on its log and exits; the log tail
        # becomes the termination message the phase derivation shows the user.
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    if spec.rcon.enabled:
        # Stop (and so save) the world through RCON before the kubelet's
        # SIGTERM; without RCON the image's own SIGTERM handler sends "stop".
        container["lifecycle"] = {"preStop": {"exec": {"command": ["rcon-cli", "stop"]}}}
    return container


def _pod_spec(server: ServerContext) -> dict[str, Any]:
    scheduling = server.spec.scheduling
    pod: dict[str, Any] = {
        # The server needs no Kubernetes API access.
        "automountServiceAccountToken": False,
        # Service links would inject an env var per Service in the namespace,
        # which the image could mistake for its own settings (e.g. *_PORT).
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
        "securityContext": _pod_security_context(),
        "containers": [_container(server)],
    }
    # Copies: the output must not alias the spec (callers may mutate it).
    if scheduling.node_selector:
        pod["nodeSelector"] = dict(scheduling.node_selector)
    if scheduling.tolerations:
        pod["tolerations"] = copy.deepcopy(scheduling.tolerations)
    if scheduling.affinity:
        pod["affinity"] = copy.deepcopy(scheduling.affinity)
    return pod


def _volume_claim_template(server: ServerContext) -> dict[str, Any]:
    storage = server.spec.storage
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage.size}},
    }
    if storage.storage_class_name is not None:
        spec["storageClassName"] = storage.storage_class_name
    return {
        "metadata": {"name": DATA_VOLUME, "labels": names.standard_labels(server.name)},
        "spec": spec,
    }


def build_statefulset(server: ServerContext, config_hash: str) -> dict[str, Any]:
    """StatefulSet ``<name>``: one replica (none when stopped) and its world volume.

    ``volumeClaimTemplates``, ``selector``, ``serviceName`` and
    ``podManagementPolicy`` are immutable once created; the reconciler has to
    handle a storage change (size, class) on the PVC itself.
    """
    spec = server.spec
    retention = "Retain" if spec.storage.retain_on_delete else "Delete"
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": object_meta(server, statefulset_name(server.name)),
        "spec": {
            "serviceName": service_name(server.name),
            "replicas": 0 if spec.stopped else 1,
            # Parallel: the controller replaces a broken pod on update instead
            # of waiting forever for it to become Ready (OrderedReady does).
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "RollingUpdate"},
            "selector": {"matchLabels": names.selector_labels(server.name)},
            "template": {
                "metadata": {
                    "labels": names.standard_labels(server.name),
                    "annotations": {CONFIG_HASH_ANNOTATION: config_hash},
                },
                "spec": _pod_spec(server),
            },
            "volumeClaimTemplates": [_volume_claim_template(server)],
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": retention,
                # Stopping scales to 0; the world must survive that.
                "whenScaled": "Retain",
            },
        },
    }
