# The README's two commands: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8080
# Five pytest workers per two cores (pytest-xdist): a test spends most of its time waiting on
# real programs (git, Terraform, Prometheus, a browser), and over a run a worker keeps about 40%
# of a core busy, so one per core leaves the cores idle (two per core: 87% busy, 311 s; five per
# two: 95%, 287 s, on 2 cores). Every test owns its temporary directory, free ports and
# PostgreSQL schema, so workers never meet. worksteal: a worker that runs out takes tests queued
# on a busy one. The order each worker is given: tests/support/scheduling.py. PYTEST_ARGS=-n0
# runs in one process.
TEST_WORKERS ?= $(shell echo $$(( ($$(nproc) * 5 + 1) / 2 )))
PYTEST_ARGS ?= -n $(TEST_WORKERS) --dist worksteal --durations=25
# The suite's scratch files (git repositories, SQLite databases, Terraform working directories, a
# wheel's venv: about 0.8 GB a run) go to a RAM-backed directory when /dev/shm has 4 GiB free:
# written to disk, the kernel's journalling and writeback cost about 10% of the run's wall time
# (278 and 277 s of pytest against 322 and 308 s, interleaved, on 2 cores). pyproject.toml keeps
# only the last run's directories. TEST_TMPDIR= keeps them on disk.
TEST_TMPDIR ?= $(shell df --output=avail -k /dev/shm 2>/dev/null | \
	awk 'NR == 2 && $$1 > 4194304 {print "/dev/shm/gitops-bot-tests-'"$$(id -u)"'"}')

.PHONY: run test test-durations install install-test mlflow-venv migrate lint format bench bench-intake bench-git clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# MLflow for the integration tests, in its own virtualenv: its dependencies never meet ours.
MLFLOW_VENV ?= .venv-mlflow
MLFLOW_VERSION := 3.17.2

$(MLFLOW_VENV)/.installed:
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MLFLOW_VENV)/bin/pip install --quiet mlflow==$(MLFLOW_VERSION)
	touch $@

mlflow-venv: $(MLFLOW_VENV)/.installed

## make run: install into .venv, write .env with random webhook and console secrets (the missing
## ones: an existing .env keeps its values), migrate, serve.
run: install
	@$(BIN)/gitops-bot init-env
	$(BIN)/gitops-bot migrate
	$(BIN)/gitops-bot serve --host $(HOST) --port $(PORT)

migrate: install
	$(BIN)/gitops-bot migrate

## make test: lint (ruff, and mypy strict on the pure core: [tool.mypy] in pyproject.toml), then the
## whole suite (unit, integration on real services, end to end).
# PYTHONDONTWRITEBYTECODE emptied for the suite: where a machine sets it, every pytest worker
# rewrote the assertions of all 270 test modules again (9 s of CPU each, 4 s with the cache) and
# every `gitops-bot` the tests start compiled the bot again (0.2 s each).
test: install-test mlflow-venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(if $(TEST_TMPDIR),mkdir -p $(TEST_TMPDIR))
	PYTHONDONTWRITEBYTECODE= $(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR)) $(BIN)/pytest $(PYTEST_ARGS)

## make test-durations: the whole suite, recording each test module's wall and CPU seconds in tests/durations.json
## (the order the suite is handed to pytest-xdist's workers: tests/support/scheduling.py).
test-durations: install-test mlflow-venv
	$(if $(TEST_TMPDIR),mkdir -p $(TEST_TMPDIR))
	PYTHONDONTWRITEBYTECODE= $(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR)) $(BIN)/pytest $(PYTEST_ARGS) --write-durations

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## make bench: every benchmark with short defaults, goals MET / NOT MET in bench/results/latest.md
## (not part of make test; about 15 minutes). BENCH_ARGS="--anchor REV" measures REV's bot beside it.
bench: install-test
	$(BIN)/python bench/all.py $(BENCH_ARGS)

## make bench-intake: the intake benchmark alone, with its full defaults.
bench-intake: install-test
	$(BIN)/python bench/intake.py

## make bench-git: cached mirror versus clone for an update branch, and a revert (not part of make test).
bench-git: install-test
	$(BIN)/python bench/git.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
