"""The backup Job builders and names: restricted pods, where they run, what they mount."""

from __future__ import annotations

from typing import Any

import pytest

from craftplane.contracts import names
from craftplane.contracts.backup import BackupTrigger, Retention
from craftplane_operator.backups.jobs import (
    JobConfig,
    copy_job,
    forget_job,
    restore_job,
    retention_job,
    scheduling,
)
from craftplane_operator.backups.names import bounded, job_name, parse_owner
from craftplane_operator.builders import build_statefulset
from tests.unit.operator.backup_factories import BACKUP, BACKUP_UID, backup_body, restore_body
from tests.unit.operator.factories import NAME, server

pytestmark = pytest.mark.unit

CONFIG = JobConfig(
    image="registry.test/restic:0.14",
    requests={"cpu": "100m", "memory": "256Mi"},
    limits={"cpu": "250m", "memory": "512Mi"},
    deadline_seconds=3600,
)
PLACED = {
    "scheduling": {
        "nodeSelector": {"pool": "games"},
        "tolerations": [{"key": "games", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                    ]
                }
            }
        },
    }
}


def live_statefulset() -> dict[str, Any]:
    return build_statefulset(server(PLACED), "hash")


def all_jobs() -> list[dict[str, Any]]:
    sts = live_statefulset()
    backup = backup_body()
    return [
        copy_job(backup, NAME, "uid-1", BackupTrigger.MANUAL, scheduling(sts, "node-1"), CONFIG),
        restore_job(restore_body(), NAME, "8ed2a234", scheduling(sts), CONFIG),
        retention_job(backup, NAME, "uid-1", Retention(), scheduling(sts), CONFIG),
        forget_job(backup, NAME, "8ed2a234", CONFIG),
    ]


@pytest.mark.parametrize("job", all_jobs(), ids=["copy", "restore", "retention", "forget"])
def test_every_job_is_a_restricted_one_shot_pod(job: dict[str, Any]) -> None:
    spec = job["spec"]
    assert spec["backoffLimit"] == 0 and spec["activeDeadlineSeconds"] == 3600
    assert "ttlSecondsAfterFinished" not in spec, "the operator deletes it once recorded"
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "fsGroup": 1000,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    (container,) = pod["containers"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
    }
    assert container["image"] == "registry.test/restic:0.14"
    assert container["command"][:2] == ["/bin/sh", "-c"] and "set -eu" in container["command"][2]
    assert container["envFrom"] == [{"secretRef": {"name": "craftplane-backups"}}]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["RESTIC_CACHE_DIR"] == "/tmp/restic-cache"
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"cpu": "250m", "memory": "512Mi"},
    }
    assert container["terminationMessagePolicy"] == "File"
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    labels = job["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "craftplane-operator"
    assert labels["craftplane.io/server"] == NAME
    assert labels["app.kubernetes.io/component"] in (
        "backup-copy",
        "backup-restore",
        "backup-prune",
    )
    assert spec["template"]["metadata"]["labels"] == labels
    # The server's Services and StatefulSet select by these: never a Job's pod.
    selector = names.selector_labels(NAME)
    assert not all(labels.get(k) == v for k, v in selector.items())


def test_the_copy_mounts_the_world_read_only_where_the_server_runs() -> None:
    copy = all_jobs()[0]
    pod = copy["spec"]["template"]["spec"]
    assert pod["volumes"][0] == {
        "name": "data",
        "persistentVolumeClaim": {"claimName": f"data-{NAME}-0", "readOnly": True},
    }
    assert pod["containers"][0]["volumeMounts"][0] == {
        "name": "data",
        "mountPath": "/data",
        "readOnly": True,
    }
    assert pod["nodeSelector"] == {"pool": "games"}
    assert pod["tolerations"] == [{"key": "games", "operator": "Exists", "effect": "NoSchedule"}]
    (term,) = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert term["matchExpressions"] == [{"key": "zone", "operator": "In", "values": ["a"]}]
    assert term["matchFields"] == [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]
    (owner,) = copy["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("MinecraftBackup", BACKUP, BACKUP_UID)
    assert copy["metadata"]["annotations"] == {
        "craftplane.io/backup-owner": f"MinecraftBackup/{BACKUP}"
    }


def test_the_live_statefulset_is_not_changed_by_pinning() -> None:
    sts = live_statefulset()
    scheduling(sts, "node-1")
    terms = sts["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    assert "matchFields" not in terms[0]


def test_prunes_mount_no_world_and_the_forget_job_has_no_owner() -> None:
    _, _, retention, forget = all_jobs()
    for job in (retention, forget):
        pod = job["spec"]["template"]["spec"]
        assert [v["name"] for v in pod["volumes"]] == ["tmp"]
    assert "ownerReferences" in retention["metadata"]
    assert "ownerReferences" not in forget["metadata"]


def test_job_names_fit_a_label_value() -> None:
    assert job_name("survival-20260329-0100", "copy") == "survival-20260329-0100-copy"
    long = "a" * 52 + "-20260329-010000"
    name = job_name(long, "retention")
    assert len(name) <= 63 and name.endswith("-retention")
    assert name != job_name(long[:-1] + "1", "retention")
    assert len(bounded("b" * 253)) == 63


def test_owner_annotations_parse_back() -> None:
    assert parse_owner("MinecraftBackup/survival-1") == ("MinecraftBackup", "survival-1")
    assert parse_owner("Secret/x") is None and parse_owner(None) is None
