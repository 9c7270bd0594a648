#!/usr/bin/env bash
# Start the SBS Temporal worker (task queue TEMPORAL_TASK_QUEUE). It serves its
# Prometheus metrics on WORKER_METRICS_PORT and GET /health/live on WORKER_HEALTH_PORT.
# PYTHON picks the interpreter outside the image (e.g. PYTHON=.venv/bin/python).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec "${PYTHON:-python}" run_worker.py "$@"
