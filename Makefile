.PHONY: run test ci bench lint
run:
	python3 dev.py run
test:
	python3 dev.py test
ci:
	bash .ci/run
bench:
	.venv/bin/python bench/webhooks.py && .venv/bin/python bench/dashboard.py
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
