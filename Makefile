# One entry point for people and CI. `make up` brings the platform up locally;
# `make test` installs what is missing and runs every test.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: bootstrap up down status env test test-unit lint crds bench clean

bootstrap:
	@bash hack/bootstrap.sh

up: bootstrap
	@$(VENV)/bin/craftplane sandbox up

down:
	@if [ -x $(VENV)/bin/craftplane ]; then $(VENV)/bin/craftplane sandbox down; fi

status:
	@$(VENV)/bin/craftplane sandbox status

env:
	@$(VENV)/bin/craftplane sandbox env

test: bootstrap
	@bash hack/run-tests.sh $(PYTEST_ARGS)

test-unit: bootstrap
	@$(VENV)/bin/pytest -m unit $(PYTEST_ARGS)

lint: bootstrap
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy

crds: bootstrap
	@$(PY) -m craftplane.contracts.crd > crds/minecraftservers.craftplane.io.yaml
	@$(PY) -m craftplane.contracts.policy_crd > crds/craftplanepolicies.craftplane.io.yaml
	@$(PY) -m craftplane.contracts.admission > manifests/admission/tenant-policy.yaml
	@$(PY) -m craftplane.contracts.backup_crd backup > crds/minecraftbackups.craftplane.io.yaml
	@$(PY) -m craftplane.contracts.backup_crd restore > crds/minecraftrestores.craftplane.io.yaml

bench: bootstrap
	@$(PY) -m bench $(BENCH_ARGS)

clean: down
	rm -rf $(VENV)
