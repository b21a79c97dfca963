"""Errors the sandbox reports to its user as one clear line."""


class SandboxError(RuntimeError):
    """Something the user can act on: a port taken, a binary that did not build, a timeout."""
