"""The platform's own processes in the sandbox: the operator and the gateway."""

from __future__ import annotations

from craftplane.sandbox.config import SandboxConfig


def up(cfg: SandboxConfig) -> None:
    return None


def down(cfg: SandboxConfig) -> None:
    return None


def status(cfg: SandboxConfig) -> dict[str, str]:
    return {}


def env(cfg: SandboxConfig) -> dict[str, str]:
    return {}
