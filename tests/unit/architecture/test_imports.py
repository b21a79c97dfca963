"""The import rules of ARCHITECTURE.md hold, and the checker would notice if they did not."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.architecture.rooms import ROOMS, violations

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]


def test_the_rooms_import_only_what_they_may() -> None:
    found = violations(ROOT)
    assert not found, "\n".join(map(str, found))


def test_every_room_exists() -> None:
    for _, directory in ROOMS.values():
        assert (ROOT / directory / "__init__.py").is_file(), directory


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for _, directory in ROOMS.values():
        (tmp_path / directory).mkdir(parents=True, exist_ok=True)
        (tmp_path / directory / "__init__.py").write_text("")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("path", "source", "imported"),
    [
        (
            "operator/craftplane_operator/x.py",
            "import craftplane_gateway.app\n",
            "craftplane_gateway.app",
        ),
        (
            "api-gateway/craftplane_gateway/x.py",
            "def f() -> None:\n    from craftplane_operator import main\n",
            "craftplane_operator",
        ),
        (
            "api-gateway/craftplane_gateway/x.py",
            "from craftplane import testing\n",
            "craftplane.testing",
        ),
        (
            "operator/craftplane_operator/x.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from craftplane.sandbox.config import SandboxConfig\n",
            "craftplane.sandbox.config",
        ),
        ("src/craftplane/contracts/x.py", "from ..sandbox import stack\n", "craftplane.sandbox"),
        ("src/craftplane/contracts/x.py", "from craftplane import kube\n", "craftplane.kube"),
        (
            "src/craftplane/tokens.py",
            "import craftplane.testing.plugin\n",
            "craftplane.testing.plugin",
        ),
        ("router/craftplane_router/x.py", "import craftplane_operator\n", "craftplane_operator"),
        (
            "router/craftplane_router/x.py",
            "from craftplane_gateway import backup_changes\n",
            "craftplane_gateway",
        ),
        (
            "operator/craftplane_operator/x.py",
            "import craftplane_router.app\n",
            "craftplane_router.app",
        ),
        (
            "api-gateway/craftplane_gateway/x.py",
            "from craftplane_router.routes import Route\n",
            "craftplane_router.routes",
        ),
    ],
)
def test_a_deliberate_violation_is_reported(
    tmp_path: Path, path: str, source: str, imported: str
) -> None:
    found = violations(_tree(tmp_path, {path: source}))
    assert [v.imported for v in found][:1] == [imported]
    assert str(found[0].path) == path


def test_allowed_imports_are_not_reported(tmp_path: Path) -> None:
    files = {
        "operator/craftplane_operator/x.py": "from craftplane.contracts import names\n"
        "from craftplane import kube\nfrom . import y\n",
        "api-gateway/craftplane_gateway/x.py": "from craftplane.tokens import mint\n",
        "src/craftplane/testing/x.py": "from craftplane.sandbox import stack\n",
        "src/craftplane/contracts/x.py": "from .names import KIND\n",
        "router/craftplane_router/x.py": "from craftplane.kube import KubeClient\n"
        "from craftplane.contracts import hostnames\nfrom . import y\n",
    }
    assert violations(_tree(tmp_path, files)) == []
