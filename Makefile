# The one entry point for people and CI. `make test` works on a fresh clone: it builds its own
# virtualenvs from the pinned requirements, lints, and runs every test suite.

SHELL := /bin/bash
# A real interpreter, not pyenv's shim (which fails or hangs when 3.13 is not the selected version).
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)
PYTHON ?= $(firstword $(wildcard $(PYENV_ROOT)/versions/3.13*/bin/python3.13) $(shell command -v python3.13 2>/dev/null))
VENV := .venv
TOOLS := .venv-tools
CHECKOV := .venv-checkov
TRANSFORMED := .aws-sam/transformed
PY := $(VENV)/bin/python
# sam build for python3.13 looks for that interpreter on PATH.
export PATH := $(dir $(PYTHON)):$(PATH)
export PYTHONPATH := $(CURDIR)/layers/domain:$(CURDIR)/tools
AWS_REGION ?= us-east-1

.PHONY: setup lint template-check browser node-deps test test-fast test-browser fuzz run publish openapi build build-check bench deploy lock clean

setup: $(VENV)/.stamp $(TOOLS)/.stamp $(CHECKOV)/.stamp

# uv installs the pinned requirements in seconds (pip takes half a minute), so `make run` starts fast
# on a fresh clone; it is pinned in dev.txt and bootstrapped with pip.
UV_VERSION := $(shell sed -n 's/^uv==//p' requirements/dev.txt)
UV := $(VENV)/bin/uv

$(VENV)/.stamp: requirements/dev.txt pyproject.toml
	test -x "$(PYTHON)" || { echo "Python 3.13 not found (set PYTHON=/path/to/python3.13)"; exit 1; }
	rm -rf $(VENV) && "$(PYTHON)" -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip sync --quiet --python $(VENV)/bin/python requirements/dev.txt
	$(UV) pip install --quiet --python $(VENV)/bin/python --no-deps --editable .
	touch $@

$(TOOLS)/.stamp: requirements/tools.txt $(VENV)/.stamp
	rm -rf $(TOOLS) && "$(PYTHON)" -m venv $(TOOLS)
	$(UV) pip sync --quiet --python $(TOOLS)/bin/python requirements/tools.txt
	touch $@

# checkov pins networkx<2.7 where SAM CLI needs 3.x: a virtualenv of its own.
$(CHECKOV)/.stamp: requirements/checkov.txt $(VENV)/.stamp
	rm -rf $(CHECKOV) && "$(PYTHON)" -m venv $(CHECKOV)
	$(UV) pip sync --quiet --python $(CHECKOV)/bin/python requirements/checkov.txt
	touch $@

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/domain functions tools tests
	$(TOOLS)/bin/cfn-lint template.yaml
	$(TOOLS)/bin/sam validate --lint --region $(AWS_REGION)
	$(PY) tools/openapi.py --check

# The template as CloudFormation would deploy it (both transforms, offline) for the dev, prod and console-off
# parameter sets, checked by cfn-lint and checkov (skips only those in .checkov.yaml, each with its reason).
# AWS::LanguageExtensions has resolved parameters and conditions there for known values, so cfn-lint skips the
# rules about them, which `lint` checks on template.yaml: W1001 (a reference to a resource behind a condition,
# guarded by Fn::If in template.yaml), W2001, W7001, W8001 (a parameter, mapping or condition no longer used) and
# W8003 (a condition of constants).
CFN_LINT_RESOLVED := W1001 W2001 W7001 W8001 W8003
template-check: setup
	rm -rf $(TRANSFORMED)
	$(TOOLS)/bin/python tools/transform_template.py --out $(TRANSFORMED)
	$(TOOLS)/bin/cfn-lint --ignore-checks $(CFN_LINT_RESOLVED) -- $(TRANSFORMED)/*.json
	$(CHECKOV)/bin/checkov --config-file .checkov.yaml

test: lint template-check build-check browser node-deps
	$(VENV)/bin/pytest

# The console's browser tests drive Debian's Chromium through Playwright's executable_path (no browser
# download). Installed here when missing (sudo -n: never waits at a password prompt); where it cannot be,
# those tests skip and say why.
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo -n)
APT_INSTALL := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
browser:
	@test -x $(CHROMIUM) || $(APT_INSTALL) || { $(SUDO) apt-get update -qq && $(APT_INSTALL); } \
		|| echo "WARNING: cannot install chromium (apt-get install chromium); the browser tests will be skipped"

# The official Standard Webhooks library for Node, with which tests/node verifies our signed deliveries, installed
# exactly as package-lock.json pins it. Without node or npm, that test is skipped and this says so.
NODE_DIR := tests/node
node-deps:
	@if command -v node >/dev/null && command -v npm >/dev/null; then \
		$(MAKE) --no-print-directory $(NODE_DIR)/node_modules/.stamp; \
	else \
		echo "WARNING: node or npm is missing (apt-get install nodejs npm): the Node webhook receiver test will be SKIPPED"; \
	fi

$(NODE_DIR)/node_modules/.stamp: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund
	touch $@

# The console in headless Chromium against the local stack (tests/browser; `make test` runs them too).
test-browser: $(VENV)/.stamp browser
	$(VENV)/bin/pytest -m browser

# Unit and integration tests only, for a quick loop while coding.
test-fast: setup node-deps
	$(VENV)/bin/pytest -m "not e2e"

# Schemathesis against the local stack and openapi.json alone (tests/fuzz, about two minutes); `make test` runs it
# too, with the other end-to-end tests.
fuzz: $(VENV)/.stamp
	$(VENV)/bin/pytest -m fuzz

run: $(VENV)/.stamp
	$(PY) -m devstack

publish: $(VENV)/.stamp
	@test -n "$(EVENT)" || { echo "usage: make publish EVENT=events/finding_new.json"; exit 2; }
	$(PY) -m devstack.publish "$(EVENT)"

openapi: setup
	$(PY) tools/openapi.py

build: setup
	$(TOOLS)/bin/sam build

# The deployable artifacts build, and the project's layer holds its package but nothing the runtime or
# the public Powertools layer already provides; every module of the layer ships its python3.13 bytecode
# (unchecked-hash: Lambda's /opt is read-only and the zip keeps no source times).
build-check: build
	test -f .aws-sam/build/DomainLayer/python/integrations/api/service.py
	! ls -d .aws-sam/build/DomainLayer/python/{boto3,botocore,pydantic,aws_lambda_powertools} 2>/dev/null
	$(PY) tools/layer_bytecode.py .aws-sam/build/DomainLayer/python

# The performance targets (docs/performance.md): each figure next to its goal, non-zero exit when one is missed.
# Not part of `make test` (timings on a shared machine are noisy). `make bench ONLY=coldstart,fanout` runs a subset.
# `coldstart` counts instructions with Valgrind, installed here when missing (as Chromium above).
VALGRIND_INSTALL := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind
bench: build
	@command -v valgrind >/dev/null || $(VALGRIND_INSTALL) || { $(SUDO) apt-get update -qq && $(VALGRIND_INSTALL); } \
		|| echo "WARNING: cannot install valgrind (apt-get install valgrind): the coldstart figures will be missing"
	$(PY) -m bench $(if $(ONLY),--only $(ONLY))

deploy: build
	$(TOOLS)/bin/sam deploy --guided

lock: $(VENV)/.stamp
	$(UV) pip compile --quiet --python-version 3.13 --upgrade requirements/dev.in -o requirements/dev.txt
	$(UV) pip compile --quiet --python-version 3.13 --upgrade requirements/tools.in -o requirements/tools.txt
	$(UV) pip compile --quiet --python-version 3.13 --upgrade requirements/checkov.in -o requirements/checkov.txt

clean:
	rm -rf $(VENV) $(TOOLS) $(CHECKOV) .aws-sam .pytest_cache .mypy_cache .ruff_cache $(NODE_DIR)/node_modules
