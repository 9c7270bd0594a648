# SBS Platform image: one image for the API (default command) and the Temporal worker
# (command scripts/start_worker.sh). Build: docker build --build-arg APP_BUILD=$(git rev-parse HEAD) .

ARG PYTHON_IMAGE=python:3.12.14-slim-trixie

# ---- builder: resolve the runtime dependencies into a virtualenv --------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# The venv gets no pip of its own: the builder's pip installs into it, so the final image
# carries no package installer.
RUN python -m venv --without-pip /opt/venv

# Only requirements.txt here, so this layer is rebuilt only when the dependencies change.
COPY requirements.txt /tmp/requirements.txt
RUN python -m pip --python /opt/venv/bin/python install --no-cache-dir --require-virtualenv \
        -r /tmp/requirements.txt

# ---- runtime: the venv plus the code that runs, as a non-root user ------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH

RUN groupadd --system --gid 10001 sbs \
    && useradd --system --uid 10001 --gid sbs --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin sbs

WORKDIR /app

COPY --from=builder /opt/venv /opt/venv
# Code stays owned by root: the sbs user can read it but not change it.
COPY alembic.ini entrypoint.py run_api.py run_worker.py ./
COPY alembic/ ./alembic/
COPY app/ ./app/
# --chmod keeps the scripts executable even from a checkout that lost the mode bits.
COPY --chmod=0755 scripts/ ./scripts/

# Late, so a new build id does not invalidate the layers above.
ARG APP_BUILD=""
ENV APP_BUILD=${APP_BUILD}

USER 10001:10001
EXPOSE 8000

# The worker overrides this (it answers on WORKER_HEALTH_PORT, see docker-compose.yml).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4).status == 200 else 1)"]

CMD ["scripts/start_api.sh"]
