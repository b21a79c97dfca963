"""The real node's images: built (cached) and imported by hack/build-server-image.sh."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from craftplane.sandbox.config import SandboxConfig
from craftplane.sandbox.errors import SandboxError
from craftplane.sandbox.nodeconfig import NodeLayout


def images_script() -> Path:
    return Path(__file__).resolve().parents[3] / "hack" / "build-server-image.sh"


def server_image(cfg: SandboxConfig) -> str:
    """The stand-in server image's reference (computed from its sources, built or not)."""
    return _print_ref(cfg, "--print-ref", "server")


def backup_image(cfg: SandboxConfig) -> str:
    """The backup Jobs' image (restic from Debian): computed from its inputs, built or not."""
    return _print_ref(cfg, "--print-backup-ref", "backup")


def _print_ref(cfg: SandboxConfig, flag: str, what: str) -> str:
    result = subprocess.run(
        ["bash", str(images_script()), "-", flag],
        capture_output=True, text=True, check=False, env=_image_env(cfg),
    )  # fmt: skip
    if result.returncode != 0:
        raise SandboxError(f"could not compute the {what} image tag: {result.stderr.strip()}")
    return result.stdout.strip()


def _image_env(cfg: SandboxConfig) -> dict[str, str]:
    return {
        **os.environ,
        "CRAFTPLANE_CACHE": str(cfg.cache),
        "CRAFTPLANE_K8S_VERSION": cfg.k8s_version,
    }


def ensure_images(cfg: SandboxConfig, lay: NodeLayout) -> None:
    result = subprocess.run(
        ["bash", str(images_script()), str(lay.containerd_socket)],
        stdout=subprocess.PIPE, text=True, check=False, env=_image_env(cfg),
    )  # fmt: skip
    if result.returncode != 0:
        raise SandboxError("the sandbox images could not be built (see the lines above)")
