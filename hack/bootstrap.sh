#!/usr/bin/env bash
# Installs everything the platform and its tests need on a fresh Debian machine:
# system packages, the Python virtualenv with the project, and the control-plane
# binaries (built from source once, then cached). Safe to run again: each step
# is skipped when already satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
log() { printf '[bootstrap %4ss] %s\n' "$(( $(date +%s) - START ))" "$*" >&2; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $(id -u) -ne 0 ]]; then
    log "missing Debian packages: ${missing[*]} (run as root or install them yourself)"; exit 1
  fi
  log "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# postgresql: real server binaries; util-linux: runuser; chromium: the dashboard's browser tests;
# containerd, runc, CNI plugins, iptables, iproute2, conntrack: the real node; debootstrap + umoci: its images;
# restic: the backup image's restic (the same version) and the tests' and bench's restic run by hand.
apt_install postgresql util-linux ca-certificates chromium fonts-dejavu-core \
  containerd runc containernetworking-plugins iptables iproute2 conntrack debootstrap umoci restic \
  ${CRAFTPLANE_EXTRA_APT:-}

PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  log "creating virtualenv .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.craftplane-installed
UV_VERSION=0.13.9 # also in pyproject.toml's dev extra and docker/*.Dockerfile
newer=$(find pyproject.toml uv.lock src/pyproject.toml operator/pyproject.toml \
             api-gateway/pyproject.toml router/pyproject.toml -newer "$stamp" 2>/dev/null | head -1 || true)
if [[ ! -f $stamp || -n $newer ]]; then
  log "installing Python packages into .venv (from uv.lock)"
  .venv/bin/pip install -q --disable-pip-version-check -U pip "uv==$UV_VERSION"
  # Every workspace package editable, with the dev extra, at the versions uv.lock pins;
  # --inexact keeps pip, which the lock does not list.
  UV_PYTHON_DOWNLOADS=never VIRTUAL_ENV="$PWD/.venv" \
    .venv/bin/uv sync --quiet --frozen --inexact --extra dev --python .venv/bin/python
  touch "$stamp"
fi

# The dashboard: built to dashboard/dist, which the gateway serves. Rebuilt when its sources change.
if [[ -f dashboard/package.json ]]; then
  command -v npm >/dev/null || { log "npm is required to build the dashboard"; exit 1; }
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
    || { log "Node.js >= 20.19 is required to build the dashboard (found $(node -v))"; exit 1; }
  if [[ ! -d dashboard/node_modules || dashboard/package-lock.json -nt dashboard/node_modules ]]; then
    log "installing dashboard packages (npm ci)"
    (cd dashboard && npm ci --no-audit --no-fund --loglevel=error)
    touch dashboard/node_modules
  fi
  if [[ ! -f dashboard/dist/index.html ]] || \
     [[ -n "$(find dashboard/src dashboard/index.html dashboard/vite.config.js dashboard/package-lock.json \
              -newer dashboard/dist/index.html 2>/dev/null | head -1)" ]]; then
    log "building the dashboard (vite)"
    (cd dashboard && npm run build --silent >/dev/null)
  fi
fi

# The real-node tests' Minecraft client (mineflayer).
bot=tests/realnode/bot
if [[ ! -d $bot/node_modules || $bot/package-lock.json -nt $bot/node_modules ]]; then
  log "installing the test bot (npm ci in $bot)"
  (cd "$bot" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$bot/node_modules"
fi

log "checking control-plane binaries"
bash hack/build-control-plane.sh >/dev/null

log "building the router's fast path (router/fastpath)"
(cd router/fastpath && go build -trimpath -o ../../.venv/bin/craftplane-router-fastpath .)

log "checking the object store (versitygw)"
bash hack/install-versitygw.sh >/dev/null

# Tilt, only to evaluate the Tiltfile in the tests (developers with Docker use a release).
if ! bash hack/install-tilt.sh >/dev/null; then
  log "WARNING: tilt could not be built; the Tiltfile test will be skipped"
fi
log "bootstrap complete"
