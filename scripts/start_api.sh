#!/usr/bin/env bash
# Start the SBS API: entrypoint.py waits for PostgreSQL, applies the Alembic
# migrations under an advisory lock, then serves uvicorn on API_HOST:API_PORT.
# Extra arguments go to entrypoint.py (e.g. --migrate-only).
# PYTHON picks the interpreter outside the image (e.g. PYTHON=.venv/bin/python).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec "${PYTHON:-python}" entrypoint.py "$@"
