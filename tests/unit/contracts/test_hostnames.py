"""The hostname contract: routing keys, canonical names, and who holds a custom hostname."""

from __future__ import annotations

import pytest

from craftplane.contracts import hostnames as h

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Survival.Demo.MC.example.com", "survival.demo.mc.example.com"),
        ("survival.demo.mc.example.com.", "survival.demo.mc.example.com"),
        ("play.example.com\0FML2\0", "play.example.com"),
        ("play.example.com.\0FML3\0", "play.example.com"),
        ("", ""),
    ],
)
def test_a_handshake_address_becomes_its_routing_key(raw: str, key: str) -> None:
    assert h.normalize(raw) == key


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("play.example.com", True),
        ("a.b", True),
        ("localhost", False),  # one label
        ("*.example.com", False),
        ("Play.example.com", False),  # the spec takes the lowercase form
        ("-bad.example.com", False),
        ("x" * 64 + ".example.com", False),
        ("10.0.0.1", True),  # digits are valid labels; an IP routes nowhere but harms no one
    ],
)
def test_valid_hostnames(name: str, ok: bool) -> None:
    assert h.valid_hostname(name) is ok


def test_the_canonical_name_needs_a_domain() -> None:
    assert h.canonical("survival", "demo", "MC.Example.com.") == "survival.demo.mc.example.com"
    assert h.canonical("survival", "demo", "") == ""


def test_names_in_the_domain_are_reserved_and_the_oldest_claim_holds_the_rest() -> None:
    old = h.Claim("2026-01-01T00:00:00Z", "tenant-a", "hub", "play.example.com")
    new = h.Claim("2026-02-01T00:00:00Z", "tenant-b", "thief", "play.example.com")
    sneaky = h.Claim("2026-01-01T00:00:00Z", "tenant-b", "x", "hub.a.mc.example.com")
    held = h.owners([new, old, sneaky], "mc.example.com")
    assert held == {"play.example.com": old}
    assert h.refusal_of(old, "mc.example.com", held.get(old.hostname)) is None
    taken = h.refusal_of(new, "mc.example.com", held.get(new.hostname))
    assert taken is not None and taken.reason == "Taken"
    reserved = h.refusal_of(sneaky, "mc.example.com", held.get(sneaky.hostname))
    assert reserved is not None and reserved.reason == "Reserved"
    assert h.refusal_of(sneaky, "", None) is None  # no domain: nothing is reserved
