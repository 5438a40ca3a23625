# The two commands of the README's quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install docs bench lint clean mutation

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[all,test,docs]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m skreuse demo

# Lint, the docs build (runs every gallery example), then the test suite, whose summary
# line closes the output. One BLAS/torch thread per pytest worker: two workers, two cores.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory docs
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 -q

# Builds the site and runs every gallery example; warnings are errors.
docs: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m sphinx -b html -W --keep-going docs docs/_build/html

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Mutation testing of the numerical core with mutmut (config: [tool.mutmut] in pyproject.toml),
# then the report benchmarks/mutation.md. Slow (hours on two cores), so not in CI; results are
# cached in mutants/ and a rerun resumes. MUTANTS="skreuse.inference._ncm.*" runs one module.
# joblib runs sequentially (JOBLIB_MULTIPROCESSING=0): loky workers started by n_jobs tests
# are children of mutmut's process, and one exiting crashes mutmut's runner (KeyError).
MUTANTS ?=
mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[mutation]"
	JOBLIB_MULTIPROCESSING=0 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
		$(BIN)/mutmut run $(MUTANTS)
	$(BIN)/python benchmarks/mutation_report.py

clean:
	rm -rf $(VENV) docs/_build docs/auto_examples docs/generated
