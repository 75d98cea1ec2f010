# Postloan: the two commands a newcomer needs are `make demo` and `make test`.
# Everything is installed into this folder (.tools, .venv, node_modules) from
# the package registries; nothing is fetched at run time.

PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never
PL := $(VENV)/bin/postloan
PYTEST := $(VENV)/bin/pytest

.PHONY: setup demo serve test test-postgres lint check-migrations messages clean

setup: $(VENV)/.synced node_modules/.installed

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PYTHON) --quiet
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

# Build the demo bank on the embedded SQLite database (once) and serve it.
demo: setup
	$(PL) demo

serve: setup
	$(PL) serve

# The test suite on SQLite (browser tests run where /usr/bin/chromium exists).
test: setup
	$(PYTEST) $(PYTEST_ARGS)

# The same suite on PostgreSQL (a throwaway test database is created).
test-postgres: setup
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postloan} $(PYTEST) $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

check-migrations: setup
	POSTLOAN_DATA_DIR=$$(mktemp -d) $(PL) makemigrations --check --dry-run

messages: setup
	cd src/postloan && ../../$(VENV)/bin/django-admin makemessages -l zh_Hans -l en --no-obsolete && ../../$(VENV)/bin/django-admin compilemessages

clean:
	rm -rf .tools $(VENV) node_modules var
