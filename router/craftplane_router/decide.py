"""What the router does with a connection (pure): from its handshake and the Route of the
hostname it asked for, forward it, answer its status ping, refuse its login, or wake a server.

Whatever a player sees is readable: a status ping is answered with a MOTD in the server list,
a login with a disconnect reason on the screen, never a dropped connection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from craftplane_router.handshake import Handshake
from craftplane_router.routes import Route, State

DEFAULT_SLEEPING_MOTD: Final = "§7Sleeping — join to wake it"
ARCHIVED_MOTD: Final = "§7Archived — join to restore it (takes a few minutes)"
# The host a client asked for is echoed back: never more than a hostname's length, and
# without control characters or '§' (formatting codes it could use to forge a message).
_UNPRINTABLE: Final = re.compile(r"[\x00-\x1f\x7f§]")
MAX_ECHOED: Final = 253


class Action(StrEnum):
    FORWARD = "forward"
    ANSWER = "answer"  # a status ping answered by the router
    REFUSE = "refuse"  # a login refused with a disconnect reason
    WAKE = "wake"  # a login to a sleeping (or waking) server


@dataclass(frozen=True)
class Decision:
    action: Action
    route: Route | None
    text: str = ""  # the MOTD of an answer, the reason of a refusal
    result: str = "routed"  # the connections metric's result label


def printable(host: str) -> str:
    return _UNPRINTABLE.sub("", host)[:MAX_ECHOED] or "this address"


_STATUS_WORDS: Final = {
    State.STARTING: ("is starting", "is starting; try again in a moment"),
    State.WAKING: ("is starting", "is starting; rejoin in a moment"),
    State.STOPPED: ("is stopped", "is stopped; its owner can start it"),
    State.ERROR: ("is not available", "is not available right now; try again later"),
    State.UNKNOWN: ("is not ready yet", "is not ready yet; try again in a moment"),
}


def motd(route: Route, sleeping_motd: str = DEFAULT_SLEEPING_MOTD) -> str:
    """The server-list line for a server the router answers for."""
    if route.state is State.SLEEPING and route.archived:
        return ARCHIVED_MOTD
    if route.state is State.SLEEPING:
        return sleeping_motd.replace("{server}", route.name)
    short, _ = _STATUS_WORDS.get(route.state, _STATUS_WORDS[State.UNKNOWN])
    return f"§e{route.name}§r {short}"


def refusal(route: Route) -> str:
    """The disconnect reason of a login the router refuses for a known server."""
    if route.state is State.SLEEPING and not route.wakeable:
        return (
            f"{route.name} is asleep and its last wakes failed, so joining no longer wakes it; "
            "ask its owner to start it"
        )
    if route.state is State.SLEEPING:
        return f"{route.name} is asleep and cannot be woken from here; ask its owner to start it"
    _, long = _STATUS_WORDS.get(route.state, _STATUS_WORDS[State.UNKNOWN])
    return f"{route.name} {long}"


def unreachable(route: Route) -> str:
    return f"{route.name} is running but cannot be reached right now; try again in a moment"


def decide(
    handshake: Handshake, route: Route | None, sleeping_motd: str = DEFAULT_SLEEPING_MOTD
) -> Decision:
    if route is None:
        host = printable(handshake.key)
        if handshake.login:
            text = f"There is no server at {host}. Check the address."
            return Decision(Action.REFUSE, None, text, "unknown_host")
        return Decision(Action.ANSWER, None, f"§cNo server at {host}", "unknown_host")
    if route.state is State.RUNNING:
        return Decision(Action.FORWARD, route)
    if not handshake.login:
        return Decision(Action.ANSWER, route, motd(route, sleeping_motd), f"answered_{route.state}")
    if route.state is State.SLEEPING and not route.wakeable:
        return Decision(Action.REFUSE, route, refusal(route), "refused_unwakeable")
    if route.state in (State.SLEEPING, State.WAKING):
        # The waker asks for the wake (once: a waking server is not asked again) and holds
        # the player or tells them when to rejoin.
        return Decision(Action.WAKE, route, refusal(route), str(route.state))
    return Decision(Action.REFUSE, route, refusal(route), f"refused_{route.state}")
