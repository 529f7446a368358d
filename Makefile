# Labour Exchange: `make run` starts everything on http://127.0.0.1:8000; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := libs/contracts libs/platform libs/fakex libs/devstack \
	services/identity services/skills services/requests services/matcher \
	services/twitter-gateway services/gateway services/web
PYPROJECTS := $(addsuffix /pyproject.toml,$(PACKAGES))

.PHONY: install browser prometheus observe run test test-fast lint format asyncapi bench-idle bench-matcher bench-gateway bench-load k8s-validate clean help

help:
	@echo "make run    start the whole system on http://127.0.0.1:8000 (Ctrl-C stops it)"
	@echo "make test   run the whole test suite (unit, integration, end-to-end)"
	@echo "make lint   ruff, mypy and the service-boundary contracts"
	@echo "make observe  Prometheus on http://127.0.0.1:9090 scraping a running make run (Ctrl-C stops it)"

$(STAMP): $(PYPROJECTS) constraints.txt requirements-dev.txt
	@echo "Installing into $(VENV) (first run only)…"
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt setuptools wheel
	@$(BIN)/pip install -q --disable-pip-version-check --no-build-isolation -c constraints.txt \
		$(addprefix -e ,$(PACKAGES)) -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP)

run: install
	@$(BIN)/python -m lx_devstack run

# The web pages' tests drive Debian's chromium through Playwright (never `playwright install`, which
# downloads a browser of its own). Install it when it is missing: as root directly, otherwise with sudo.
CHROMIUM := /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { \
		echo "Installing chromium for the browser tests (apt-get install chromium)…"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		{ $$SUDO apt-get install -y chromium || { $$SUDO apt-get update && $$SUDO apt-get install -y chromium; }; } \
		&& test -x $(CHROMIUM) || { \
			echo "Could not install chromium at $(CHROMIUM). Install it yourself (Debian/Ubuntu:" \
				"sudo apt-get install chromium), or run everything else with: $(BIN)/python -m pytest -m 'not e2e'"; \
			exit 1; }; }

# Alert-rule tests and the dashboard's queries run against Debian's prometheus package (never a
# downloaded binary). Install it when promtool or prometheus is missing, as for chromium above.
prometheus:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || { \
		echo "Installing prometheus for make observe and the observability tests (apt-get install prometheus)…"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		{ $$SUDO apt-get install -y prometheus || { $$SUDO apt-get update && $$SUDO apt-get install -y prometheus; }; } \
		&& command -v promtool >/dev/null && command -v prometheus >/dev/null || { \
			echo "Could not install prometheus. Install it yourself (Debian/Ubuntu:" \
				"sudo apt-get install prometheus); without it the observability tests fail"; \
			exit 1; }; }

# Prometheus beside `make run` (start that first, in another terminal): scrapes every service,
# evaluates deploy/observability/alerts.yml, keeps its data under .data/prometheus. Ctrl-C stops it.
observe: prometheus
	@mkdir -p .data/prometheus
	@echo "Prometheus on http://127.0.0.1:9090 (alerts: /alerts, targets: /targets); Ctrl-C stops it"
	@exec prometheus --config.file=deploy/observability/prometheus.yml --storage.tsdb.path=.data/prometheus \
		--web.listen-address=127.0.0.1:9090 --storage.tsdb.retention.time=7d --log.level=warn

test: install browser prometheus
	@$(BIN)/python -m pytest

test-fast: install
	@$(BIN)/python -m pytest -m unit

lint: install
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy
	@$(BIN)/lint-imports

format: install
	@$(BIN)/ruff format .
	@$(BIN)/ruff check --fix .

asyncapi: install
	@$(BIN)/python -m lx_devstack.asyncapi docs/asyncapi

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache

bench-idle: install
	@$(BIN)/python bench/idle.py

bench-matcher: install
	@$(BIN)/python bench/matcher.py

bench-gateway: install
	@$(BIN)/python bench/gateway.py

# The whole stack at 200 requests a second for 60 s, with its baselines; about 3 minutes (bench/README.md).
bench-load: install
	@$(BIN)/python bench/load.py

# Render every overlay of deploy/k8s offline and validate every object (schemas in the repository, policy
# rules, KafkaTopics against the contracts); `make test` runs the same through tests/deploy.
k8s-validate: install
	@$(BIN)/python -m deploy.k8s.tools.validate
