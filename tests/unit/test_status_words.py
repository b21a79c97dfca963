"""The projected status words are spelled in the contracts and the SQL migration only.

Everything else names them through ``ServerState``. The check reads Python files with
``ast``: a word counts when it is a whole string literal (``"running"``) or quoted inside
one (SQL's ``'deleted'``), not in docstrings, comments, prose or other words.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from craftplane.contracts.phases import ServerState

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
MIGRATION = ROOT / "api-gateway/craftplane_gateway/db/migrations/0001_init.sql"
CONTRACT = Path("src/craftplane/contracts/phases.py")
RUNTIME = ("src/craftplane", "operator", "api-gateway")
# Test infrastructure, like tests/ and bench/: its "running"/"stopped" are process states.
NOT_RUNTIME = ("src/craftplane/sandbox", "src/craftplane/testing")
WORDS = frozenset(s.value for s in ServerState)
_QUOTED = re.compile("'({})'".format("|".join(sorted(WORDS))))

# The same spelling with another meaning: (file, word) -> why it is not a status.
OTHER_MEANINGS = {
    ("src/craftplane/cli.py", "running"): "the sandbox's process state in `craftplane status`",
    ("operator/craftplane_operator/players.py", "failed"): "a ping metric's outcome label",
    ("api-gateway/craftplane_gateway/db/rules.py", "deleted"): "Verdict.DELETED's value",
    ("api-gateway/craftplane_gateway/ws_frames.py", "deleted"): "Change.DELETED's value (a watch)",
}


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            for statement in node.body:
                # The leading docstring, and attribute docstrings after a class's fields.
                if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                    found.add(id(statement.value))
    return found


def _field_names(tree: ast.AST) -> set[int]:
    """Literals used as keys (``{"stopped": ...}``, ``x["stopped"]``, ``x.get("stopped")``):
    the spec's field names, not status values."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            found.update(id(key) for key in node.keys if key is not None)
        elif isinstance(node, ast.Subscript):
            found.add(id(node.slice))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
        ):
            found.add(id(node.args[0]))
    return found


def status_literals(source: str) -> Iterator[tuple[int, str]]:
    """(line, word) for each status word spelled as a value in ``source``."""
    tree = ast.parse(source)
    skip = _docstrings(tree) | _field_names(tree)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        if id(node) in skip:
            continue
        if node.value in WORDS:
            yield node.lineno, node.value
        for match in _QUOTED.finditer(node.value):
            yield node.lineno, match.group(1)


def runtime_files() -> Iterator[Path]:
    for top in RUNTIME:
        for path in sorted((ROOT / top).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if not str(relative).startswith(NOT_RUNTIME):
                yield relative


def test_the_check_sees_values_and_not_prose() -> None:
    source = '''
"""Module docstring: running, stopped."""
STATUS = "running"
QUERY = "SELECT * FROM servers WHERE status <> 'deleted'"
PROSE = "the server keeps running out of memory"
FIELD = {"stopped": True}
OTHER = spec.get("stopped"), spec["stopped"], "undeleted", "deploying-soon"
class A:
    x: int = 1
    """Attribute docstring: failed."""
# a comment: terminating
'''
    assert list(status_literals(source)) == [(3, "running"), (4, "deleted")]


def test_status_words_are_spelled_only_in_the_contracts() -> None:
    found: dict[tuple[str, str], list[int]] = {}
    for path in runtime_files():
        if path == CONTRACT:
            continue
        for line, word in status_literals((ROOT / path).read_text()):
            found.setdefault((str(path), word), []).append(line)
    stray = {key: lines for key, lines in found.items() if key not in OTHER_MEANINGS}
    assert not stray, f"use craftplane.contracts.phases.ServerState instead: {stray}"
    # Each exception is still needed (so the list cannot hide a new use in that file).
    assert set(OTHER_MEANINGS) <= set(found)
    assert {word for _, word in status_literals((ROOT / CONTRACT).read_text())} == WORDS


def _check_values(sql: str) -> list[str]:
    match = re.search(r"CHECK \(status IN \(([^)]*)\)\)", sql)
    assert match is not None, "the servers.status CHECK is missing"
    return re.findall(r"'([^']*)'", match.group(1))


def test_the_sql_check_is_the_enum() -> None:
    assert _check_values(MIGRATION.read_text()) == [s.value for s in ServerState]
    # The migration spells them in that CHECK and nowhere else but comments.
    code = "\n".join(line.split("--")[0] for line in MIGRATION.read_text().splitlines())
    assert len(_QUOTED.findall(code)) == len(WORDS)
