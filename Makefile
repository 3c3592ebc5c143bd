# Development tasks. `make run` brings up the whole stack; `make test` is what CI runs.
# The venv is bootstrapped on first use and re-installed only when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP_FLAGS := --quiet --disable-pip-version-check

.DEFAULT_GOAL := help
.PHONY: help venv system-deps bytecode run test lint typecheck fmt clean clean-data messages

help:
	@echo "make venv        create $(VENV) and install the project with its dev extras"
	@echo "make run         Temporal dev server + worker + API in the foreground (Ctrl-C stops)"
	@echo "make test        system packages, lint, format check, type check, then the test suite (what CI runs)"
	@echo "make system-deps the Debian packages the tests use (chromium, chromedriver, PostgreSQL, nginx)"
	@echo "make lint        ruff check, ruff format --check and mypy only"
	@echo "make fmt         reformat and apply safe lint fixes"
	@echo "make messages    extract the translatable strings and update locale/*/messages.po"
	@echo "make clean       remove $(VENV) and tool caches (keeps data/)"
	@echo "make clean-data  remove data/ (the dev server's workflows and the outbox)"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_FLAGS) -e '.[dev,deploy-check]'
	@touch $@

# Bytecode for the code the worker runs in its sandbox: every workflow instance imports the
# workflow modules afresh, and without .pyc files it compiles them each time (a third of an
# instance's cost). compileall writes them even where PYTHONDONTWRITEBYTECODE is set.
bytecode: venv
	@$(BIN)/python -m compileall -q domain workflows activities gateway config >/dev/null

run: venv bytecode
	$(BIN)/python -m scripts.devstack

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

typecheck: venv
	$(BIN)/mypy .

# The tests drive real servers and a real browser: Debian's chromium, PostgreSQL and nginx.
system-deps:
	@bash scripts/install_system_deps.sh

# axe-core for the page's accessibility tests, pinned by tests/axe/package-lock.json.
AXE := tests/axe/node_modules/axe-core/axe.min.js

$(AXE): tests/axe/package.json tests/axe/package-lock.json
	npm ci --prefix tests/axe --no-audit --no-fund --loglevel=error
	@touch $@

test: system-deps lint bytecode $(AXE)
	$(BIN)/pytest -q

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The translation catalogue: extract every marked string (babel.cfg), then merge it into each .po
# (new strings come in empty, for a translator; tests/test_i18n.py fails until they are filled).
messages: venv
	$(BIN)/pybabel -q extract -F babel.cfg --sort-by-file --no-wrap --no-location -k N_ \
		--project=carm-returns -c TRANSLATORS: -o locale/messages.pot .
	$(BIN)/pybabel update -i locale/messages.pot -d locale --no-wrap --ignore-obsolete \
		--no-fuzzy-matching --ignore-pot-creation-date

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
	find . -path ./data -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

clean-data:
	rm -rf data
