"""A benchmark pauses the sandbox's own operator, gateway and router (apps.paused): afterwards
exactly those that were running run again, also when the run fails or is interrupted, and the
user is told what runs and what is stopped."""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

import pytest

from craftplane.sandbox import apps
from craftplane.sandbox.config import SandboxConfig
from craftplane.sandbox.errors import SandboxError

pytestmark = pytest.mark.unit


class FakeApps:
    """The processes as a set of names; `start` may fail for some of them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, running: set[str]) -> None:
        self.now = set(running)
        self.started: list[list[str]] = []
        self.refuse: set[str] = set()
        monkeypatch.setattr(apps, "running", lambda cfg: [n for n in apps.APPS if n in self.now])
        monkeypatch.setattr(apps, "down", lambda cfg: self.now.clear())
        monkeypatch.setattr(apps, "start", self.start)

    def start(self, cfg: SandboxConfig, names: Collection[str] = apps.APPS) -> list[str]:
        self.started.append(list(names))
        for name in (n for n in apps.APPS if n in names):
            if name in self.refuse:
                raise SandboxError(f"port for {name} is already taken")
            self.now.add(name)
        return list(names)


@pytest.fixture
def cfg(tmp_path: Path) -> SandboxConfig:
    return SandboxConfig(state_dir=tmp_path)


def test_what_ran_is_stopped_for_the_block_and_runs_again(
    cfg: SandboxConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeApps(monkeypatch, {"operator", "gateway"})
    told: list[str] = []
    with apps.paused(cfg, report=told.append) as before:
        assert before == ["operator", "gateway"]
        assert fake.now == set()
    assert fake.started == [["operator", "gateway"]]
    assert fake.now == {"operator", "gateway"}  # the router did not run before: still stopped
    assert told == [
        "restarted the sandbox's operator, gateway, as before the run\n"
        "the sandbox's router was not running before: left stopped"
    ]


@pytest.mark.parametrize("failure", [RuntimeError("the run failed"), KeyboardInterrupt()])
def test_a_failed_or_interrupted_run_restores_too(
    cfg: SandboxConfig, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    fake = FakeApps(monkeypatch, set(apps.APPS))
    told: list[str] = []
    with pytest.raises(type(failure)), apps.paused(cfg, report=told.append):
        raise failure
    assert fake.now == set(apps.APPS)
    assert told == ["restarted the sandbox's operator, gateway, router, as before the run"]


def test_nothing_ran_nothing_is_started(
    cfg: SandboxConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeApps(monkeypatch, set())
    told: list[str] = []
    with apps.paused(cfg, report=told.append):
        pass
    assert fake.now == set()
    assert told == ["the sandbox's operator, gateway, router were not running before: left stopped"]


def test_a_restart_that_fails_says_so_and_keeps_the_run_s_own_error(
    cfg: SandboxConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeApps(monkeypatch, {"operator", "gateway", "router"})
    fake.refuse = {"gateway"}
    told: list[str] = []
    with pytest.raises(RuntimeError, match="the run failed"), apps.paused(cfg, told.append):
        raise RuntimeError("the run failed")
    assert fake.now == {"operator"}  # started in order until the gateway failed
    assert told == [
        "restarted the sandbox's operator, as before the run\n"
        "STOPPED: the sandbox's gateway, router did not start again: port for gateway is "
        "already taken; start them with `craftplane sandbox up`"
    ]


def test_the_report_names_a_single_stopped_process() -> None:
    assert apps.restore_report(["operator"], [], "") == (
        "STOPPED: the sandbox's operator did not start again; start it with "
        "`craftplane sandbox up`\n"
        "the sandbox's gateway, router were not running before: left stopped"
    )


def test_running_reads_the_pid_files(cfg: SandboxConfig) -> None:
    assert apps.running(cfg) == []
    cfg.run_dir.mkdir(parents=True)
    (cfg.run_dir / "gateway.pid").write_text(str(os.getpid()))
    (cfg.run_dir / "operator.pid").write_text("999999999")  # no such process
    assert apps.running(cfg) == ["gateway"]
