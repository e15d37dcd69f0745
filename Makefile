# Two commands for a new machine: `make demo` and `make test`. Both create .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# The demo needs the app only; the suite also needs the dev tools and the train extra
# (PyTorch, about 1.1 GB), so `make demo` on a new machine does not wait for PyTorch.
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

# The suite runs on the real services; the demo stays on SQLite and in-process Celery.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/portal_triage
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15
TEST_ENV := DEBUG=1 DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL)
# pytest-xdist workers, one per core up to four (each has its own test database and Redis
# databases). Integration tests run one at a time in one worker, browser tests in one;
# the unit tests spread over all of them. TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= auto
PYTEST_PARALLEL := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --maxprocesses 4 --dist loadgroup)

.PHONY: venv venv-dev demo test test-fast services lint format api-schema

venv: $(STAMP)

venv-dev: $(DEV_STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $(STAMP)

$(DEV_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(DEV_STAMP)

# The laptop's settings (config/settings.py reads it when present): development mode and a
# secret of its own, written once, so the README's `.venv/bin/python manage.py ...`
# commands run as written. Git-ignored (var/); production has none.
LOCAL_ENV := var/local.env

$(LOCAL_ENV): | $(STAMP)
	@mkdir -p $(dir $@)
	@printf 'DEBUG=1\nSECRET_KEY=%s\n' "$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" > $@
	@echo "wrote $@ (DEBUG=1 and a generated SECRET_KEY, for this machine only)"

demo: venv $(LOCAL_ENV)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	@echo
	@echo "Open http://127.0.0.1:8000/ and log in with one of the demo logins above."
	$(PY) manage.py runserver 127.0.0.1:8000

services:
	@bash scripts/start-services.sh

lint: venv-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	@# The committed OpenAPI schema must be what the code describes; `make api-schema` rewrites it.
	@tmp=$$(mktemp) && DEBUG=1 $(PY) manage.py spectacular --validate --fail-on-warn --file $$tmp \
		&& diff -u docs/api/openapi.yaml $$tmp \
		|| { rm -f $$tmp; echo "docs/api/openapi.yaml is out of date: run make api-schema"; exit 1; }; \
		rm -f $$tmp

api-schema: venv-dev
	DEBUG=1 $(PY) manage.py spectacular --validate --fail-on-warn --file docs/api/openapi.yaml

format: venv-dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

test: venv-dev services lint
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

# The fast lane while working: no browser, no real worker processes, no schemathesis run.
test-fast: venv-dev services lint
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_PARALLEL) -m "not browser and not integration and not slow" $(PYTEST_ARGS)
