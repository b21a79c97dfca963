"""The StatefulSet running the server, with its world volume claim."""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel

from craftplane.contracts import names
from craftplane.contracts.lifecycle import GRACE_MARGIN_SECONDS
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
    headless_service_name,
    secret_name,
    statefulset_name,
)

# The UID/GID the itzg image runs the server as; running as it directly (not
# as root dropping privileges) is what Pod Security "restricted" demands.
RUN_AS_ID: Final = 1000
# The RCON password as a file, not an env var: env is visible to anything that can read the
# pod's /proc/1/environ or a crash dump, and itzg (like the stand-in) reads RCON_PASSWORD_FILE.
RCON_VOLUME: Final = "rcon"
RCON_MOUNT_PATH: Final = "/run/secrets/craftplane-rcon"
RCON_PASSWORD_FILE: Final = f"{RCON_MOUNT_PATH}/{RCON_PASSWORD_KEY}"
# Readable by the server's group only (fsGroup makes the file's group RUN_AS_ID).
RCON_FILE_MODE: Final = 0o440
# The only writable places besides /data: the root filesystem is read-only.
TMP_VOLUME: Final = "tmp"
TMP_MOUNT_PATH: Final = "/tmp"
# Native libraries unpacked by Netty/JNA, mc-server-runner's console pipe, rcon-cli's
# config: small. A bound keeps a runaway writer from filling the node's disk.
TMP_SIZE_LIMIT: Final = "512Mi"
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


def pod_security_context() -> dict[str, Any]:
    """Pod Security restricted, as the server runs (and the backup Jobs beside its volume)."""
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
        # Writes go to /data (the world) and /tmp (an emptyDir) only, HOME pointing at /tmp.
        # The stand-in is checked to write nowhere else; itzg's scripts write their helper
        # files (.rcon-cli.env/.yaml) under HOME and the console pipe under /tmp, but a
        # server TYPE or mod loader installer we have not run could still expect a writable
        # path elsewhere (an assumption to re-check when a new TYPE is supported).
        "readOnlyRootFilesystem": True,
    }


def _wiring_env(server: ServerContext) -> list[dict[str, Any]]:
    """Variables naming the pod's own paths, set on the container (they beat envFrom)."""
    env = [{"name": "HOME", "value": TMP_MOUNT_PATH}]
    if server.spec.rcon.enabled:
        env.append({"name": "RCON_PASSWORD_FILE", "value": RCON_PASSWORD_FILE})
    return env


def _mounts(server: ServerContext) -> list[dict[str, Any]]:
    mounts: list[dict[str, Any]] = [
        {"name": DATA_VOLUME, "mountPath": DATA_MOUNT_PATH},
        {"name": TMP_VOLUME, "mountPath": TMP_MOUNT_PATH},
    ]
    if server.spec.rcon.enabled:
        mounts.append({"name": RCON_VOLUME, "mountPath": RCON_MOUNT_PATH, "readOnly": True})
    return mounts


def _volumes(server: ServerContext) -> list[dict[str, Any]]:
    """The pod's volumes besides the world's claim (which comes from the claim template)."""
    volumes: list[dict[str, Any]] = [
        {"name": TMP_VOLUME, "emptyDir": {"sizeLimit": TMP_SIZE_LIMIT}}
    ]
    if server.spec.rcon.enabled:
        secret = {
            "secretName": secret_name(server.name),
            "items": [{"key": RCON_PASSWORD_KEY, "path": RCON_PASSWORD_KEY}],
            "defaultMode": RCON_FILE_MODE,
        }
        volumes.append({"name": RCON_VOLUME, "secret": secret})
    return volumes


def termination_grace_seconds(server: ServerContext) -> int:
    """The image's own stop deadline plus a margin: the kubelet's SIGKILL never lands while
    the image is still within the time it was given to save."""
    return server.spec.lifecycle.stop_grace_period_seconds + GRACE_MARGIN_SECONDS


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
        "env": _wiring_env(server),
        "ports": ports,
        # Requests equal to limits: Guaranteed QoS, so the server is neither
        # throttled below what it asked for nor evicted first under pressure.
        "resources": {"requests": dict(quantities), "limits": dict(quantities)},
        # Generating a new world can take minutes; allow up to 10 before the
        # kubelet gives up, without slowing down liveness once started.
        "startupProbe": _probe(period=10, failure_threshold=60),
        "readinessProbe": _probe(period=10, failure_threshold=3),
        "livenessProbe": _probe(period=20, failure_threshold=6),
        "volumeMounts": _mounts(server),
        "securityContext": _container_security_context(),
        # The image reports bad settings on its log and exits; the log tail
        # becomes the termination message the phase derivation shows the user.
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    # No preStop hook: one shutdown path. The kubelet's SIGTERM reaches the image's runner,
    # which stops (and so saves) the server within STOP_DURATION; a preStop "stop" over RCON
    # would race it and eat into the same grace period.
    return container


def _wire(model: BaseModel) -> dict[str, Any]:
    # Absent fields stay absent (the API server defaults them), so the pod says what the
    # spec said, in the Pod's own camelCase shape.
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def _pod_spec(server: ServerContext) -> dict[str, Any]:
    scheduling = server.spec.scheduling
    pod: dict[str, Any] = {
        # The server needs no Kubernetes API access.
        "automountServiceAccountToken": False,
        # Service links would inject an env var per Service in the namespace,
        # which the image could mistake for its own settings (e.g. *_PORT).
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": termination_grace_seconds(server),
        "securityContext": pod_security_context(),
        "containers": [_container(server)],
        "volumes": _volumes(server),
    }
    # Copies: the output must not alias the spec (callers may mutate it).
    if scheduling.node_selector:
        pod["nodeSelector"] = dict(scheduling.node_selector)
    if scheduling.tolerations:
        pod["tolerations"] = [_wire(toleration) for toleration in scheduling.tolerations]
    if scheduling.affinity is not None:
        pod["affinity"] = _wire(scheduling.affinity)
    return pod


def volume_claim_template(server: ServerContext) -> dict[str, Any]:
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
    handle a storage change (size, class) on the PVC itself, and replaces a
    StatefulSet with another serviceName (see ``statefulset_migration``).
    """
    spec = server.spec
    retention = "Retain" if spec.storage.retain_on_delete else "Delete"
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": object_meta(server, statefulset_name(server.name)),
        "spec": {
            # The headless governing Service (<name>-pods): the pod's DNS name, reachable
            # before it is Ready, while the game Service routes only to a ready server.
            "serviceName": headless_service_name(server.name),
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
            "volumeClaimTemplates": [volume_claim_template(server)],
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": retention,
                # Stopping scales to 0; the world must survive that.
                "whenScaled": "Retain",
            },
        },
    }
