"""Each sandbox tenant's backup repository: its names, the Secret the operator's Jobs read,
keys kept across a re-created namespace, and the store's IAM brought to them idempotently."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from craftplane.contracts.backup import REPOSITORY_KEYS, REPOSITORY_SECRET
from craftplane.sandbox import objectstore, repositories
from craftplane.sandbox.config import SandboxConfig
from craftplane.sandbox.errors import SandboxError
from craftplane.testing import backups

pytestmark = pytest.mark.unit

REPO = repositories.TenantRepository(
    tenant="acme", access_key="tenant-acme", secret_key="k" * 40, password="p" * 48
)


def _config(tmp_path: Path) -> SandboxConfig:
    return SandboxConfig(
        state_dir=tmp_path, real_node=True, real_node_ip="10.213.255.1", objectstore_port=17070
    )


def test_names_follow_the_tenant() -> None:
    assert repositories.bucket_for("acme") == "craftplane-acme"
    assert repositories.access_key_for("acme") == "tenant-acme"
    longest = "a" * 32
    # S3: 3 to 63 lowercase letters, digits and hyphens.
    assert len(repositories.bucket_for(longest)) <= 63


def test_the_secret_names_the_repository_as_pods_reach_it() -> None:
    secret = repositories.secret_object("tenant-acme", REPO, "http://10.213.255.1:17070")
    assert secret["metadata"]["name"] == REPOSITORY_SECRET == "craftplane-backups"
    assert secret["metadata"]["namespace"] == "tenant-acme"
    assert secret["type"] == "Opaque"
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert tuple(data) == REPOSITORY_KEYS
    assert data == {
        "RESTIC_REPOSITORY": "s3:http://10.213.255.1:17070/craftplane-acme",
        "RESTIC_PASSWORD": "p" * 48,
        "AWS_ACCESS_KEY_ID": "tenant-acme",
        "AWS_SECRET_ACCESS_KEY": "k" * 40,
    }


def test_the_state_file_is_shell_and_reads_back() -> None:
    text = repositories.env_file_text(REPO, "http://127.0.0.1:17070")
    assert "RESTIC_REPOSITORY=s3:http://127.0.0.1:17070/craftplane-acme\n" in text
    assert repositories.parse_env_file("acme", text) == REPO
    sourced = subprocess.run(
        ["sh", "-c", 'set -a; . /dev/stdin; set +a; printf %s "$AWS_ACCESS_KEY_ID"'],
        input=text, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert sourced.stdout == "tenant-acme"


def test_a_state_file_without_a_key_is_refused() -> None:
    text = repositories.env_file_text(REPO, "http://127.0.0.1:17070")
    broken = "\n".join(line for line in text.splitlines() if "PASSWORD" not in line)
    with pytest.raises(SandboxError, match="lacks RESTIC_PASSWORD"):
        repositories.parse_env_file("acme", broken)


def test_keys_are_made_once_per_tenant_and_kept_private(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    first = repositories.load_or_create(cfg, "acme")
    assert first == repositories.load_or_create(cfg, "acme")
    assert first != repositories.load_or_create(cfg, "other")
    assert (first.access_key, first.bucket) == ("tenant-acme", "craftplane-acme")
    path = repositories.state_file(cfg, "acme")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    moved = cfg.model_copy(update={"objectstore_port": 17999})
    assert repositories.load_or_create(moved, "acme") == first
    assert "127.0.0.1:17999/craftplane-acme" in path.read_text()


class FakeAdmin:
    """versitygw admin: users and bucket owners, answering like the real CLI."""

    def __init__(self) -> None:
        self.users: dict[str, str] = {}
        self.owners: dict[str, str] = {}
        self.calls: list[str] = []

    def __call__(self, cfg: SandboxConfig, command: str, *args: str) -> Any:
        self.calls.append(command)
        flags = dict(zip(args[::2], args[1::2], strict=True))
        if command == "create-user":
            if flags["--access"] in self.users:
                return self._fail("api error XAdminUserExists: A user with the ... exists.")
            assert flags["--role"] == "user"
            self.users[flags["--access"]] = flags["--secret"]
        elif command == "update-user":
            self.users[flags["--access"]] = flags["--secret"]
        elif command == "create-bucket":
            owner = self.owners.get(flags["--bucket"])
            if owner is not None:
                answer = (
                    "BucketAlreadyOwnedByYou"
                    if owner == flags["--owner"]
                    else "BucketAlreadyExists"
                )
                return self._fail(f"api error {answer}: ...")
            self.owners[flags["--bucket"]] = flags["--owner"]
        elif command == "change-bucket-owner":
            self.owners[flags["--bucket"]] = flags["--owner"]
        elif command == "delete-user":
            self.users.pop(flags["--access"], None)
        else:
            return self._fail(f"unknown command {command}")
        return subprocess.CompletedProcess([command], 0, "", "")

    @staticmethod
    def _fail(message: str) -> Any:
        return subprocess.CompletedProcess(["admin"], 1, "", f"2026/01/01 00:00:00 {message}\n")


class Applied:
    def __init__(self) -> None:
        self.objects: list[dict[str, Any]] = []
        self.args: list[tuple[str, ...]] = []

    def __call__(self, *args: str, stdin: str | None = None) -> Any:
        self.args.append(args)
        self.objects.append(json.loads(stdin or "{}"))
        return subprocess.CompletedProcess(args, 0, "", "")


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch) -> FakeAdmin:
    fake = FakeAdmin()
    monkeypatch.setattr(objectstore, "admin", fake)
    monkeypatch.setattr(objectstore, "running", lambda cfg: True)
    return fake


def test_ensure_makes_the_user_its_bucket_and_the_secret(tmp_path: Path, admin: FakeAdmin) -> None:
    cfg = _config(tmp_path)
    applied = Applied()
    repo = repositories.ensure(cfg, applied, "acme", "tenant-acme")
    assert admin.users == {"tenant-acme": repo.secret_key}
    assert admin.owners == {"craftplane-acme": "tenant-acme"}
    (secret,) = applied.objects
    assert secret == repositories.secret_object("tenant-acme", repo, "http://10.213.255.1:17070")
    assert "--server-side" in applied.args[0]
    assert "--field-manager=craftplane-sandbox" in applied.args[0]


def test_ensure_again_changes_nothing_and_repairs_drift(tmp_path: Path, admin: FakeAdmin) -> None:
    cfg = _config(tmp_path)
    repo = repositories.ensure(cfg, Applied(), "acme", "tenant-acme")
    assert repositories.ensure(cfg, Applied(), "acme", "tenant-acme") == repo
    admin.users["tenant-acme"] = "changed behind our back"
    admin.owners["craftplane-acme"] = "tenant-other"
    repositories.ensure(cfg, Applied(), "acme", "tenant-acme")
    assert admin.users == {"tenant-acme": repo.secret_key}
    assert admin.owners == {"craftplane-acme": "tenant-acme"}
    assert "update-user" in admin.calls and "change-bucket-owner" in admin.calls


def test_a_recreated_namespace_gets_the_same_repository(tmp_path: Path, admin: FakeAdmin) -> None:
    cfg = _config(tmp_path)
    before, after = Applied(), Applied()
    repositories.ensure(cfg, before, "acme", "tenant-acme")
    repositories.ensure(cfg, after, "acme", "tenant-acme")
    assert before.objects == after.objects


def test_ensure_needs_the_store_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(objectstore, "running", lambda cfg: False)
    with pytest.raises(SandboxError, match="object store is not running"):
        repositories.ensure(_config(tmp_path), Applied(), "acme", "tenant-acme")


def test_an_admin_failure_names_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(objectstore, "running", lambda cfg: True)
    monkeypatch.setattr(
        objectstore,
        "admin",
        lambda cfg, *args: subprocess.CompletedProcess(args, 1, "", "connection refused"),
    )
    with pytest.raises(
        SandboxError, match="versitygw admin create-user failed: connection refused"
    ):
        repositories.ensure(_config(tmp_path), Applied(), "acme", "tenant-acme")


def test_a_refused_secret_is_an_error(tmp_path: Path, admin: FakeAdmin) -> None:
    def refused(*args: str, stdin: str | None = None) -> Any:
        return subprocess.CompletedProcess(args, 1, "", 'secrets "craftplane-backups" is forbidden')

    with pytest.raises(SandboxError, match="craftplane-backups in tenant-acme: secrets"):
        repositories.ensure(_config(tmp_path), refused, "acme", "tenant-acme")


def test_restic_by_hand_reaches_the_repository_from_this_host(
    tmp_path: Path, admin: FakeAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _config(tmp_path)
    with pytest.raises(SandboxError, match="tenant acme has no backup repository"):
        repositories.host_env(cfg, "acme")
    repo = repositories.ensure(cfg, Applied(), "acme", "tenant-acme")
    monkeypatch.setenv("RESTIC_PASSWORD_FILE", "/somewhere/else")
    env = backups.restic_env(cfg, "acme", cache_dir=tmp_path / "cache")
    assert env["RESTIC_REPOSITORY"] == "s3:http://127.0.0.1:17070/craftplane-acme"
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == (
        repo.access_key,
        repo.secret_key,
    )
    assert env["RESTIC_PASSWORD"] == repo.password
    assert env["RESTIC_CACHE_DIR"] == str(tmp_path / "cache")
    assert "RESTIC_PASSWORD_FILE" not in env
    assert backups.bucket_dir(cfg, "acme") == tmp_path / "objectstore" / "data" / "craftplane-acme"


def test_remove_forgets_user_bucket_and_keys(tmp_path: Path, admin: FakeAdmin) -> None:
    cfg = _config(tmp_path)
    repositories.ensure(cfg, Applied(), "acme", "tenant-acme")
    bucket = objectstore.data_dir(cfg) / "craftplane-acme"
    (bucket / "data").mkdir(parents=True)
    (bucket / "config").write_text("repository")
    repositories.remove(cfg, "acme")
    assert admin.users == {}
    assert not bucket.exists() and not repositories.state_file(cfg, "acme").exists()
    repositories.remove(cfg, "acme")  # idempotent
