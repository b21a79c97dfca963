# syntax=docker/dockerfile:1.7
# The Craftplane router image: the game port for every server.
#   docker build -f docker/router.Dockerfile -t ghcr.io/craftplane/router:0.1.0 .
# Build context: the repository root. Targets: `runtime` (default, last) and `dev` (Tilt: the
# package directories belong to the runtime user so live update can sync Python files).

# Pinned to an exact patch release of the Debian bookworm slim variant (pin by digest in CI by
# appending @sha256:... once the registry is reachable from the build machine).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
ARG GO_IMAGE=golang:1.26.8-bookworm

# --- fastpath: the compiled data path (router/fastpath), a static binary --------------------
FROM ${GO_IMAGE} AS fastpath
WORKDIR /src/router/fastpath
COPY router/fastpath/go.mod router/fastpath/go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY router/fastpath/*.go ./
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/craftplane-router-fastpath .

# --- build: a virtualenv with the locked dependencies, then the component itself ----------
FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.9
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1
RUN --mount=type=cache,target=/root/.cache/pip pip install "uv==${UV_VERSION}"
WORKDIR /src
# Dependencies first, in a layer that only changes with the lock: the workspace's project
# files are all uv needs to install router's dependencies (and only those) from uv.lock.
COPY pyproject.toml uv.lock README.md ./
COPY src/pyproject.toml src/
COPY operator/pyproject.toml operator/
COPY api-gateway/pyproject.toml api-gateway/
COPY router/pyproject.toml router/
COPY docker/install.sh docker/
RUN --mount=type=cache,target=/root/.cache/uv sh docker/install.sh router --no-install-workspace
COPY src/craftplane/ src/craftplane/
COPY router/craftplane_router/ router/craftplane_router/
# Not editable: the code lands in site-packages, compiled to bytecode at install time (the
# runtime filesystem is read-only). craftplane-core ships only the shared part of src/craftplane.
RUN --mount=type=cache,target=/root/.cache/uv sh docker/install.sh router \
 && python -c "import craftplane_router.main"

# --- base: the runtime without the build tools ---------------------------------------------
FROM ${PYTHON_IMAGE} AS base
LABEL org.opencontainers.image.title="craftplane-router" \
      org.opencontainers.image.description="Craftplane: one game port for every server, by hostname" \
      org.opencontainers.image.source="https://github.com/craftplane/craftplane" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 craftplane \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin craftplane
COPY --from=build /opt/venv /opt/venv
COPY --from=fastpath /out/craftplane-router-fastpath /opt/venv/bin/craftplane-router-fastpath
# The image always has it: "on" makes a broken one fail at start-up, not run slower.
ENV CRAFTPLANE_ROUTER_FAST_PATH=on
WORKDIR /tmp
# The game port (CRAFTPLANE_ROUTER_PORT) and /metrics, /healthz, /readyz (..._METRICS_PORT).
# 25565 is above 1024: the non-root user binds it without a capability.
EXPOSE 25565 9102

# --- dev: for Tilt's live update (tilt builds with target="dev") ---------------------------
FROM base AS dev
# Tilt syncs every package directory into every image (Tiltfile): the other components' are
# created empty, in this target only, so a sync into them does not fail.
RUN cd /opt/venv/lib/python3.11/site-packages \
 && mkdir -p craftplane_operator craftplane_gateway \
 && chown -R 10001:10001 craftplane craftplane_router craftplane_operator craftplane_gateway
USER 10001:10001
ENTRYPOINT ["craftplane-router"]

# --- runtime (default): code owned by root, read-only to the non-root user -----------------
FROM base AS runtime
USER 10001:10001
ENTRYPOINT ["craftplane-router"]
