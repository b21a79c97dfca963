"""The shell scripts the backup Jobs run (`/bin/sh -c`), built here and only here.

Every value that comes from an object (a server's name, its uid, a snapshot id) goes through
`shlex.quote`. The scripts are POSIX sh (busybox or dash, no pipefail), `set -eu`. What the
operator reads back: restic's JSON lines on stdout (its progress), and the termination
message (/dev/termination-log): the last JSON line worth keeping on success, the tail of
restic's errors on failure.

restic 0.14 has no lock retry of its own: a command refused because another restic holds the
tenant's repository exclusively (a prune) is retried a while before the Job fails.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from craftplane.contracts.backup import TAG_SERVER_UID, TAG_TRIGGER, BackupTrigger, Retention

LOCK_RETRIES: Final = 30
LOCK_WAIT_SECONDS: Final = 20
# The kubelet keeps 4096 bytes of a termination message; leave room for the last line.
ERROR_TAIL_BYTES: Final = 3000
STAGE: Final = ".craftplane-restore"
PREVIOUS: Final = ".craftplane-previous"
SWAP_MARKER: Final = ".craftplane-swap"
# What a copy leaves out: the server's logs, the restore's work directories, and the volume
# root's lost+found (root's, unreadable by uid 1000: restic would call the snapshot incomplete).
EXCLUDED: Final = ("logs", "lost+found", STAGE, PREVIOUS, SWAP_MARKER)
# Entries of the volume's root a restore neither moves away nor brings in.
KEPT_IN_PLACE: Final = ("lost+found", STAGE, PREVIOUS, SWAP_MARKER)


@dataclass(frozen=True)
class Paths:
    """Where the Job's pod has its volumes (the tests run the scripts elsewhere)."""

    data: str = "/data"
    tmp: str = "/tmp"
    termination: str = "/dev/termination-log"


POD: Final = Paths()


def _q(value: str) -> str:
    return shlex.quote(value)


def _prelude(paths: Paths) -> str:
    """Error capture, the termination message on failure, and `run`: a restic command whose
    stdout goes to the log and is appended to "$out", retried while the repository is locked."""
    tmp, term = _q(paths.tmp), _q(paths.termination)
    return f"""set -eu
err={tmp}/craftplane-restic.err
try={tmp}/craftplane-restic.try
rcfile={tmp}/craftplane-restic.rc
out={tmp}/craftplane-restic.out
progress=
: > "$err"
: > "$out"
finish() {{
  code=$?
  trap - EXIT
  if [ -n "$progress" ]; then kill "$progress" 2>/dev/null || true; fi
  cat "$err" >&2
  if [ "$code" -ne 0 ]; then
    {{ tail -c {ERROR_TAIL_BYTES} "$err"; echo "exit code $code"; }} > {term} || true
  fi
  exit "$code"
}}
trap finish EXIT
run() {{
  tries=0
  while :; do
    {{ rc=0; "$@" 2>"$try" || rc=$?; echo "$rc" > "$rcfile"; }} | tee -a "$out"
    rc=$(cat "$rcfile")
    cat "$try" >> "$err"
    if [ "$rc" -eq 0 ]; then return 0; fi
    tries=$((tries + 1))
    if [ "$tries" -ge {LOCK_RETRIES} ] || ! grep -q 'already locked' "$try"; then
      return "$rc"
    fi
    echo "the repository is locked by another restic; retrying in {LOCK_WAIT_SECONDS} s" >&2
    sleep {LOCK_WAIT_SECONDS}
  done
}}
unlock_stale() {{
  # Only stale locks (this host's dead processes, or older than 30 minutes): a killed Job
  # of this server leaves one that would refuse every exclusive command (prune, check).
  restic unlock 2>> "$err" || true
}}
"""


def _tags(server_uid: str, trigger: BackupTrigger) -> list[str]:
    return [f"{TAG_SERVER_UID}={server_uid}", f"{TAG_TRIGGER}={trigger.value}"]


def copy_script(host: str, server_uid: str, trigger: BackupTrigger, paths: Paths = POD) -> str:
    """Back up the volume's contents (at the snapshot's root), creating the repository the
    first time; the summary line becomes the termination message."""
    data = paths.data
    args = ["restic", "backup", "--json", "--host", host]
    for tag in _tags(server_uid, trigger):
        args += ["--tag", tag]
    for name in EXCLUDED:
        args += ["--exclude", f"{data}/{name}"]
    args += ["--exclude-caches", "."]
    return f"""{_prelude(paths)}
if ! restic cat config > /dev/null 2> "$try"; then
  if grep -q 'wrong password' "$try"; then cat "$try" >> "$err"; exit 1; fi
  echo "no repository at $RESTIC_REPOSITORY yet: initialising it" >&2
  run restic init
fi
unlock_stale
cd {_q(data)}
: > "$out"
run {quoted(args)}
grep '"message_type":"summary"' "$out" | tail -n 1 > {_q(paths.termination)}
"""


def forget_script(snapshot: str, paths: Paths = POD) -> str:
    """Forget one snapshot and prune what only it used (a deleted MinecraftBackup)."""
    return f"""{_prelude(paths)}
unlock_stale
run restic forget {_q(snapshot)} --prune
printf '{{"message_type":"forgotten","snapshot_id":"%s"}}\\n' {_q(snapshot)} > {_q(paths.termination)}
"""


def retention_args(retention: Retention) -> list[str]:
    """restic forget's --keep-* options; empty when the retention keeps everything."""
    args: list[str] = []
    for flag, value in (
        ("--keep-last", retention.keep_last),
        ("--keep-daily", retention.keep_daily),
        ("--keep-weekly", retention.keep_weekly),
    ):
        if value is not None:
            args += [flag, str(value)]
    return args


def retention_script(host: str, server_uid: str, retention: Retention, paths: Paths = POD) -> str:
    """Apply the retention to the server's scheduled snapshots, then list the short ids kept
    as `{"message_type":"kept","short_ids":[...]}` in the termination message."""
    tags = ",".join(_tags(server_uid, BackupTrigger.SCHEDULED))
    select = f"--host {_q(host)} --tag {_q(tags)}"
    keep = " ".join(_q(a) for a in retention_args(retention))
    return f"""{_prelude(paths)}
unlock_stale
run restic forget {select} {keep} --prune
: > "$out"
run restic snapshots --json {select}
ids=$(grep -o '"short_id":"[0-9a-f]*"' "$out" | sed 's/^"short_id"://' | tr '\\n' ',')
printf '{{"message_type":"kept","short_ids":[%s]}}\\n' "${{ids%,}}" > {_q(paths.termination)}
"""


def _entries(directory: str) -> str:
    """A for-loop word list of every entry of `directory`, dot files included."""
    d = _q(directory)
    return f"{d}/* {d}/.[!.]* {d}/..?*"


def _moves(source: str, target: str) -> str:
    """Move every entry of `source` into `target`, except those kept in place."""
    kept = "|".join(_q(name) for name in KEPT_IN_PLACE)
    return f"""  for entry in {_entries(source)}; do
    if [ ! -e "$entry" ] && [ ! -L "$entry" ]; then continue; fi
    case "${{entry##*/}}" in {kept}) continue ;; esac
    mv "$entry" {_q(target)}/
  done"""


def _swap(paths: Paths) -> str:
    """Old world out, restored world in, resumable: the marker says which half was begun, and
    a later restore of this volume finishes an interrupted swap before anything else."""
    data = paths.data
    stage, previous, marker = f"{data}/{STAGE}", f"{data}/{PREVIOUS}", f"{data}/{SWAP_MARKER}"
    return f"""swap() {{
  if [ "$(cat {_q(marker)})" = 1 ]; then
{_moves(data, previous)}
    echo 2 > {_q(marker)}
  fi
{_moves(stage, data)}
  rm -f {_q(marker)}
  rm -rf {_q(previous)} {_q(stage)}
}}
if [ -f {_q(marker)} ]; then
  echo "finishing the swap of an interrupted restore" >&2
  swap
fi
rm -rf {_q(stage)} {_q(previous)}
"""


def restore_script(snapshot: str, paths: Paths = POD) -> str:
    """Restore a snapshot into a staging directory of the volume (verified against the
    snapshot), then swap it in; until the swap begins the old world is untouched. Progress:
    status lines of the bytes staged so far out of the snapshot's restore size."""
    data, snap = paths.data, _q(snapshot)
    stage, previous, marker = f"{data}/{STAGE}", f"{data}/{PREVIOUS}", f"{data}/{SWAP_MARKER}"
    return f"""{_prelude(paths)}
{_swap(paths)}
unlock_stale
mkdir -p {_q(stage)}
run restic stats {snap} --json --mode restore-size
total=$(sed -n 's/.*"total_size":\\([0-9]*\\).*/\\1/p' "$out" | tail -n 1)
total=${{total:-0}}
staged() {{
  if used=$(du -sb {_q(stage)} 2>/dev/null); then echo "${{used%%[!0-9]*}}"; return; fi
  used=$(du -sk {_q(stage)}); echo $(( ${{used%%[!0-9]*}} * 1024 ))
}}
status() {{
  printf '{{"message_type":"status","bytes_done":%s,"total_bytes":%s}}\\n' "$1" "$total"
}}
( while sleep 2 > /dev/null 2>&1; do status "$(staged)"; done ) &
progress=$!
run restic restore {snap} --target {_q(stage)} --verify
kill "$progress" 2>/dev/null || true
progress=
status "$total"
trap '' TERM INT
mkdir -p {_q(previous)}
echo 1 > {_q(marker)}
swap
printf '{{"message_type":"restored","snapshot_id":"%s","total_bytes":%s}}\\n' {snap} "$total" \\
  > {_q(paths.termination)}
"""


def command(script: str) -> list[str]:
    return ["/bin/sh", "-c", script]


def quoted(words: Sequence[str]) -> str:
    return " ".join(_q(w) for w in words)
