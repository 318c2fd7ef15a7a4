# Portico: the single entry point for people and CI.
#   make run    install what is needed, then serve the API on http://127.0.0.1:3000 (local stack)
#   make test   install what is needed, then run every check
# Everything installs into .venv (app + test tools) and .venv-sam (SAM CLI, whose pins clash
# with the app's), from the pinned requirement files; a second run reuses them.

PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
PORT ?= 3000
SEED ?= 1
RESET ?= 0
export PYTHONPATH := layers/common/python:.

.PHONY: system-tools node-tools run test lint validate unit integration e2e template build bench clean help openapi fuzz

help:
	@echo "make run | test | lint | validate | build | bench | openapi | fuzz | clean"

$(VENV)/.installed: requirements-dev.txt layers/common/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

# Tools some tests use as independent witnesses: oathtool (an authenticator's TOTP codes), zbarimg
# (reads our QR codes), the cairo library (cairosvg renders our SVG for zbarimg), Chromium (the
# browser tests in tests/browser drive Debian's build with Playwright, launched by its path:
# Playwright's own browser download is not used) and jq (docs/walkthrough.md carries tokens from
# step to step with it; tests/e2e/test_walkthrough.py runs it). Installed from Debian's packages
# when missing.
SYSTEM_TOOLS := oathtool zbarimg chromium jq
system-tools:
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	ldconfig -p | grep -q 'libcairo.so.2' || missing="$$missing libcairo2"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq oathtool zbar-tools libcairo2 chromium jq >/dev/null; \
	fi

# axe-core, the accessibility engine the browser tests inject into every screen they audit: from
# the npm registry, pinned, into a git-ignored folder. Test tooling only: nothing of it is served.
AXE_CORE_VERSION := 4.14.1
NODE_TOOLS := .node
$(NODE_TOOLS)/.axe-core-$(AXE_CORE_VERSION):
	npm install --prefix $(NODE_TOOLS) --no-save --no-audit --no-fund --loglevel=error axe-core@$(AXE_CORE_VERSION)
	touch $@

node-tools: $(NODE_TOOLS)/.axe-core-$(AXE_CORE_VERSION)

# The emulated data (tables, keys, outbox, clock) is kept in .local-state/ across restarts;
# RESET=1 starts clean. LOG=json shows the functions' JSON logs on the console too.
run: $(VENV)/.installed
	PORT=$(PORT) SEED=$(SEED) $(PY) -m infra.local --state-dir .local-state $(if $(filter 1,$(RESET)),--reset) $(if $(LOG),--log $(LOG))

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check layers/common/python functions infra tests bench
	$(VENV)/bin/ruff format --check layers/common/python functions infra tests bench
	$(VENV)/bin/cfn-lint template.yaml
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

validate: $(VENV)/.installed $(SAM_VENV)/.installed
	$(SAM) validate --lint --template-file template.yaml --region eu-central-1

build: $(SAM_VENV)/.installed
	$(SAM) build --template-file template.yaml

test: $(VENV)/.installed $(SAM_VENV)/.installed system-tools node-tools lint validate
	SAM_CLI=$(abspath $(SAM)) $(PY) -m pytest -n 2 --dist loadgroup --durations=25

# The OpenAPI document of every template route, generated from the handlers' models (committed;
# a test fails while it is stale). The local stack serves it at /_local/openapi.json and /_local/docs.
openapi: $(VENV)/.installed
	$(PY) -m infra.openapi --out openapi.json

# A fuzzing campaign beyond the bounded run in `make test`: FUZZ_EXAMPLES per operation, random
# seeds, schemathesis' coverage phase and stateful workflows, against a local stack it starts.
FUZZ_EXAMPLES ?= 100
fuzz: $(VENV)/.installed
	PORTICO_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -n 0 tests/e2e/test_fuzz.py

bench: $(VENV)/.installed
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(SAM_VENV) $(NODE_TOOLS) .aws-sam .pytest_cache .ruff_cache
