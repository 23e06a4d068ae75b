#!/usr/bin/env bash
# Packaging smoke test (issue 21, docs/packaging.md), run by .ci/test.sh after the house rules:
#  1. build the sdist and, from it, the wheel (PyPA `build`);
#  2. install the wheel (no extras, as a laptop would) into a fresh venv OUTSIDE the repository
#     and run `dispatcher db upgrade`, `dispatcher demo --screenshot … --quit-after` and
#     `dispatcher solve` from there, in an empty folder with its own HOME;
#  3. freeze that install with PyInstaller (packaging/dispatcher.spec) and run the frozen
#     console the same way, headless.
# Artefacts, the pip cache and the figures (sizes, start times) stay in the clone, under
# build/ship/ (ignored by git); the venv and the frozen build live in a temp dir removed at exit.
# DISPATCHER_SHIP=0 skips it; DISPATCHER_SHIP_FROZEN=0 skips step 3; DISPATCHER_SHIP_KEEP=1
# keeps the temp dir. VENV: the venv with
# `build` in it (default .venv, where .ci/setup.sh installs the test extra).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
out=$repo/build/ship
rm -rf "$out/dist" "$out/shots" "$out/figures.txt"
mkdir -p "$out/dist" "$out/shots"
export PIP_CACHE_DIR=$out/pip-cache PIP_DISABLE_PIP_VERSION_CHECK=1
work=$(mktemp -d "${TMPDIR:-/tmp}/dispatcher-ship.XXXXXX")
[ "${DISPATCHER_SHIP_KEEP:-0}" = "1" ] || trap 'rm -rf "$work"' EXIT  # 1: keep for a look
case "$work" in "$repo"/*) echo "ship: temp dir inside the repository" >&2; exit 1 ;; esac

figure() { echo "$1" | tee -a "$out/figures.txt"; }
# timed LABEL CMD...: run CMD, print and record its wall time.
timed() {
  local label=$1 start end
  shift
  start=$(date +%s.%N)
  "$@"
  end=$(date +%s.%N)
  figure "$(printf '%-38s %6.1f s' "$label" "$(awk "BEGIN{print $end - $start}")")"
}

echo "== ship: sdist and wheel (python -m build)"
timed "build sdist+wheel" "${VENV:-.venv}/bin/python" -m build --outdir "$out/dist" . >"$out/build.log" 2>&1 \
  || { tail -40 "$out/build.log"; exit 1; }
wheel=$(ls "$out"/dist/dispatcher-*.whl)
sdist=$(ls "$out"/dist/dispatcher-*.tar.gz)
"${VENV:-.venv}/bin/python" .ci/check_wheel.py "$wheel" "$sdist"

echo "== ship: the wheel in a fresh venv outside the repository ($work)"
"${PYTHON:-python3}" -m venv "$work/venv"
timed "pip install wheel (+pyinstaller)" "$work/venv/bin/python" -m pip install -q "$wheel" \
  "pyinstaller>=6.10"

# A user's machine: empty current folder, own HOME and XDG folders, no checkout on sys.path.
mkdir -p "$work/home" "$work/run"
cp .ci/ship_tiny.txt "$work/run/tiny.txt"
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_DATA_HOME=$work/home/.local/share
export XDG_CACHE_HOME=$work/home/.cache XDG_STATE_HOME=$work/home/.local/state
export QT_QPA_PLATFORM=offscreen QT_QUICK_BACKEND=software
export QTWEBENGINE_CHROMIUM_FLAGS="--no-sandbox --disable-gpu --disable-background-networking"
unset PYTHONPATH DISPATCHER_DB || true

# smoke KIND PROGRAM: the three commands of issue 21 (and two refusals) with PROGRAM.
smoke() {
  local kind=$1 prog=$2
  (
    cd "$work/run"
    "$prog" --version
    timed "$kind: --version (cold start)" "$prog" --version >/dev/null
    # Start time: the demo (fresh database, broker, simulated fleet) up and its window shown.
    timed "$kind: demo start, quit 0.1 s after" "$prog" demo --quit-after 0.1 2>/dev/null
    timed "$kind: db upgrade" "$prog" --db "$work/run/$kind.sqlite3" db upgrade
    timed "$kind: solve (2 s limit)" "$prog" solve tiny.txt --time-limit 2 >"$kind-solve.txt"
    grep -q "vehicles" "$kind-solve.txt" || { cat "$kind-solve.txt"; exit 1; }
    timed "$kind: demo --screenshot (6 s)" "$prog" demo --screenshot "$out/shots/$kind.png" \
      --quit-after 6 --size 1366x768
    test -s "$out/shots/$kind.png"
    # Without the 'postgres' extra, a PostgreSQL URL says which extra to install.
    if "$prog" --db postgresql+psycopg://u@127.0.0.1:9/x db upgrade 2>"$kind-pg.txt"; then
      echo "ship: PostgreSQL without its driver did not fail" >&2
      exit 1
    fi
    grep -q "dispatcher\[postgres\]" "$kind-pg.txt" || { cat "$kind-pg.txt"; exit 1; }
  )
}
figure "$(printf '%-38s %6s' "PySide6 resolved" "$("$work/venv/bin/python" -c \
  'import PySide6; print(PySide6.__version__)')")"
smoke wheel "$work/venv/bin/dispatcher"
test -x "$work/venv/bin/dispatcher-console"

if [ "${DISPATCHER_SHIP_FROZEN:-1}" != "0" ]; then
  echo "== ship: frozen desktop build (PyInstaller, packaging/dispatcher.spec)"
  timed "pyinstaller build" "$work/venv/bin/pyinstaller" --noconfirm --log-level WARN \
    --distpath "$work/frozen" --workpath "$work/pyi" packaging/dispatcher.spec \
    >"$out/pyinstaller.log" 2>&1 || { tail -40 "$out/pyinstaller.log"; exit 1; }
  smoke frozen "$work/frozen/dispatcher/dispatcher"
  figure "$(printf '%-38s %6s' "frozen folder" "$(du -sh "$work/frozen/dispatcher" | cut -f1)")"
fi
figure "$(printf '%-38s %6s' "wheel $(basename "$wheel")" "$(du -h "$wheel" | cut -f1)")"
figure "$(printf '%-38s %6s' "sdist $(basename "$sdist")" "$(du -h "$sdist" | cut -f1)")"
echo "== ship: passed (figures in build/ship/figures.txt, screenshots in build/ship/shots/)"
