#!/usr/bin/env bash
# The whole test suite, as the README's test command runs it: set-up, real services, house
# rules (ruff, mypy, import contract, no Qt in the core), then pytest. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup.sh
trap 'bash .ci/services.sh stop' EXIT
bash .ci/services.sh stop
eval "$(bash .ci/services.sh start)"
export DISPATCHER_TEST_PG_URL DISPATCHER_TEST_MQTT_URL
export QT_QPA_PLATFORM=offscreen
export QTWEBENGINE_CHROMIUM_FLAGS="--no-sandbox --disable-gpu --disable-background-networking"
export QT_QUICK_BACKEND=software

echo "== house rules"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy dispatcher
.venv/bin/lint-imports
.venv/bin/python -c "import sys, dispatcher, dispatcher.core, dispatcher.cli; \
bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph', 'folium')); \
sys.exit(f'core imported {bad}' if bad else 0)"

echo "== tests"
set +e
.venv/bin/python -m pytest -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  rc=1
fi
exit "$rc"
