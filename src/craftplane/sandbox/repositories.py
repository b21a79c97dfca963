"""Each sandbox tenant's backup repository in the object store, and the Secret naming it.

A tenant gets an S3 user of its own (``tenant-<tenant>``, role ``user``: it reaches only the
buckets it owns and can create none), the bucket ``craftplane-<tenant>`` owned by that user
(made by the root user), a restic password, and in its namespace the Secret
``craftplane-backups`` the operator's Jobs read. Keys and password are generated once per
tenant and kept in the state directory (0600), so a namespace deleted and made again reopens
the same repository. The same file, in shell syntax, lets anyone on this host run restic
against the repository by hand (``set -a; . <file>; set +a``).
"""

from __future__ import annotations

import base64
import json
import secrets
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from craftplane import tokens
from craftplane.contracts.backup import REPOSITORY_SECRET
from craftplane.contracts.names import LABEL_MANAGED_BY, LABEL_PART_OF, PART_OF
from craftplane.sandbox import objectstore
from craftplane.sandbox.config import SandboxConfig
from craftplane.sandbox.errors import SandboxError
from craftplane.sandbox.tenants import Kubectl

Obj = dict[str, Any]

FIELD_MANAGER: Final = "craftplane-sandbox"
BUCKET_PREFIX: Final = "craftplane-"
# The IAM answers for "already done", which make the steps below idempotent.
_USER_EXISTS: Final = "XAdminUserExists"
_BUCKET_EXISTS: Final = ("BucketAlreadyOwnedByYou", "BucketAlreadyExists")
# The state file's keys: the tenant's secrets, in the variables restic and its S3 client read.
_SECRET_KEYS: Final = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "RESTIC_PASSWORD")


@dataclass(frozen=True)
class TenantRepository:
    tenant: str
    access_key: str
    secret_key: str
    password: str

    @property
    def bucket(self) -> str:
        return bucket_for(self.tenant)


def bucket_for(tenant: str) -> str:
    # A tenant name is a DNS label of at most 32 characters: a valid bucket name follows.
    return f"{BUCKET_PREFIX}{tenant}"


def access_key_for(tenant: str) -> str:
    # The tenant's namespace name; never the root user's key (no tenant name starts with
    # "craftplane").
    return tokens.namespace_for(tenant)


def generate(tenant: str) -> TenantRepository:
    return TenantRepository(
        tenant=tenant,
        access_key=access_key_for(tenant),
        secret_key=secrets.token_hex(20),
        password=secrets.token_hex(24),
    )


def restic_env(repo: TenantRepository, endpoint: str) -> dict[str, str]:
    """What restic needs to open ``repo`` through ``endpoint`` (the Secret's keys)."""
    return {
        "RESTIC_REPOSITORY": f"s3:{endpoint}/{repo.bucket}",
        "RESTIC_PASSWORD": repo.password,
        "AWS_ACCESS_KEY_ID": repo.access_key,
        "AWS_SECRET_ACCESS_KEY": repo.secret_key,
    }


def secret_object(namespace: str, repo: TenantRepository, endpoint: str) -> Obj:
    data = {
        key: base64.b64encode(value.encode()).decode()
        for key, value in restic_env(repo, endpoint).items()
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": REPOSITORY_SECRET,
            "namespace": namespace,
            "labels": {LABEL_PART_OF: PART_OF, LABEL_MANAGED_BY: FIELD_MANAGER},
        },
        "type": "Opaque",
        "data": data,
    }


def env_file_text(repo: TenantRepository, endpoint: str) -> str:
    lines = [
        "# The backup repository of sandbox tenant "
        f"{repo.tenant}, reached from this host: set -a; . <this file>; set +a",
        *(f"{k}={shlex.quote(v)}" for k, v in restic_env(repo, endpoint).items()),
    ]
    return "\n".join(lines) + "\n"


def parse_env_file(tenant: str, text: str) -> TenantRepository:
    values: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = "".join(shlex.split(value))
    missing = [key for key in _SECRET_KEYS if not values.get(key)]
    if missing:
        raise SandboxError(f"the repository file of tenant {tenant} lacks {', '.join(missing)}")
    return TenantRepository(
        tenant=tenant,
        access_key=values["AWS_ACCESS_KEY_ID"],
        secret_key=values["AWS_SECRET_ACCESS_KEY"],
        password=values["RESTIC_PASSWORD"],
    )


def state_file(cfg: SandboxConfig, tenant: str) -> Path:
    return cfg.objectstore_dir / "tenants" / f"{tenant}.env"


def load_or_create(cfg: SandboxConfig, tenant: str) -> TenantRepository:
    """The tenant's keys and password: those kept in the state directory, else new ones.
    The file is rewritten each time, so its endpoint follows the port setting."""
    path = state_file(cfg, tenant)
    repo = parse_env_file(tenant, path.read_text()) if path.exists() else generate(tenant)
    objectstore.write_private(path, env_file_text(repo, objectstore.host_endpoint(cfg)))
    return repo


def _admin(cfg: SandboxConfig, *args: str, done_when: tuple[str, ...] = ()) -> bool:
    """True when the command succeeded, False when it answered one of ``done_when``."""
    result = objectstore.admin(cfg, *args)
    if result.returncode == 0:
        return True
    output = result.stdout + result.stderr
    if any(answer in output for answer in done_when):
        return False
    raise SandboxError(f"versitygw admin {args[0]} failed: {output.strip()}")


def ensure_account(cfg: SandboxConfig, repo: TenantRepository) -> None:
    """The tenant's S3 user with its kept secret, owning its bucket, whatever was there."""
    user = ("--access", repo.access_key, "--secret", repo.secret_key, "--role", "user")
    if not _admin(cfg, "create-user", *user, done_when=(_USER_EXISTS,)):
        _admin(cfg, "update-user", *user)
    owner = ("--bucket", repo.bucket, "--owner", repo.access_key)
    if not _admin(cfg, "create-bucket", *owner, done_when=_BUCKET_EXISTS):
        _admin(cfg, "change-bucket-owner", *owner)


def ensure(cfg: SandboxConfig, kubectl: Kubectl, tenant: str, namespace: str) -> TenantRepository:
    """The tenant's repository in the store and its Secret in ``namespace`` (idempotent)."""
    if not objectstore.running(cfg):
        raise SandboxError("the object store is not running: craftplane sandbox up")
    repo = load_or_create(cfg, tenant)
    ensure_account(cfg, repo)
    secret = secret_object(namespace, repo, objectstore.pod_endpoint(cfg))
    applied = kubectl(
        "apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "--force-conflicts",
        "-f", "-", stdin=json.dumps(secret),
    )  # fmt: skip
    if applied.returncode != 0:
        raise SandboxError(
            f"could not apply the Secret {REPOSITORY_SECRET} in {namespace}: "
            f"{applied.stderr.strip()}"
        )
    return repo


def host_env(cfg: SandboxConfig, tenant: str) -> dict[str, str]:
    """restic's variables for ``tenant``'s repository as reached from this host."""
    path = state_file(cfg, tenant)
    if not path.exists():
        raise SandboxError(f"tenant {tenant} has no backup repository in this sandbox")
    return restic_env(parse_env_file(tenant, path.read_text()), objectstore.host_endpoint(cfg))


def remove(cfg: SandboxConfig, tenant: str) -> None:
    """Forget a tenant's repository: its user, its bucket with every snapshot, its keys."""
    if objectstore.running(cfg):
        # Succeeds for a user that is not there as well.
        _admin(cfg, "delete-user", "--access", access_key_for(tenant))
    # A posix bucket is a directory (its owner in its extended attributes).
    shutil.rmtree(objectstore.data_dir(cfg) / bucket_for(tenant), ignore_errors=True)
    state_file(cfg, tenant).unlink(missing_ok=True)
