PORT ?= 5000
FLASK = .venv/bin/flask --app wsgi

.PHONY: setup run test bench

setup:
	bash scripts/setup.sh

run: setup
	$(FLASK) demo-accounts
	SIGREKAP_PUBLIC_BASE_URL=$${SIGREKAP_PUBLIC_BASE_URL:-http://127.0.0.1:$(PORT)} \
		$(FLASK) run --host 127.0.0.1 --port $(PORT)

test: setup
	bash scripts/test.sh

bench: setup
	for script in bench/bench_*.py; do .venv/bin/python "$$script" || exit 1; done
