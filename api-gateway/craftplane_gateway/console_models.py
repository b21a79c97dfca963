"""The console's wire models and the check of one command (pure), shared by REST and the
WebSocket."""

from __future__ import annotations

import unicodedata
from typing import Final

from pydantic import Field

from craftplane_gateway.schemas import Timestamp, WireModel

MAX_COMMAND_LENGTH: Final = 256
# Line and paragraph separators end a line as surely as \n does.
_LINE_BREAKS: Final = frozenset({"Zl", "Zp"})


class ConsoleCommand(WireModel):
    """Body of ``POST /api/v1/servers/{name}/console``."""

    command: str = Field(
        description=(
            f"One console command, 1 to {MAX_COMMAND_LENGTH} characters on one line, no "
            "control characters; without a leading slash, as typed in the server console."
        ),
        examples=["say hello"],
    )


class ConsoleReply(WireModel):
    """What the server answered over RCON."""

    command: str
    output: str = Field(description="The RCON reply, as the server printed it (may be empty).")
    at: Timestamp = Field(description="When the reply came (RFC 3339).")


def command_problem(command: str) -> str | None:
    """Why ``command`` is not one console command, or None when it is."""
    if not command.strip():
        return "must not be empty"
    if len(command) > MAX_COMMAND_LENGTH:
        return f"must be at most {MAX_COMMAND_LENGTH} characters"
    for char in command:
        category = unicodedata.category(char)
        if category == "Cc" or category in _LINE_BREAKS:
            return "must be one line without control characters"
    return None
