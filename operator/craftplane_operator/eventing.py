"""Which JetStream events a MinecraftServer's state calls for: the contracts' mapping.

Kept as a name the operator's modules import while the reconciler is being split (issue 11,
part B); the mapping itself is :mod:`craftplane.contracts.cr_events`, shared with the gateway.
Import from there in new code.
"""

from __future__ import annotations

from craftplane.contracts.cr_events import phase_event, spec_event

__all__ = ["phase_event", "spec_event"]
