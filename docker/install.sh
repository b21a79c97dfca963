#!/bin/sh
# Installs one component (operator | gateway | router) with exactly the dependencies uv.lock
# pins into $UV_PROJECT_ENVIRONMENT, not editable, and nothing of the other components, the
# sandbox or the test tooling. The images run it (first with --no-install-workspace for a dependencies
# layer), and so does tests/packaging/test_images.py, which checks what the result can import.
set -eu
component=${1:?usage: install.sh operator|gateway|router [uv sync options]}
shift
exec uv sync --frozen --no-dev --no-editable --package "craftplane-$component" "$@"
