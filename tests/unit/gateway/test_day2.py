"""The pure parts of the day-2 API: console limit and checks, log framing, timeline entries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from craftplane import tokens
from craftplane.kube import KubeError, LineSplitter
from craftplane_gateway import audit, problems
from craftplane_gateway.console_models import MAX_COMMAND_LENGTH, command_problem
from craftplane_gateway.ratelimit import TokenBuckets
from craftplane_gateway.routes import logs as log_route
from craftplane_gateway.routes.console import check_command, parse_body
from craftplane_gateway.routes.ws_console import container_instance, error_frame, reopen_params

pytestmark = pytest.mark.unit

KEY = "k" * 40


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- rate limit ---------------------------------------------------------------------


def test_bucket_allows_a_burst_then_the_rate() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(5, 10, clock=clock)
    assert all(buckets.take("a").allowed for _ in range(10))
    refused = buckets.take("a")
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(0.2)
    assert refused.retry_after_seconds == 1
    clock.now += 0.2
    assert buckets.take("a").allowed
    assert not buckets.take("a").allowed


def test_buckets_are_per_tenant() -> None:
    buckets = TokenBuckets(1, 1, clock=FakeClock())
    assert buckets.take("a").allowed
    assert not buckets.take("a").allowed
    assert buckets.take("b").allowed


def test_a_thousand_in_one_second_lets_burst_plus_rate_through() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(5, 10, clock=clock)
    allowed = 0
    for i in range(1000):
        clock.now = 1000.0 + i / 1000
        allowed += buckets.take("a").allowed
    assert allowed == 10 + 4  # the burst, and 5/s over the 0.999 s


def test_retry_after_rounds_up_to_whole_seconds() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(0.4, 1, clock=clock)
    buckets.take("a")
    assert buckets.take("a").retry_after_seconds == 3  # 2.5 s


def test_refill_never_exceeds_the_burst() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(5, 2, clock=clock)
    clock.now += 3600
    assert [buckets.take("a").allowed for _ in range(3)] == [True, True, False]


def test_bucket_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        TokenBuckets(0, 1)
    with pytest.raises(ValueError):
        TokenBuckets(1, 0)


# --- console body -------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    ["", "   ", "say a\nb", "say a\rb", "say \x00", "say \x1b[31m", "say a\u2028b", "x" * 257],
)
def test_bad_commands_are_refused_with_the_field(command: str) -> None:
    assert command_problem(command) is not None
    with pytest.raises(problems.Problem) as caught:
        check_command(command)
    assert caught.value.status == 400
    assert caught.value.errors[0]["field"] == "command"


@pytest.mark.parametrize("command", ["list", "say hello", "say héllo ☃", "x" * MAX_COMMAND_LENGTH])
def test_good_commands_pass(command: str) -> None:
    assert check_command(command) == command


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"\xff", 400),
        (b"[]", 422),
        (b"{}", 422),
        (b'{"command": 5}', 422),
        (b'{"command": "list", "extra": 1}', 422),
        (b'{"command": "a\\nb"}', 400),
    ],
)
def test_bad_bodies(body: bytes, status: int) -> None:
    with pytest.raises(problems.Problem) as caught:
        parse_body(body)
    assert caught.value.status == status


def test_good_body() -> None:
    assert parse_body(json.dumps({"command": "say hello"}).encode()) == "say hello"


# --- logs ---------------------------------------------------------------------------


def test_sse_framing() -> None:
    assert log_route.sse_event("hello") == "data: hello\n\n"
    assert log_route.sse_event("") == "data: \n\n"
    assert log_route.sse_event("a\rb") == "data: a\ndata: b\n\n"
    assert log_route.text_line("hello") == "hello\n"


@pytest.mark.parametrize(
    ("accept", "sse"),
    [
        ("text/event-stream", True),
        ("text/plain, text/event-stream;q=0.9", True),
        ("*/*", False),
        ("", False),
    ],
)
def test_sse_is_asked_for_by_accept(accept: str, sse: bool) -> None:
    assert log_route.wants_sse(accept) is sse


def test_log_params() -> None:
    params = log_route.log_params(tail=50, follow=True, previous=False)
    assert params == {
        "container": "minecraft",
        "follow": "true",
        "previous": "false",
        "timestamps": "false",
        "tailLines": "50",
    }


@pytest.mark.parametrize(
    ("status", "expected"), [(0, 503), (500, 503), (404, 409), (400, 409), (403, 403)]
)
def test_log_refusals(status: int, expected: int) -> None:
    exc = KubeError(status, "boom", {"message": 'previous terminated container "minecraft"'})
    assert log_route.log_problem(exc, "alpha").status == expected


def test_line_splitter_joins_chunks_and_cuts_long_lines() -> None:
    splitter = LineSplitter(max_bytes=8)
    assert splitter.feed(b"one\ntw") == ["one"]
    assert splitter.feed(b"o\r\nthr") == ["two"]
    assert splitter.feed("é\n".encode()) == ["thré"]
    assert splitter.feed(b"0123456789") == ["01234567"]
    assert splitter.close() == ["89"]
    assert splitter.close() == []


def test_console_reopens_where_it_should() -> None:
    first = reopen_params(100, None, ("u1", 0), None)
    assert first["tailLines"] == "100" and first["follow"] == "true"
    new = reopen_params(100, ("u1", 0), ("u1", 1), 1.0)
    assert new["tailLines"] == "5000"
    same = reopen_params(100, ("u1", 0), ("u1", 0), 0.0)
    assert "tailLines" not in same and int(same["sinceSeconds"]) >= 1


def test_container_instance() -> None:
    pod = {
        "metadata": {"uid": "u"},
        "status": {"containerStatuses": [{"name": "minecraft", "restartCount": 3}]},
    }
    assert container_instance(pod) == ("u", 3)
    assert container_instance(None) is None


def test_console_error_frame_spells_retry_after() -> None:
    limited = problems.too_many_requests("slow down", retry_after=2)
    assert error_frame("alpha", "c1", limited) == {
        "type": "console.error",
        "server": "alpha",
        "id": "c1",
        "status": 429,
        "detail": "slow down",
        "retryAfter": 2,
    }
    gone = error_frame("alpha", None, problems.not_found("alpha"))
    assert gone["status"] == 404 and gone["retryAfter"] is None


# --- timeline entries ---------------------------------------------------------------


def test_changed_paths_of_a_patch() -> None:
    before: dict[str, Any] = {
        "resources": {"memory": "2Gi", "cpu": "1"},
        "properties": {"motd": "hi", "maxPlayers": 20},
        "allowlist": ["a"],
    }
    patch = {"resources": {"memory": "4Gi"}, "properties": {"motd": "yo"}, "allowlist": ["a"]}
    after = audit.changed_paths(before, {**before, **_merged(before, patch)})
    assert after == ["spec.properties.motd", "spec.resources.memory"]
    assert audit.update_message(after) == "changed spec.properties.motd, spec.resources.memory"
    assert audit.update_message([]) == "changed nothing"
    removed = audit.changed_paths({"properties": {"motd": "x"}}, {"properties": {}})
    assert removed == ["spec.properties.motd"]


def _merged(before: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    from craftplane_gateway.schemas import merge_patch

    merged: dict[str, Any] = merge_patch(before, patch)
    return merged


def test_which_changes_restart_the_server() -> None:
    assert not audit.restarts_server(
        ["spec.allowlist", "spec.ops", "spec.lifecycle.announceSeconds"]
    )
    assert not audit.restarts_server(["spec.stopped", "spec.allowlistMode"])
    assert audit.restarts_server(["spec.allowlist", "spec.resources.jvm.heap"])
    assert audit.restarts_server(["spec.properties.motd"])


def test_messages() -> None:
    assert audit.console_message("say hello") == "ran `say hello`"
    assert audit.console_message("say `x`") == "ran `say 'x'`"
    assert "did not answer: timed out" in audit.console_message("list", "timed out")
    assert len(audit.shown_command("x" * 300)) < 130
    assert audit.create_message({"type": "PAPER", "version": "1.21.4"}) == "created (PAPER 1.21.4)"
    assert audit.create_message({}) == "created"


def test_entry_frame_and_ref() -> None:
    cr = {"metadata": {"uid": "u1", "namespace": "tenant-acme", "name": "alpha"}}
    ref = audit.ServerRef.from_cr(cr, "acme")
    assert ref is not None and ref.uid == "u1"
    assert audit.ServerRef.from_cr({"metadata": {}}, "acme") is None
    at = datetime(2025, 1, 1, tzinfo=UTC)
    entry = audit.AuditEntry(ref, audit.RequestType.CONSOLE, "alice@acme", "ran `list`", at)
    assert entry.id.startswith("req-")
    frame = entry.frame()
    assert frame["type"] == "event"
    assert frame["event"]["type"] == "request.console"
    assert frame["event"]["actor"] == "alice@acme"
    assert frame["server"] == {"name": "alpha", "namespace": "tenant-acme", "uid": "u1"}
    from craftplane_gateway.ws_frames import SERVER_FRAME

    SERVER_FRAME.validate_python(frame)


def test_timeline_entry_takes_request_types_and_actor() -> None:
    from craftplane_gateway.schemas import TimelineEntry

    entry = TimelineEntry.model_validate(
        {"id": "req-1", "type": "request.restart", "time": "2025-01-01T00:00:00Z", "actor": "acme"}
    )
    assert entry.model_dump(mode="json", by_alias=True, exclude_none=True)["actor"] == "acme"


# --- token subjects -----------------------------------------------------------------


def test_old_tokens_have_the_tenant_as_subject() -> None:
    claims = tokens.verify(tokens.mint("acme", KEY), KEY)
    assert claims.subject == "acme"


def test_tokens_carry_a_subject_of_their_tenant() -> None:
    token = tokens.mint("acme", KEY, subject="alice@acme", ttl=timedelta(minutes=5))
    assert tokens.verify(token, KEY).subject == "alice@acme"
    for bad in ("alice@other", "alice", "a b@acme", "@acme"):
        with pytest.raises(ValueError):
            tokens.mint("acme", KEY, subject=bad)


def test_principal_has_the_subject() -> None:
    from craftplane_gateway import auth

    who = auth.principal_from_token(tokens.mint("acme", KEY, subject="bob@acme"), KEY)
    assert (who.tenant, who.namespace, who.subject) == ("acme", "tenant-acme", "bob@acme")
    assert auth.Principal("acme", "tenant-acme").subject == "acme"
