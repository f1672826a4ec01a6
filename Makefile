# Gongxin: `make run` serves the embedded default; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test test-embedded test-services lint format bench mutate clean sdk

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/gongxin migrate
	$(VENV)/bin/gongxin demo-data
	$(VENV)/bin/gongxin serve

# The embedded leg always; the PostgreSQL + Redis leg too when TEST_DATABASE_URL is set (CI sets it).
# Each leg runs in TEST_WORKERS processes (pytest-xdist), a test file's tests in one of them.
TEST_WORKERS ?= 2
# --no-loadscope-reorder: modules are handed out in collection order, the longest first (LONG_MODULES
# in tests/conftest.py), not by their number of tests (which left a single-test server module last).
PYTEST := $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
test: install
	env -u TEST_DATABASE_URL -u TEST_REDIS_URL $(PYTEST)
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		echo "== again on PostgreSQL and Redis =="; \
		$(PYTEST); \
	fi

# Regenerate the SDK's types (sdk/src/schema.ts, sdk/src/operations.ts) from the document a live server
# serves; `make test` fails while they differ from what is committed.
sdk: install
	SDK_UPDATE=1 $(PY) -m pytest -q tests/sdk

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	$(PY) bench/run.py

# Mutation testing of the modules that hold rules (tests/mutate.py, tests/MUTATION.md); not part of
# `make test` (tens of minutes). `make mutate GROUPS="permissions verdicts"` runs some groups.
mutate: install
	$(PY) tests/mutate.py $(GROUPS)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache bench/results sdk/dist
