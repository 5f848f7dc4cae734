# Shortcuts for the two README commands and the developer chores.
.PHONY: run test fast lint bench
run:
	scripts/run.sh
test:
	scripts/test.sh
fast:
	scripts/test.sh -m "not slow"
lint:
	.venv/bin/ruff check qconsole tests benchmarks
	.venv/bin/lint-imports
	.venv/bin/mypy
bench:
	.venv/bin/python benchmarks/decode.py
