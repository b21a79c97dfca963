"""What the router does with a connection, for each kind of server and each next state."""

from __future__ import annotations

from dataclasses import replace

import pytest

from craftplane_router.decide import Action, decide, motd, printable, refusal
from craftplane_router.handshake import Handshake, NextState
from craftplane_router.routes import Route, State
from tests.unit.router.factories import route

pytestmark = pytest.mark.unit


def _hello(state: NextState, address: str = "Survival.Acme.Play.Example.Com") -> Handshake:
    return Handshake(769, address, 25565, state, 40)


STATUS, LOGIN, TRANSFER = NextState.STATUS, NextState.LOGIN, NextState.TRANSFER


@pytest.mark.parametrize(
    ("state", "next_state", "action", "result", "text"),
    [
        (
            None,
            STATUS,
            Action.ANSWER,
            "unknown_host",
            "§cNo server at survival.acme.play.example.com",
        ),
        (
            None,
            LOGIN,
            Action.REFUSE,
            "unknown_host",
            "There is no server at survival.acme.play.example.com. Check the address.",
        ),
        (State.RUNNING, STATUS, Action.FORWARD, "routed", ""),
        (State.RUNNING, LOGIN, Action.FORWARD, "routed", ""),
        (State.RUNNING, TRANSFER, Action.FORWARD, "routed", ""),
        (State.STOPPED, STATUS, Action.ANSWER, "answered_stopped", "§esurvival§r is stopped"),
        (
            State.STOPPED,
            LOGIN,
            Action.REFUSE,
            "refused_stopped",
            "survival is stopped; its owner can start it",
        ),
        (State.STARTING, STATUS, Action.ANSWER, "answered_starting", "§esurvival§r is starting"),
        (
            State.STARTING,
            TRANSFER,
            Action.REFUSE,
            "refused_starting",
            "survival is starting; try again in a moment",
        ),
        (State.ERROR, STATUS, Action.ANSWER, "answered_error", "§esurvival§r is not available"),
        (
            State.ERROR,
            LOGIN,
            Action.REFUSE,
            "refused_error",
            "survival is not available right now; try again later",
        ),
        (State.UNKNOWN, STATUS, Action.ANSWER, "answered_unknown", "§esurvival§r is not ready yet"),
        (
            State.SLEEPING,
            STATUS,
            Action.ANSWER,
            "answered_sleeping",
            "§7Sleeping — join to wake it",
        ),
        (
            State.SLEEPING,
            LOGIN,
            Action.WAKE,
            "sleeping",
            "survival is asleep and cannot be woken from here; ask its owner to start it",
        ),
        # Woken and on its way: pings say so (never the sleeping MOTD, never a wake), logins
        # go to the waker, which holds them or says when to rejoin (without asking again).
        (State.WAKING, STATUS, Action.ANSWER, "answered_waking", "§esurvival§r is starting"),
        (State.WAKING, LOGIN, Action.WAKE, "waking", "survival is starting; rejoin in a moment"),
    ],
)
def test_the_decision_for_each_server_state(
    state: State | None, next_state: NextState, action: Action, result: str, text: str
) -> None:
    target = None if state is None else route(state=state)
    decision = decide(_hello(next_state), target)
    assert (decision.action, decision.result, decision.text) == (action, result, text)
    assert decision.route == target


def test_a_server_joins_no_longer_wake_is_refused_not_woken() -> None:
    unwakeable = replace(route(state=State.SLEEPING), wakeable=False)
    login = decide(_hello(LOGIN), unwakeable)
    assert (login.action, login.result) == (Action.REFUSE, "refused_unwakeable")
    assert "joining no longer wakes it" in login.text and "owner" in login.text
    ping = decide(_hello(STATUS), unwakeable)
    assert (ping.action, ping.text) == (Action.ANSWER, "§7Sleeping — join to wake it")


def test_the_sleeping_motd_is_a_setting_and_may_name_the_server() -> None:
    sleeping = route("lobby", State.SLEEPING)
    decision = decide(_hello(STATUS), sleeping, "{server} is asleep: join to wake it")
    assert decision.text == "lobby is asleep: join to wake it"
    assert motd(sleeping, "zzz") == "zzz"


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        ("mc.example.org", "mc.example.org"),
        ("§4fake§r.example.org", "4faker.example.org"),
        ("a\nb\x7fc", "abc"),
        ("", "this address"),
        ("x" * 300, "x" * 253),
    ],
)
def test_an_echoed_hostname_cannot_format_or_flood_the_message(host: str, shown: str) -> None:
    assert printable(host) == shown


def test_every_refusal_is_a_readable_sentence() -> None:
    for state in State:
        text = refusal(Route("tenant-a", "hub", "h", 1, state))
        assert text.startswith("hub ") and len(text) < 120
