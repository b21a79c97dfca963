"""The end state the chaos test promises, checked from outside: CRs, projected rows, WebSocket
views, the stream, the children and the timeline. Each invariant is a function returning the
problems it found (empty: it holds)."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any

import asyncpg

from craftplane.contracts import events as contract
from craftplane.contracts.phases import PROJECTED_STATUS
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.servers import CHILD_KINDS, CHILDREN_PER_SERVER
from e2e.chaos.liveview import LiveView
from e2e.chaos.observe import projected_rows, stream_events_since

# CR phase -> projected status, as the contract maps it.
PROJECTED = {phase.value: status.value for phase, status in PROJECTED_STATUS.items()}


@dataclass
class Verdict:
    problems: list[str]
    crs: dict[str, dict[str, Any]]
    rows: dict[str, dict[str, Any]]

    def __bool__(self) -> bool:
        return not self.problems


def _sample(items: list[str], limit: int = 8) -> str:
    more = f" ... and {len(items) - limit} more" if len(items) > limit else ""
    return "; ".join(items[:limit]) + more


def _cr_problems(crs: dict[str, dict[str, Any]], names: list[str]) -> list[str]:
    """Every CR exists and is in the phase its spec asks for, at its current generation."""
    problems: list[str] = []
    if sorted(crs) != sorted(names):
        problems.append(f"CRs {sorted(set(crs) ^ set(names))} missing or unexpected")
    unsettled = []
    for name, cr in crs.items():
        status = cr.get("status") or {}
        wanted = "Stopped" if (cr.get("spec") or {}).get("stopped") else "Running"
        generation = cr["metadata"].get("generation")
        if status.get("phase") != wanted or status.get("observedGeneration") != generation:
            unsettled.append(
                f"{name}: {status.get('phase')} (gen {status.get('observedGeneration')}/"
                f"{generation}), spec wants {wanted}"
            )
    if unsettled:
        problems.append(f"{len(unsettled)} CRs not settled: {_sample(unsettled)}")
    return problems


def _row_problems(
    rows: dict[str, dict[str, Any]],
    crs: dict[str, dict[str, Any]],
    phases: dict[str, str | None],
) -> list[str]:
    """Every CR's projected status (servers table) is the one its phase maps to."""
    wrong_rows = [
        f"{name}: row {row['status'] if row else None}, CR {phases.get(name)}"
        for name in sorted(set(rows) | set(crs))
        if (row := rows.get(name)) is None or row["status"] != PROJECTED.get(phases.get(name) or "")
    ]
    if wrong_rows:
        return [f"{len(wrong_rows)} projected statuses differ: {_sample(wrong_rows)}"]
    return []


def _view_problems(views: list[LiveView], rows: dict[str, dict[str, Any]]) -> list[str]:
    """Every WebSocket client holds a snapshot and the state the database holds."""
    problems: list[str] = []
    for view in views:
        if not view.synced:
            problems.append(f"WebSocket client {view.label} holds no snapshot")
            continue
        differ = [
            f"{name}: ws {(view.servers.get(name) or {}).get('status')}, db {row['status']}"
            for name, row in rows.items()
            if (view.servers.get(name) or {}).get("status") != row["status"]
        ]
        extra = sorted(set(view.servers) - set(rows))
        if differ or extra:
            problems.append(
                f"WebSocket client {view.label} differs from the database: "
                f"{_sample(differ + [f'{n}: not in the database' for n in extra])}"
            )
    return problems


def _stream_problems(
    events: list[tuple[int, contract.Event]],
    crs: dict[str, dict[str, Any]],
    phases: dict[str, str | None],
) -> list[str]:
    """The stream's last phase event per server (of the CR's uid) is the CR's phase."""
    last_phase: dict[str, str] = {}
    for _, event in events:
        assert event.server is not None
        cr_uid = crs.get(event.server.name or "", {}).get("metadata", {}).get("uid")
        if event.phase is not None and event.server.name and event.server.uid == cr_uid:
            last_phase[event.server.name] = event.phase.value
    stale = [
        f"{name}: stream {last_phase.get(name)}, CR {phase}"
        for name, phase in phases.items()
        if last_phase.get(name) != phase
    ]
    if stale:
        return [f"{len(stale)} servers' last stream event differs: {_sample(stale)}"]
    return []


async def _children_problems(kubectl: Kubectl, namespace: str, names: list[str]) -> list[str]:
    """Every server has exactly its children (one of each kind, two Services)."""
    counts: dict[str, Counter[str | None]] = {}
    for kind in CHILD_KINDS:
        items = (await asyncio.to_thread(kubectl.json, "get", kind, "-n", namespace))["items"]
        counts[kind] = Counter(
            (item["metadata"].get("labels") or {}).get("craftplane.io/server") for item in items
        )
    wrong_children = [
        f"{name}: {kind} x{counts[kind][name]}"
        for name in names
        for kind in CHILD_KINDS
        if counts[kind][name] != CHILDREN_PER_SERVER[kind]
    ]
    if wrong_children:
        return [f"children not exactly as expected: {_sample(wrong_children)}"]
    return []


async def _timeline_problems(
    dsn: str, namespace: str, events: list[tuple[int, contract.Event]]
) -> list[str]:
    """The timeline (server_events) holds every stream event once, and no stream message twice."""
    problems: list[str] = []
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        timeline = await conn.fetch(
            "SELECT event_id, stream_seq FROM server_events WHERE namespace = $1", namespace
        )
    finally:
        await conn.close()
    ids = Counter(r["event_id"] for r in timeline)
    seqs = Counter(r["stream_seq"] for r in timeline if r["stream_seq"] is not None)
    doubled = [f"event {i[:12]} x{n}" for i, n in ids.items() if n > 1]
    doubled += [f"stream message {s} x{n}" for s, n in seqs.items() if n > 1]
    if doubled:
        problems.append(f"timeline rows doubled: {_sample(doubled)}")
    lost = sorted({e.id for _, e in events if not e.type.is_sync} - set(ids))
    if lost:
        problems.append(f"{len(lost)} stream events not in the timeline: {_sample(lost)}")
    return problems


async def check(
    *,
    kubectl: Kubectl,
    namespace: str,
    names: list[str],
    dsn: str,
    views: list[LiveView],
    nats_url: str,
    start_seq: int,
    deep: bool,
) -> Verdict:
    """Every promise of the end state; `deep` adds the stream, the children and the timeline."""
    listing = await asyncio.to_thread(kubectl.json, "get", "minecraftservers", "-n", namespace)
    crs = {item["metadata"]["name"]: item for item in listing["items"]}
    problems = _cr_problems(crs, names)
    phases = {name: (cr.get("status") or {}).get("phase") for name, cr in crs.items()}
    rows = await projected_rows(dsn, namespace)
    problems += _row_problems(rows, crs, phases)
    problems += _view_problems(views, rows)
    if problems or not deep:
        return Verdict(problems, crs, rows)

    events = await stream_events_since(nats_url, start_seq, namespace)
    problems += _stream_problems(events, crs, phases)
    problems += await _children_problems(kubectl, namespace, names)
    problems += await _timeline_problems(dsn, namespace, events)
    return Verdict(problems, crs, rows)


async def explain_ws(dsn: str, namespace: str, views: list[LiveView]) -> None:
    """For WebSocket clients that differ from the database: when they last got a snapshot, and
    when the servers' latest states were published and recorded."""
    rows = await projected_rows(dsn, namespace)
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        for view in views:
            differ = [
                n
                for n, r in rows.items()
                if (view.servers.get(n) or {}).get("status") != r["status"]
            ]
            if not differ:
                continue
            snaps = [t.strftime("%H:%M:%S.%f")[:-3] for t in view.snapshot_times[-3:]]
            print(f"ws {view.label}: {len(differ)} differ; last snapshots at {snaps}")
            for name in differ[:3]:
                print(
                    f"  {name}: ws {view.servers.get(name, {}).get('status')}, db {rows[name]['status']}"
                )
                for r in await conn.fetch(
                    "SELECT type, status, stream_seq, event_time, recorded_at FROM server_events"
                    " WHERE uid = $1 ORDER BY seq DESC LIMIT 3",
                    rows[name]["uid"],
                ):
                    print(
                        f"    {r['type']:<16} {r['status']!s:<10} seq {r['stream_seq']!s:<6}"
                        f" published {r['event_time']:%H:%M:%S.%f} recorded {r['recorded_at']:%H:%M:%S.%f}"
                    )
    finally:
        await conn.close()
