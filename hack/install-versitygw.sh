#!/usr/bin/env bash
# Builds the sandbox's object store, the Versity S3 gateway (an S3 API over a directory), through
# the Go module proxy into a cache directory keyed by its version, so a warm machine never
# rebuilds (a cold build takes about 70 s). Prints the binary's path on stdout; progress on stderr.
#
# Usage: install-versitygw.sh [--print-path]
set -euo pipefail

VERSION="${CRAFTPLANE_VERSITYGW_VERSION:-v1.8.0}"
CACHE_ROOT="${CRAFTPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/craftplane}"
BIN_DIR="$CACHE_ROOT/versitygw-$VERSION/bin"
BINARY="$BIN_DIR/versitygw"
START=$(date +%s)

log() { printf '[versitygw %4ss] %s\n' "$(( $(date +%s) - START ))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ ${1:-} == --print-path || -x $BINARY ]]; then
  echo "$BINARY"
  exit 0
fi
command -v go >/dev/null || die "go is not installed; install Go >= 1.24 first"
mkdir -p "$BIN_DIR"
# One build at a time: `make bootstrap` and a test session's `up` may race on a cold cache.
exec 9>"$BIN_DIR/.lock"
flock 9
if [[ ! -x $BINARY ]]; then
  log "building versitygw $VERSION ..."
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # Into a scratch GOBIN, then renamed: an interrupted build never leaves a half-written binary
  # that the check above would take for a finished one.
  CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local GOBIN="$work" \
    go install -trimpath -ldflags "-s -w" "github.com/versity/versitygw/cmd/versitygw@$VERSION" \
    || die "go install of versitygw $VERSION failed"
  mv "$work/versitygw" "$BINARY"
  log "built versitygw $VERSION in $(( $(date +%s) - START ))s"
fi
echo "$BINARY"
