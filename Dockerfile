# SBS Platform image: one image for the API (default command) and the Temporal worker
# (command scripts/start_worker.sh). Build: `make image` (podman or docker), or
# docker build --build-arg APP_BUILD=$(git rev-parse HEAD) .
# On a machine that cannot pull python:3.12-slim, `make image` passes PYTHON_IMAGE=<a local
# stand-in made by scripts/make_standin_base.sh>; see docs/deploy.md ("Образ без Docker").

ARG PYTHON_IMAGE=python:3.12.14-slim-trixie

# ---- builder: install the locked runtime dependencies into a virtualenv ------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# Only the stand-in build (scripts/build_image.sh) sets it: a CA bundle mounted for this stage.
ARG PIP_CERT

# The venv gets no pip of its own: the builder's pip installs into it.
RUN python -m venv --without-pip /opt/venv

# Only the lock file here, so this layer is rebuilt only when the dependencies change.
# Every file is checked against its hash in requirements.lock (`make lock`); --no-deps because
# the lock already lists the whole tree. The bytecode is compiled here, once: the root
# filesystem is read-only at run time, so nothing could be cached then.
COPY requirements.lock /tmp/requirements.lock
RUN python -m pip --python /opt/venv/bin/python install --no-cache-dir --require-virtualenv \
        --require-hashes --no-deps --only-binary=:all: --no-compile -r /tmp/requirements.lock \
    && /opt/venv/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/venv

# ---- runtime: the venv plus the code that runs, as a non-root user ------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH

# The base image's pip goes: nothing in the final image installs packages. The standard
# library is compiled to bytecode (the official image ships it without .pyc files).
RUN python -m pip uninstall --yes --no-cache-dir --root-user-action=ignore pip \
    && python -m compileall -q -j 0 /usr/local/lib/python3.12 \
    && groupadd --system --gid 10001 sbs \
    && useradd --system --uid 10001 --gid sbs --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin sbs

WORKDIR /app

COPY --from=builder /opt/venv /opt/venv
# Code stays owned by root: the sbs user can read it but not change it.
COPY alembic.ini entrypoint.py run_api.py run_worker.py ./
COPY alembic/ ./alembic/
COPY app/ ./app/
# --chmod keeps the scripts executable even from a checkout that lost the mode bits.
COPY --chmod=0755 scripts/start_api.sh scripts/start_worker.sh scripts/worker_rollout.sh ./scripts/
RUN python -m compileall -q --invalidation-mode unchecked-hash /app

# Late, so a new build id does not invalidate the layers above.
ARG APP_BUILD=""
ENV APP_BUILD=${APP_BUILD}

USER 10001:10001
EXPOSE 8000

# API: /health/live on API_PORT; worker: /health/ready on WORKER_HEALTH_PORT, true only while
# Temporal sees its pollers (app/healthcheck.py picks whichever role the container has).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "app.healthcheck"]

CMD ["scripts/start_api.sh"]
