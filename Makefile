# The template's own commands. `make demo` shows what a user gets; `make test` is what CI runs.
.DEFAULT_GOAL := help
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
DEFAULT_SLUG := penguin-species-classifier
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help venv demo test test-fast lint clean

help: ## Show the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "} {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## Create .venv with cookiecutter, pytest, ruff, uv and the generated project's dependencies

$(VENV)/.installed: requirements-dev.txt {{cookiecutter.project_slug}}/pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	rm -rf build/.deps && $(VENV)/bin/cookiecutter --no-input --output-dir build/.deps .
	cd build/.deps/$(DEFAULT_SLUG) && uv pip install --quiet --compile-bytecode --python $(CURDIR)/$(PYTHON) \
		-r pyproject.toml --all-extras --group dev
	touch $@

demo: venv ## Bake the default project into build/, install it, run its pipeline
	rm -rf build/$(DEFAULT_SLUG)
	$(VENV)/bin/cookiecutter --no-input --output-dir build .
	cd build/$(DEFAULT_SLUG) && $(MAKE) install && $(MAKE) pipeline
	@echo
	@echo "Done. Your project is in build/$(DEFAULT_SLUG):"
	@echo "  metrics       build/$(DEFAULT_SLUG)/reports/metrics.json"
	@echo "  figures       build/$(DEFAULT_SLUG)/reports/figures/"
	@echo "  model card    build/$(DEFAULT_SLUG)/reports/model_card.md"
	@echo "  model         build/$(DEFAULT_SLUG)/models/model.json"
	@echo "  MLflow        cd build/$(DEFAULT_SLUG) && make mlflow-ui   (http://127.0.0.1:5000)"
	@echo "  API           cd build/$(DEFAULT_SLUG) && make serve       (http://127.0.0.1:8000/docs)"

test: venv ## Run the template's tests: hooks, every option bakes, each dataset's pipeline and suite, make install
	$(PYTHON) -m pytest tests

test-fast: venv ## The same on the default answers only
	FAST=1 $(PYTHON) -m pytest tests

lint: venv ## ruff on the template's own code (baked projects are linted by the tests)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean: ## Remove build/ and the venv
	rm -rf build $(VENV) .pytest_cache .ruff_cache
