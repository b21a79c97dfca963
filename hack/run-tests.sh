#!/usr/bin/env bash
# Runs lint, type checks and the whole pytest suite. pytest's exit code 5 (no
# tests collected) is a failure here: a suite that ran nothing proves nothing.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
mkdir -p test-artifacts

echo "== ruff"; ruff check . || exit 1
echo "== mypy"; mypy || exit 1
if [[ -f dashboard/package.json ]]; then
  echo "== dashboard unit tests"; (cd dashboard && npm test --silent) || exit 1
fi
echo "== pytest"
pytest "$@"
rc=$?
if [[ $rc -eq 5 ]]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit $rc
