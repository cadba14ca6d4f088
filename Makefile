# The two commands of the README: `make app` runs the app, `make test` runs the tests.
# Both create .venv and install requirements.txt first if needed.
PY := .venv/bin/python

.PHONY: setup app test bench-retrieval bench-safety bench-speed

setup:
	bash scripts/setup.sh

app: setup
	$(PY) app.py

test: setup
	$(PY) -m pytest

bench-retrieval: setup
	$(PY) bench/retrieval_bench.py

bench-safety: setup
	$(PY) bench/safety_bench.py

bench-speed: setup
	$(PY) bench/speed_bench.py
