# syntax=docker/dockerfile:1.7
# The Craftplane operator image.
#   docker build -f docker/operator.Dockerfile -t ghcr.io/craftplane/operator:0.1.0 .
# Build context: the repository root. Targets: `runtime` (default, last) and `dev` (Tilt: the
# package directories belong to the runtime user so live update can sync Python files).

# Pinned to an exact patch release of the Debian bookworm slim variant (pin by digest in CI by
# appending @sha256:... once the registry is reachable from the build machine).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

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
# files are all uv needs to install operator's dependencies (and only those) from uv.lock.
COPY pyproject.toml uv.lock README.md ./
COPY src/pyproject.toml src/
COPY operator/pyproject.toml operator/
COPY api-gateway/pyproject.toml api-gateway/
COPY router/pyproject.toml router/
COPY docker/install.sh docker/
RUN --mount=type=cache,target=/root/.cache/uv sh docker/install.sh operator --no-install-workspace
COPY src/craftplane/ src/craftplane/
COPY operator/craftplane_operator/ operator/craftplane_operator/
# Not editable: the code lands in site-packages, compiled to bytecode at install time (the
# runtime filesystem is read-only). craftplane-core ships only the shared part of src/craftplane.
RUN --mount=type=cache,target=/root/.cache/uv sh docker/install.sh operator \
 && python -c "import craftplane_operator.main"

# --- base: the runtime without the build tools ---------------------------------------------
FROM ${PYTHON_IMAGE} AS base
LABEL org.opencontainers.image.title="craftplane-operator" \
      org.opencontainers.image.description="Craftplane: the MinecraftServer operator" \
      org.opencontainers.image.source="https://github.com/craftplane/craftplane" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 craftplane \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin craftplane
COPY --from=build /opt/venv /opt/venv
WORKDIR /tmp
EXPOSE 8090

# --- dev: for Tilt's live update (tilt builds with target="dev") ---------------------------
FROM base AS dev
# Tilt syncs every package directory into both images (Tiltfile): the other component's is
# created empty, in this target only, so a sync into it does not fail.
RUN cd /opt/venv/lib/python3.11/site-packages \
 && mkdir -p craftplane_gateway \
 && chown -R 10001:10001 craftplane craftplane_operator craftplane_gateway
USER 10001:10001
ENTRYPOINT ["craftplane-operator"]

# --- runtime (default): code owned by root, read-only to the non-root user -----------------
FROM base AS runtime
USER 10001:10001
ENTRYPOINT ["craftplane-operator"]
