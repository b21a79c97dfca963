"""Churn: servers stopped and started on a schedule, as users would, while the faults happen."""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field

from craftplane.testing.kubectl import Kubectl
from e2e.chaos.observe import kubectl_async


@dataclass
class Churn:
    kubectl: Kubectl
    namespace: str
    names: list[str]
    rng: random.Random
    stopped: dict[str, bool] = field(default_factory=dict)
    toggles: int = 0
    failed: int = 0

    async def run(self, every: float, batch: int, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.gather(*(self.toggle(n) for n in self.rng.sample(self.names, batch)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    async def toggle(self, name: str) -> None:
        wanted = not self.stopped.get(name, False)
        ok = await kubectl_async(
            self.kubectl,
            "patch",
            "minecraftserver",
            name,
            "-n",
            self.namespace,
            "--type=merge",
            "-p",
            f'{{"spec": {{"stopped": {"true" if wanted else "false"}}}}}',
            "--request-timeout=10s",
        )
        if ok:
            self.stopped[name] = wanted
            self.toggles += 1
        else:
            self.failed += 1  # the API server is away: a user would retry later
