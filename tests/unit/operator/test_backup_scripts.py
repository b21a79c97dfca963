"""The backup Jobs' scripts, run by /bin/sh here: against a stand-in restic (control flow,
quoting), and against the real restic 0.14 when it is installed (a local repository)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from craftplane.contracts.backup import BackupTrigger, Retention
from craftplane_operator.backups import scripts
from craftplane_operator.backups.observe import kept_ids, summary_of
from craftplane_operator.backups.scripts import Paths

pytestmark = pytest.mark.unit

HOSTILE = "x'; touch /tmp/pwned-$(id -u); echo '"

FAKE = """#!/bin/sh
printf '%s\\n' "$@" > "$FAKE_DIR/args.$(date +%s%N)"
echo "$*" >> "$FAKE_DIR/calls"
case "$1" in
  cat) exit ${FAKE_CAT:-0} ;;
  backup)
    if [ -f "$FAKE_DIR/locked" ]; then rm "$FAKE_DIR/locked"; echo "Fatal: repository is already locked exclusively by PID 1" >&2; exit 1; fi
    echo '{"message_type":"status","percent_done":0.5,"bytes_done":5,"total_bytes":10}'
    echo '{"message_type":"summary","total_bytes_processed":10,"snapshot_id":"abcdef12"}'
    exit ${FAKE_BACKUP:-0} ;;
esac
exit 0
"""


@pytest.fixture
def fake_restic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    restic = bin_dir / "restic"
    restic.write_text(FAKE)
    restic.chmod(restic.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(scripts, "LOCK_WAIT_SECONDS", 0)
    return bin_dir


def paths(tmp_path: Path) -> Paths:
    for name in ("data", "tmp"):
        (tmp_path / name).mkdir(exist_ok=True)
    return Paths(
        data=str(tmp_path / "data"), tmp=str(tmp_path / "tmp"), termination=str(tmp_path / "term")
    )


def run(
    script: str, tmp_path: Path, bin_dir: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "RESTIC_REPOSITORY": "s3:http://store/bucket", **(env or {})}
    if bin_dir is not None:
        environ["PATH"] = f"{bin_dir}:{environ['PATH']}"
        environ["FAKE_DIR"] = str(bin_dir)
    return subprocess.run(
        ["/bin/sh", "-c", script],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )


def termination(tmp_path: Path) -> str:
    return (tmp_path / "term").read_text()


def test_the_summary_line_becomes_the_termination_message(
    tmp_path: Path, fake_restic: Path
) -> None:
    done = run(
        scripts.copy_script("survival", "uid-1", BackupTrigger.MANUAL, paths(tmp_path)),
        tmp_path,
        fake_restic,
    )
    assert done.returncode == 0, done.stderr
    summary = summary_of(termination(tmp_path))
    assert summary is not None and summary.snapshot_id == "abcdef12"
    assert '"message_type":"status"' in done.stdout, "progress goes to the log"


def test_a_missing_repository_is_initialised_first(tmp_path: Path, fake_restic: Path) -> None:
    done = run(
        scripts.copy_script("s", "u", BackupTrigger.MANUAL, paths(tmp_path)),
        tmp_path,
        fake_restic,
        {"FAKE_CAT": "1"},
    )
    assert done.returncode == 0, done.stderr
    calls = (fake_restic / "calls").read_text().splitlines()
    assert calls[:3] == ["cat config", "init", "unlock"] and calls[3].startswith("backup ")


def test_a_locked_repository_is_waited_for(tmp_path: Path, fake_restic: Path) -> None:
    (fake_restic / "locked").touch()
    done = run(
        scripts.copy_script("s", "u", BackupTrigger.MANUAL, paths(tmp_path)), tmp_path, fake_restic
    )
    assert done.returncode == 0, done.stderr
    assert "retrying" in done.stderr
    assert [
        c for c in (fake_restic / "calls").read_text().splitlines() if c.startswith("backup")
    ].__len__() == 2


def test_a_failure_leaves_restics_error_in_the_termination_message(
    tmp_path: Path, fake_restic: Path
) -> None:
    (fake_restic / "restic").write_text(
        "#!/bin/sh\n[ \"$1\" = cat ] && exit 0\necho 'Fatal: wrong password or no key found' >&2\nexit 1\n"
    )
    done = run(
        scripts.copy_script("s", "u", BackupTrigger.MANUAL, paths(tmp_path)), tmp_path, fake_restic
    )
    assert done.returncode == 1
    message = termination(tmp_path)
    assert "Fatal: wrong password or no key found" in message and "exit code 1" in message
    assert len(message.encode()) < 4096


def test_every_value_is_one_word_whatever_it_holds(tmp_path: Path, fake_restic: Path) -> None:
    """Names are DNS labels, so this cannot happen; the scripts quote anyway."""
    done = run(
        scripts.copy_script(HOSTILE, HOSTILE, BackupTrigger.SCHEDULED, paths(tmp_path)),
        tmp_path,
        fake_restic,
    )
    assert done.returncode == 0, done.stderr
    (backup_args,) = [p for p in fake_restic.glob("args.*") if p.read_text().startswith("backup")]
    args = backup_args.read_text().splitlines()
    assert args[args.index("--host") + 1] == HOSTILE
    assert f"craftplane.io/server-uid={HOSTILE}" in args
    assert not list(Path("/tmp").glob(f"pwned-{os.getuid()}"))


# -- against restic itself ----------------------------------------------------------------------


@pytest.fixture
def restic_installed() -> None:
    # Not a skip: bootstrap installs restic, so its absence is a broken install to report.
    assert shutil.which("restic"), "restic is not installed (make bootstrap installs it)"


needs_restic = pytest.mark.usefixtures("restic_installed")


@pytest.fixture(scope="module")
def empty_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `restic init` for the module (its key derivation takes seconds)."""
    path = tmp_path_factory.mktemp("restic") / "repo"
    environ = {**os.environ, "RESTIC_REPOSITORY": str(path), "RESTIC_PASSWORD": "test"}
    subprocess.run(["restic", "init", "-q"], env=environ, check=True, capture_output=True)
    return path


@pytest.fixture
def repository(tmp_path: Path, empty_repository: Path) -> dict[str, str]:
    shutil.copytree(empty_repository, tmp_path / "repo")
    return {
        "RESTIC_REPOSITORY": str(tmp_path / "repo"),
        "RESTIC_PASSWORD": "test",
        "RESTIC_CACHE_DIR": str(tmp_path / "cache"),
        "RESTIC_PROGRESS_FPS": "0.2",
    }


def world(data: Path, level: str) -> None:
    (data / "world" / "region").mkdir(parents=True, exist_ok=True)
    (data / "world" / "level.dat").write_text(level)
    (data / "world" / "region" / "r.0.0.mca").write_bytes(os.urandom(4096))
    (data / "logs").mkdir(exist_ok=True)
    (data / "logs" / "latest.log").write_text("a log")
    (data / ".hidden").write_text("dot file")
    (data / "lost+found").mkdir(exist_ok=True)


def backup(
    tmp_path: Path, repository: dict[str, str], trigger: BackupTrigger = BackupTrigger.SCHEDULED
) -> dict[str, Any]:
    done = run(
        scripts.copy_script("survival", "uid-1", trigger, paths(tmp_path)), tmp_path, env=repository
    )
    assert done.returncode == 0, done.stderr
    summary = summary_of(termination(tmp_path))
    assert summary is not None
    parsed: dict[str, Any] = json.loads(termination(tmp_path))
    return parsed


def listing(data: Path) -> set[str]:
    return {str(p.relative_to(data)) for p in data.rglob("*")}


@needs_restic
def test_a_copy_and_a_restore_round_trip(tmp_path: Path, repository: dict[str, str]) -> None:
    data = tmp_path / "data"
    paths(tmp_path)
    world(data, "first")
    first = backup(tmp_path, repository)
    assert first["total_files_processed"] == 3, "logs and lost+found are left out"
    (data / "world" / "level.dat").write_text("second")
    (data / "newer").write_text("made after the backup")
    done = run(
        scripts.restore_script(first["snapshot_id"], paths(tmp_path)), tmp_path, env=repository
    )
    assert done.returncode == 0, done.stderr
    assert (data / "world" / "level.dat").read_text() == "first"
    assert not (data / "newer").exists() and (data / ".hidden").exists()
    assert (data / "lost+found").is_dir(), "the volume's own lost+found stays"
    assert not any(name.startswith(".craftplane") for name in os.listdir(data))
    assert '"message_type":"status"' in done.stdout
    assert json.loads(termination(tmp_path))["message_type"] == "restored"


@needs_restic
def test_a_failed_restore_leaves_the_world_alone(
    tmp_path: Path, repository: dict[str, str]
) -> None:
    data = tmp_path / "data"
    paths(tmp_path)
    world(data, "first")
    backup(tmp_path, repository)
    before = listing(data)
    done = run(scripts.restore_script("deadbeef", paths(tmp_path)), tmp_path, env=repository)
    assert done.returncode != 0
    assert "no matching ID" in termination(tmp_path)
    assert (data / "world" / "level.dat").read_text() == "first"
    assert listing(data) - {".craftplane-restore"} == before


@needs_restic
def test_an_interrupted_swap_is_finished_by_the_next_restore(
    tmp_path: Path, repository: dict[str, str]
) -> None:
    data = tmp_path / "data"
    paths(tmp_path)
    world(data, "first")
    snapshot = backup(tmp_path, repository)["snapshot_id"]
    # The swap was cut short after the old world moved out and before the new one moved in.
    stage = data / ".craftplane-restore"
    stage.mkdir()
    (stage / "world").mkdir()
    (stage / "world" / "level.dat").write_text("staged")
    previous = data / ".craftplane-previous"
    previous.mkdir()
    (data / "world").rename(previous / "world")
    (data / ".craftplane-swap").write_text("2\n")
    done = run(scripts.restore_script(snapshot, paths(tmp_path)), tmp_path, env=repository)
    assert done.returncode == 0, done.stderr
    assert "finishing the swap" in done.stderr
    assert (data / "world" / "level.dat").read_text() == "first"


@needs_restic
def test_retention_keeps_the_newest_and_lists_them(
    tmp_path: Path, repository: dict[str, str]
) -> None:
    data = tmp_path / "data"
    paths(tmp_path)
    ids = []
    for level in ("one", "two"):
        world(data, level)
        ids.append(backup(tmp_path, repository)["snapshot_id"])
    manual = backup(tmp_path, repository, BackupTrigger.MANUAL)["snapshot_id"]
    script = scripts.retention_script("survival", "uid-1", Retention(keep_last=1), paths(tmp_path))
    done = run(script, tmp_path, env=repository)
    assert done.returncode == 0, done.stderr
    kept = kept_ids(termination(tmp_path))
    assert kept is not None and sorted(kept) == sorted(ids[1:])
    listed = subprocess.run(
        ["restic", "snapshots", "--json"],
        env={**os.environ, **repository},
        capture_output=True,
        text=True,
        check=True,
    )
    remaining = {s["short_id"] for s in json.loads(listed.stdout)}
    assert remaining == {*ids[1:], manual}, "manual backups are never forgotten by retention"
    forget = run(scripts.forget_script(manual, paths(tmp_path)), tmp_path, env=repository)
    assert forget.returncode == 0, forget.stderr


def test_every_job_of_a_server_has_one_lock_host_and_frees_stale_locks_first() -> None:
    from craftplane_operator.backups.jobs import lock_host

    assert lock_host("alpha") == "alpha-backup"
    for script in (
        scripts.copy_script("s", "u", BackupTrigger.MANUAL),
        scripts.forget_script("abc123"),
        scripts.retention_script("s", "u", Retention(keep_last=3)),
        scripts.restore_script("abc123"),
    ):
        body = script.split("unlock_stale() {", 1)[1]
        assert "\nunlock_stale\n" in body, script
