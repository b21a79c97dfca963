#!/usr/bin/env bash
# Builds the sandbox control plane from upstream sources through the Go module
# proxy: kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd,
# kwok and kwokctl, and the real node's kubelet, kube-proxy and local-path-provisioner. Output goes to a cache directory keyed by version, so a
# warm machine never rebuilds. Prints one progress line per binary.
set -euo pipefail

K8S_VERSION="${CRAFTPLANE_K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${CRAFTPLANE_ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${CRAFTPLANE_KWOK_VERSION:-v0.8.0}"
LOCAL_PATH_VERSION="${CRAFTPLANE_LOCAL_PATH_VERSION:-v0.0.30}"
CACHE_ROOT="${CRAFTPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/craftplane}"
BIN_DIR="$CACHE_ROOT/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION/bin"
WORK="$CACHE_ROOT/build"
START=$(date +%s)

log() { printf '[control-plane %4ss] %s\n' "$(( $(date +%s) - START ))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v go >/dev/null || die "go is not installed; install Go >= 1.24 first"
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local

STAGE_DIR="$(dirname "$BIN_DIR")/stages"
want=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy etcd kwok kwokctl local-path-provisioner)
missing=()
for b in "${want[@]}"; do [[ -x "$BIN_DIR/$b" ]] || missing+=("$b"); done
[[ -f "$STAGE_DIR/.complete" ]] || missing+=(stages)
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "$BIN_DIR"
  exit 0
fi
log "cache miss in $BIN_DIR: building ${missing[*]} (a cold build takes 20-40 min on 2 cores)"
mkdir -p "$BIN_DIR" "$WORK"

need() { [[ " ${missing[*]} " == *" $1 "* ]]; }

build_k8s() {
  local dir="$WORK/k8s-$K8S_VERSION" minor staging
  minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local staging_tag="v0.${K8S_VERSION#v1.}"
  mkdir -p "$dir"
  log "resolving k8s.io/kubernetes@$K8S_VERSION"
  local modfile
  modfile=$(cd "$dir" && GOFLAGS= go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [[ -f "$modfile" ]] || die "could not download k8s.io/kubernetes@$K8S_VERSION from the module proxy"
  staging=$(grep -oE 'k8s.io/[a-z0-9-]+ => ./staging' "$modfile" | awk '{print $1}' | sort -u)
  {
    echo "module craftplane.local/k8sbuild"
    echo
    echo "go $(awk '/^go /{print $2; exit}' "$modfile")"
    echo "godebug default=go1.26"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    for m in $staging; do echo "	$m => $m $staging_tag"; done
    echo ")"
  } > "$dir/go.mod"
  grep -q '^godebug' "$modfile" || sed -i '/^godebug/d' "$dir/go.mod"
  cat > "$dir/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
)
GO
  log "resolving dependencies (go mod tidy)"
  (cd "$dir" && go mod tidy >/dev/null 2>"$dir/tidy.log") || { cat "$dir/tidy.log" >&2; die "go mod tidy failed for $K8S_VERSION"; }
  local ld="-s -w"
  local date; date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date -X $pkg.gitCommit=0000000000000000000000000000000000000000"
  done
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy; do
    need "$b" || continue
    local t0; t0=$(date +%s)
    log "building $b $K8S_VERSION ..."
    (cd "$dir" && go build -trimpath -ldflags "$ld" -o "$BIN_DIR/$b.tmp" "k8s.io/kubernetes/cmd/$b") \
      || die "go build of $b failed (see output above)"
    mv "$BIN_DIR/$b.tmp" "$BIN_DIR/$b"
    log "built $b in $(( $(date +%s) - t0 ))s"
  done
}

build_etcd() {
  local dir="$WORK/etcd-$ETCD_VERSION" t0
  t0=$(date +%s)
  mkdir -p "$dir"
  log "building etcd $ETCD_VERSION ..."
  printf 'module craftplane.local/etcdbuild\n\ngo 1.24\n' > "$dir/go.mod"
  (cd "$dir" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null 2>"$dir/get.log") \
    || { cat "$dir/get.log" >&2; die "could not resolve etcd $ETCD_VERSION"; }
  local ver="${ETCD_VERSION#v}"
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$BIN_DIR/etcd.tmp" go.etcd.io/etcd/server/v3) \
    || die "go build of etcd failed"
  mv "$BIN_DIR/etcd.tmp" "$BIN_DIR/etcd"
  log "built etcd in $(( $(date +%s) - t0 ))s ($("$BIN_DIR/etcd" --version | head -1))"
  : "$ver"
}

build_kwok() {
  local t0; t0=$(date +%s)
  log "building kwok and kwokctl $KWOK_VERSION ..."
  GOBIN="$BIN_DIR" GOFLAGS= go install -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION" \
    || die "go install of kwok $KWOK_VERSION failed"
  log "built kwok and kwokctl in $(( $(date +%s) - t0 ))s"
}

build_local_path() {
  # The real node's dynamic volume provisioner (rancher/local-path-provisioner).
  local t0; t0=$(date +%s)
  log "building local-path-provisioner $LOCAL_PATH_VERSION ..."
  GOBIN="$BIN_DIR" GOFLAGS= go install -trimpath -ldflags "-s -w" \
    "github.com/rancher/local-path-provisioner@$LOCAL_PATH_VERSION" \
    || die "go install of local-path-provisioner $LOCAL_PATH_VERSION failed"
  log "built local-path-provisioner in $(( $(date +%s) - t0 ))s"
}

copy_stages() {
  # kwok ships its node, pod and volume Stage definitions in its module; keep the
  # ones the sandbox uses beside the binaries so starting a cluster needs no network.
  local src
  src="$(GOFLAGS= go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage"
  if [[ ! -d "$src" ]]; then
    (cd "$WORK" && GOFLAGS= go mod download "sigs.k8s.io/kwok@$KWOK_VERSION") || die "could not download kwok $KWOK_VERSION stages"
  fi
  rm -rf "$STAGE_DIR"; mkdir -p "$STAGE_DIR"
  cp -r "$src/node" "$src/pod" "$src/volume" "$src/fast" "$STAGE_DIR/"
  chmod -R u+w "$STAGE_DIR"
  touch "$STAGE_DIR/.complete"
  log "copied kwok stages to $STAGE_DIR"
}

if need kwok || need kwokctl; then build_kwok; fi
if need stages; then copy_stages; fi
if need etcd; then build_etcd; fi
if need local-path-provisioner; then build_local_path; fi
if need kube-apiserver || need kube-controller-manager || need kube-scheduler || need kubectl || need kubelet || need kube-proxy; then build_k8s; fi

log "control plane ready in $BIN_DIR (total $(( $(date +%s) - START ))s)"
echo "$BIN_DIR"
