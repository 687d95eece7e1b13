# The two commands of the README. Both create .venv if it is missing and install phaze with its extras
# (dev, and ray: the Ray executor's test runs in CI, tests/test_ray_executor.py).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,ray]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m phaze +experiment=quickstart
	@echo "Browse every run: $(BIN)/mlflow ui --backend-store-uri sqlite:///outputs/mlflow.db --workers 1, then open the runs-table URL printed above"

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) outputs .pytest_cache .ruff_cache
