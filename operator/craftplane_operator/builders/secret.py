"""The Secret holding the RCON password."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping
from typing import Any, Final

from craftplane_operator.builders.context import ServerContext
from craftplane_operator.builders.meta import object_meta
from craftplane_operator.builders.naming import RCON_PASSWORD_KEY, secret_name

PASSWORD_LENGTH: Final = 32
# token_urlsafe(n) yields ceil(4n/3) characters: 24 random bytes -> 32 chars.
_PASSWORD_BYTES: Final = PASSWORD_LENGTH * 3 // 4


def generate_password() -> str:
    """A fresh RCON password: 32 URL-safe characters (192 bits)."""
    return secrets.token_urlsafe(_PASSWORD_BYTES)


def build_secret(server: ServerContext, password: str) -> dict[str, Any]:
    """Secret ``<name>-rcon``.

    ``data`` rather than ``stringData``: the API server never stores
    stringData, so applying it would look like a change on every reconcile.
    """
    encoded = base64.b64encode(password.encode()).decode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": object_meta(server, secret_name(server.name)),
        "type": "Opaque",
        "data": {RCON_PASSWORD_KEY: encoded},
    }


def existing_password(secret: Mapping[str, Any] | None) -> str | None:
    """The password stored in an existing Secret, so the reconciler can reuse it
    (changing it would lock the operator out of the running server's RCON)."""
    if not secret:
        return None
    encoded = (secret.get("data") or {}).get(RCON_PASSWORD_KEY)
    if not encoded:
        return None
    try:
        password = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password or None
