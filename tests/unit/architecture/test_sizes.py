"""Size limits: a module over 400 lines or a function over 80 lines is doing more than one job.

Tests and the benchmarks are exempt (a table of cases is long by nature); the chaos suite's
modules are not, because they are library code for the one chaos test.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CHECKED = ("src", "operator", "api-gateway", "router", "e2e/chaos")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def modules(root: Path) -> Iterator[Path]:
    for directory in CHECKED:
        yield from sorted((root / directory).rglob("*.py"))


def long_functions(path: Path, limit: int) -> Iterator[tuple[str, int]]:
    """(qualified name, length) of every function in ``path`` longer than ``limit`` lines."""
    tree = ast.parse(path.read_text(), filename=str(path))

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    length = (child.end_lineno or child.lineno) - child.lineno + 1
                    if length > limit:
                        yield name, length
                yield from walk(child, f"{name}.")
            else:
                yield from walk(child, prefix)

    yield from walk(tree, "")


def test_no_module_is_over_the_limit() -> None:
    over = [
        f"{path.relative_to(ROOT)}: {n} lines"
        for path in modules(ROOT)
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert not over, "\n".join(over)


def test_no_function_is_over_the_limit() -> None:
    over = [
        f"{path.relative_to(ROOT)}: {name} is {length} lines"
        for path in modules(ROOT)
        for name, length in long_functions(path, MAX_FUNCTION_LINES)
    ]
    assert not over, "\n".join(over)


def test_the_function_check_sees_nested_and_async_functions(tmp_path: Path) -> None:
    body = "".join(f"        x{i} = {i}\n" for i in range(5))
    path = tmp_path / "m.py"
    path.write_text(f"class C:\n    async def f(self) -> None:\n{body}\n\ndef g():\n    pass\n")
    assert list(long_functions(path, 3)) == [("C.f", 6)]
