PORT ?= 5000
FLASK = .venv/bin/flask --app wsgi

.PHONY: setup run test bench

setup:
	bash scripts/setup.sh

run: setup
	$(FLASK) demo-accounts
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

test: setup
	bash scripts/test.sh

bench: setup
	.venv/bin/python bench/run.py
