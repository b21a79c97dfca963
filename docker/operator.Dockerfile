# syntax=docker/dockerfile:1.7
# The Craftplane operator image.
#   docker build -f docker/operator.Dockerfile -t ghcr.io/craftplane/operator:0.1.0 .
# Build context: the repository root. Targets: `runtime` (default, last) and `dev` (Tilt: the
# package directories belong to the runtime user so live update can sync Python files).

# Pinned to an exact patch release of the Debian bookworm slim variant (pin by digest in CI by
# appending @sha256:... once the registry is reachable from the build machine).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- build: a virtualenv with the dependencies, then the project itself ---------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, in a layer that only changes with pyproject.toml: install the project
# from empty package stubs, then remove it again, keeping its dependencies.
COPY pyproject.toml README.md ./
RUN --mount=type=cache,target=/root/.cache/pip \
    mkdir -p src/craftplane operator/craftplane_operator api-gateway/craftplane_gateway \
 && touch src/craftplane/__init__.py operator/craftplane_operator/__init__.py \
          api-gateway/craftplane_gateway/__init__.py \
 && pip install . \
 && pip uninstall --yes craftplane \
 && rm -rf src operator api-gateway
COPY src/ src/
COPY operator/ operator/
COPY api-gateway/ api-gateway/
# Not editable: the code lands in site-packages, compiled to bytecode at install time (the
# runtime filesystem is read-only).
RUN pip install --no-deps . \
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
RUN cd /opt/venv/lib/python3.11/site-packages \
 && chown -R 10001:10001 craftplane craftplane_operator craftplane_gateway
USER 10001:10001
ENTRYPOINT ["craftplane-operator"]

# --- runtime (default): code owned by root, read-only to the non-root user -----------------
FROM base AS runtime
USER 10001:10001
ENTRYPOINT ["craftplane-operator"]
