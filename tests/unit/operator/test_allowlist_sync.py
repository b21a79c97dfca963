"""Allowlist and ops over RCON: parsing `whitelist list`, the commands, the condition."""

from __future__ import annotations

import pytest

from craftplane.contracts.lifecycle import AllowlistMode
from craftplane.contracts.status import ConditionStatus
from craftplane_operator.allowlist_sync import (
    APPLIED_ANNOTATION,
    Applied,
    Desired,
    UnrecognizedOutput,
    confirmed,
    outcome,
    parse_whitelist,
    plan_sync,
    read_applied,
)

pytestmark = pytest.mark.unit

ENFORCE, MERGE = AllowlistMode.ENFORCE, AllowlistMode.MERGE


@pytest.mark.parametrize(
    ("output", "names"),
    [
        ("There are no whitelisted players", []),
        ("There are 0 whitelisted player(s): ", []),
        ("There are 2 whitelisted player(s): Alex, Steve", ["Alex", "Steve"]),
        ("There are 1 whitelisted players: Notch\n", ["Notch"]),
        ("There are 2 (out of 5 seen) whitelisted players:\nAlex Steve", ["Alex", "Steve"]),
    ],
)
def test_parse_whitelist(output: str, names: list[str]) -> None:
    assert parse_whitelist(output) == names


@pytest.mark.parametrize(
    "output",
    ["Unknown command", "", "There are 3 whitelisted player(s): a, b"],
    ids=["other answer", "empty", "truncated list"],
)
def test_parse_whitelist_refuses(output: str) -> None:
    with pytest.raises(UnrecognizedOutput):
        parse_whitelist(output)


CASES = [
    (
        "first sync of a fresh server: adds, ops, switches on",
        Desired(("Alex", "Steve"), ("Alex",), ENFORCE),
        ["Alex"],
        Applied(),
        ("whitelist add Steve", "op Alex", "whitelist on"),
        (),
    ),
    (
        "in sync: nothing to run",
        Desired(("Alex",), ("Alex",), ENFORCE),
        ["alex"],
        Applied(("Alex",), True),
        (),
        (),
    ),
    (
        "enforce: a name added in game is drift and removed",
        Desired(("Alex",), (), ENFORCE),
        ["Alex", "Griefer"],
        Applied((), True),
        ("whitelist remove Griefer",),
        ("Griefer",),
    ),
    (
        "merge: drift is kept",
        Desired(("Alex",), (), MERGE),
        ["Alex", "Friend"],
        Applied((), True),
        (),
        ("Friend",),
    ),
    (
        "an op removed from the spec is deopped",
        Desired(("Alex",), ("Alex",), ENFORCE),
        ["Alex"],
        Applied(("Alex", "Steve"), True),
        ("deop Steve",),
        (),
    ),
    (
        "a name the operator applied and the spec dropped is removed, not drift",
        Desired(("Alex", "Notch"), (), ENFORCE),
        ["Alex", "Steve"],
        Applied((), True, ("Alex", "Steve")),
        ("whitelist add Notch", "whitelist remove Steve"),
        (),
    ),
    (
        "merge: a spec removal still removes; only names added in game are kept",
        Desired(("Alex",), (), MERGE),
        ["Alex", "Steve", "Friend"],
        Applied((), True, ("Alex", "Steve")),
        ("whitelist remove Steve",),
        ("Friend",),
    ),
    (
        "the list becomes empty: removed, switched off",
        Desired((), (), ENFORCE),
        ["Alex"],
        Applied((), True),
        ("whitelist remove Alex", "whitelist off"),
        ("Alex",),
    ),
    (
        "merge keeps drift, so the list stays on",
        Desired((), (), MERGE),
        ["Friend"],
        Applied((), True),
        (),
        ("Friend",),
    ),
]


@pytest.mark.parametrize(
    ("desired", "listed", "applied", "commands", "drift"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_plan_sync(
    desired: Desired,
    listed: list[str],
    applied: Applied,
    commands: tuple[str, ...],
    drift: tuple[str, ...],
) -> None:
    planned = plan_sync(desired, listed, applied)
    assert planned.commands == commands
    assert planned.drift == drift
    assert planned.applied.ops == tuple(sorted(desired.ops))
    # Running the commands and planning again changes nothing.
    after = plan_sync(
        desired,
        [*desired.allowlist, *drift] if desired.mode is MERGE else list(desired.allowlist),
        planned.applied,
    )
    assert after.commands == ()


def test_applied_round_trips_through_the_annotation() -> None:
    applied = Applied(("Steve", "Alex"), True)
    assert read_applied({APPLIED_ANNOTATION: applied.encode()}) == Applied(("Alex", "Steve"), True)
    assert read_applied({APPLIED_ANNOTATION: "not json"}) == Applied()
    assert read_applied({}) == Applied()


@pytest.mark.parametrize(
    ("mode", "drift", "wrong", "status", "reason", "named"),
    [
        (ENFORCE, (), [], ConditionStatus.TRUE, "Synced", None),
        (ENFORCE, ("Griefer",), [], ConditionStatus.TRUE, "DriftReverted", "Griefer"),
        (MERGE, ("Friend",), [], ConditionStatus.TRUE, "DriftKept", "Friend"),
        (ENFORCE, (), ["Ghost"], ConditionStatus.FALSE, "NotConfirmed", "Ghost"),
    ],
)
def test_outcome(
    mode: AllowlistMode,
    drift: tuple[str, ...],
    wrong: list[str],
    status: ConditionStatus,
    reason: str,
    named: str | None,
) -> None:
    result = outcome(mode, drift, wrong)
    assert (result.status, result.reason) == (status, reason)
    if named:
        assert named in result.message


def test_confirmed_names_what_still_differs() -> None:
    desired = Desired(("Alex", "Ghost"), (), ENFORCE)
    assert confirmed(desired, ["alex", "Extra"]) == ["Ghost", "Extra"]
    assert confirmed(Desired(("Alex",), (), MERGE), ["Alex", "Extra"]) == []
