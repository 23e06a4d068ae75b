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
.venv/bin/mypy dispatcher ui tests
# pytest names every conftest.py `conftest`, and so does mypy: one module of that name per run,
# so the per-directory ones are checked one by one (pyproject.toml [tool.mypy] excludes them).
for conftest in tests/*/conftest.py; do
  .venv/bin/mypy --no-warn-unused-configs "$conftest"
done
# ... and every `type: ignore` says why after its error code (mypy insists on the code).
if grep -rnE --include='*.py' '#\s*type:\s*ignore(\[[^]]*\])?\s*$' dispatcher ui tests main.py; then
  echo 'a `# type: ignore[code]` above has no reason comment after it' >&2
  exit 1
fi
.venv/bin/lint-imports
.venv/bin/python -c "import sys, dispatcher, dispatcher.core, dispatcher.cli; \
bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph', 'folium')); \
sys.exit(f'core imported {bad}' if bad else 0)"

# The product outside the repository: wheel + sdist, the wheel in a fresh venv elsewhere, the
# frozen desktop build, each running db upgrade / solve / demo --screenshot (docs/packaging.md).
if [ "${DISPATCHER_SHIP:-1}" != "0" ]; then
  bash .ci/ship.sh
fi

run_suite() {
  set +e
  .venv/bin/python -m pytest -p no:cacheprovider "$@"
  local code=$?
  set -e
  if [ "$code" -eq 5 ]; then
    echo "pytest collected no tests: failing" >&2
    code=1
  fi
  return "$code"
}

echo "== tests (fleet zone: the demo's, ${DISPATCHER_TEST_TZ:-Europe/Berlin})"
rc=0
run_suite "$@" || rc=$?
# The whole suite again where the fleet is not the demo's: a half-hour offset (UTC-3:30) on
# its fall-back day (25 hours). Kolkata (+5:30) and the spring-forward day are parametrized
# in tests/planning/test_planning_zones.py. Set DISPATCHER_SECOND_ZONE=0 to skip this run.
if [ "${DISPATCHER_SECOND_ZONE:-1}" != "0" ]; then
  echo "== tests again: fleet zone America/St_Johns on 2026-11-01 (DST ends)"
  DISPATCHER_TEST_TZ=America/St_Johns DISPATCHER_TEST_DAY=2026-11-01 run_suite "$@" || rc=$?
fi
exit "$rc"
