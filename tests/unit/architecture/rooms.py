"""The rooms of the code base and what each may import (ARCHITECTURE.md says why).

A small checker walking every ``import`` with ``ast`` (including imports inside functions and
``TYPE_CHECKING`` blocks, because a lazy import still ties two rooms together).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Room -> (module prefix, source directory relative to the repository root).
ROOMS: dict[str, tuple[str, str]] = {
    "contracts": ("craftplane.contracts", "src/craftplane/contracts"),
    "operator": ("craftplane_operator", "operator/craftplane_operator"),
    "gateway": ("craftplane_gateway", "api-gateway/craftplane_gateway"),
    "router": ("craftplane_router", "router/craftplane_router"),
    "sandbox": ("craftplane.sandbox", "src/craftplane/sandbox"),
    "testing": ("craftplane.testing", "src/craftplane/testing"),
}
# Core modules shared by the runtime components, beside the contracts.
CORE = (
    "craftplane.command_line",
    "craftplane.health_http",
    "craftplane.kube",
    "craftplane.logs",
    "craftplane.loopwatch",
    "craftplane.rcon",
    "craftplane.supervise",
    "craftplane.tenancy",
    "craftplane.tenant_access",
    "craftplane.tenant_apply",
    "craftplane.tokens",
    "craftplane.watch",
)
CORE_FILES = (
    "clock.py",
    "command_line.py",
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
)

# What each room must never import (prefixes). Runtime rooms never import test tooling.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "contracts": (
        "craftplane_operator",
        "craftplane_gateway",
        "craftplane_router",
        "craftplane.sandbox",
        "craftplane.testing",
        *CORE,
    ),
    "core": (
        "craftplane_operator",
        "craftplane_gateway",
        "craftplane_router",
        "craftplane.sandbox",
        "craftplane.testing",
    ),
    "operator": (
        "craftplane_gateway",
        "craftplane_router",
        "craftplane.sandbox",
        "craftplane.testing",
    ),
    "gateway": (
        "craftplane_operator",
        "craftplane_router",
        "craftplane.sandbox",
        "craftplane.testing",
    ),
    "router": (
        "craftplane_operator",
        "craftplane_gateway",
        "craftplane.sandbox",
        "craftplane.testing",
    ),
    "sandbox": (
        "craftplane_operator",
        "craftplane_gateway",
        "craftplane_router",
        "craftplane.testing",
    ),
    "testing": ("craftplane_operator", "craftplane_gateway", "craftplane_router"),
}


@dataclass(frozen=True)
class Violation:
    room: str
    path: Path
    line: int
    imported: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.room} must not import {self.imported}"


def _module_of(root: Path, path: Path, prefix: str, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([prefix, *parts])


def imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """Every module an AST imports, relative imports resolved against ``module``."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            # `from craftplane import sandbox` imports the subpackage.
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"


def _forbidden(imported: str, prefixes: tuple[str, ...]) -> bool:
    return any(imported == p or imported.startswith(p + ".") for p in prefixes)


def _files(root: Path) -> Iterator[tuple[str, Path, str, Path]]:
    """(room, file, module prefix, base directory) for every module of a runtime room."""
    for room, (prefix, directory) in ROOMS.items():
        base = root / directory
        for path in sorted(base.rglob("*.py")):
            yield room, path, prefix, base
    for name in CORE_FILES:
        path = root / "src" / "craftplane" / name
        if path.exists():
            yield "core", path, "craftplane", path.parent


def violations(root: Path) -> list[Violation]:
    """Every import in the tree at ``root`` that crosses a forbidden room boundary."""
    found: list[Violation] = []
    for room, path, prefix, base in _files(root):
        module = _module_of(root, path, prefix, base)
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, imported in imported_names(tree, module, path.name == "__init__.py"):
            if _forbidden(imported, FORBIDDEN[room]):
                found.append(Violation(room, path.relative_to(root), line, imported))
    return found
