#!/usr/bin/env bash
# Build Tilt from source into ~/.cache/craftplane/tools/tilt, for evaluating the Tiltfile where no
# release binary can be downloaded (tests/deploy/test_tiltfile.py runs `tilt alpha
# tiltfile-result` with it). Developers with Docker can use a Tilt release instead.
#
# `go install github.com/tilt-dev/tilt/cmd/tilt@VERSION` does not work: Tilt's go.mod has replace
# directives, which `go install pkg@version` refuses and a wrapper module would ignore. So the
# module source is downloaded and built as the main module, where its replaces apply.
# The web UI assets are not built (the CLI, including `tilt alpha tiltfile-result`, works).
set -euo pipefail

VERSION="${TILT_VERSION:-v0.34.0}"
DEST="${CRAFTPLANE_TOOLS_DIR:-$HOME/.cache/craftplane/tools}"
if [[ -x "$DEST/tilt" && "${1:-}" != "--force" ]]; then
  echo "tilt already built: $DEST/tilt"
  exit 0
fi
command -v go >/dev/null || { echo "go is required" >&2; exit 1; }

# The checksum database has no entry reachable from here for Tilt's own module, so it is exempted
# (and only it); its dependencies are still checked against Tilt's go.sum.
export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/tilt-dev"
export GOFLAGS=-mod=mod

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dir="$(cd "$work" && go mod download -json "github.com/tilt-dev/tilt@$VERSION" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
mkdir -p "$DEST"
echo "building tilt $VERSION (several minutes the first time) ..."
(cd "$work/src" && go build -o "$DEST/tilt.tmp" ./cmd/tilt)
mv "$DEST/tilt.tmp" "$DEST/tilt"
"$DEST/tilt" version
