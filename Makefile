# Two commands on a fresh machine with only Python >= 3.11: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed-dev

.PHONY: install demo test test-fast lint bench claims-doc clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch is pinned by constraints.txt (a CPU build pip takes from local disk); the rest from PyPI.
$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt -e ".[dev,ray,tracking]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/collapselab run strong-collapse/scaling --preset quick --out results
	$(VENV)/bin/collapselab report --out results
	@echo "figures: results/strong-collapse/scaling/<run-id>/figures/  report: results/report.html"

install: $(STAMP)

# pytest exits 5 when it collects no test: reported, not a failure of the build
test: $(STAMP)
	@$(VENV)/bin/pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

# The inner loop: everything but the end-to-end runs marked slow (< 2 minutes on 2 cores).
test-fast: $(STAMP)
	@$(VENV)/bin/pytest -m "not slow" $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

# docs/claims.md from a quick reproduction in results/ (`collapselab reproduce --preset quick --confirm`), with a
# section for the experiments also run at full; CLAIMS_OUT names several results folders where the full runs
# were made elsewhere (`make claims-doc CLAIMS_OUT="results results-gpu"`)
CLAIMS_OUT ?= results
claims-doc: $(STAMP)
	$(VENV)/bin/collapselab claims $(foreach d,$(CLAIMS_OUT),--out $(d)) --preset quick --preset full --format md \
		> docs/claims.md

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache
