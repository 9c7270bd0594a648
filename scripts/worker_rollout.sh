#!/usr/bin/env bash
# The Worker Versioning rollout step: `promote --build-id B` makes build B the current version
# of TEMPORAL_DEPLOYMENT_NAME once Temporal sees its pollers; `drained --build-id OLD` exits 0
# once an old build's workers can be removed (app/temporal/rollout.py).
# PYTHON picks the interpreter outside the image (e.g. PYTHON=.venv/bin/python).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec "${PYTHON:-python}" -m app.temporal.rollout "$@"
