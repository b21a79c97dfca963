"""The backup Jobs' image: named from the restic this host has (the one the tests run by
hand), computed without building it, and handed to the operator the sandbox starts."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from craftplane.sandbox import node, nodeimages
from craftplane.sandbox.config import SandboxConfig

pytestmark = pytest.mark.unit


def _host_restic() -> str:
    if shutil.which("dpkg-query") is None:
        pytest.skip("no dpkg here: the sandbox's images are built on Debian")
    found = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "restic"], capture_output=True, text=True, check=False
    )
    if found.returncode != 0 or not found.stdout:
        pytest.skip("restic is not installed from Debian here (make bootstrap installs it)")
    return found.stdout


def test_the_reference_names_the_hosts_restic_and_a_content_key(tmp_path: Path) -> None:
    version = _host_restic()
    cfg = SandboxConfig(state_dir=tmp_path, cache=tmp_path / "cache")
    ref = nodeimages.backup_image(cfg)
    upstream = version.split(":")[-1].split("-")[0]
    assert re.fullmatch(rf"localhost/craftplane/backup:{re.escape(upstream)}-[0-9a-f]{{12}}", ref)
    assert nodeimages.backup_image(cfg) == ref
    assert ref != nodeimages.server_image(cfg)
    assert not (tmp_path / "cache").exists(), "computing the reference builds nothing"


def test_the_sandbox_operator_is_given_the_backup_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nodeimages, "server_image", lambda cfg: "localhost/craftplane/server:x")
    monkeypatch.setattr(nodeimages, "backup_image", lambda cfg: "localhost/craftplane/backup:y")
    env = node.operator_env(SandboxConfig(state_dir=tmp_path, real_node=True))
    assert env["CRAFTPLANE_OPERATOR_BACKUP_IMAGE"] == "localhost/craftplane/backup:y"
    assert node.operator_env(SandboxConfig(state_dir=tmp_path, real_node=False)) == {}
