# The two commands of the README: `make demo` and `make test`. Both set up a fresh Debian
# machine first (system packages, .venv); see .ci/setup.sh.
.PHONY: setup demo test bench

setup:
	bash .ci/setup.sh

demo: setup
	.venv/bin/dispatcher demo

test:
	bash .ci/test.sh

bench: setup
	.venv/bin/python bench/planning.py --quick
	QT_QPA_PLATFORM=offscreen .venv/bin/python bench/console.py
	.venv/bin/python bench/eta.py
