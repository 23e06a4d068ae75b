#!/usr/bin/env bash
# One-time (idempotent) set-up of a Debian machine for Dispatcher: the system libraries Qt and
# QtWebEngine need, Mosquitto and PostgreSQL (used by the tests and the embedded broker), and
# the virtualenv in .venv with the package installed in editable mode (which compiles the route
# search's Cython module, dispatcher/planning/_descent.pyx).
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(
  python3 python3-venv python3-pip python3-dev gcc libc6-dev  # the compiled route search
  libegl1 libgl1 libx11-6 libdbus-1-3 libfontconfig1 libfreetype6 libglib2.0-0 libxkbcommon0
  libnss3 libnspr4 libasound2 libxcomposite1 libxdamage1 libxrandr2 libxtst6 libxkbfile1
  libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
  libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 xvfb fonts-dejavu-core
  mosquitto mosquitto-clients postgresql
  chromium  # the web front's browser tests drive it through Playwright (tests/web)
)

missing=()
for pkg in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The packages start system-wide services; the tests start their own on loopback.
  $SUDO systemctl disable --now mosquitto postgresql >/dev/null 2>&1 || true
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# The stamp covers setup.py and the compiled route search too: editing its .pyx rebuilds it.
stamp=.venv/.installed-$(cat pyproject.toml setup.py dispatcher/planning/*.pyx | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[test]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# OSRM's programs for road routing and its tests (docs/routing.md): the osrm-bindings wheel is
# built for CPython >= 3.12 only, but only its executables (self-contained but for libc and
# libstdc++) are used, so the wheel is fetched for 3.12 and unpacked into .osrm-engine,
# where dispatcher/routing/tools.py finds it; no Python 3.12 is needed.
OSRM_WHEEL=osrm-bindings==26.10.0
if [ ! -x .osrm-engine/osrm/bin/osrm-routed ] || [ "$(cat .osrm-engine/.wheel 2>/dev/null)" != "$OSRM_WHEEL" ]; then
  tmp=$(mktemp -d)
  .venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    "$OSRM_WHEEL" -d "$tmp"
  rm -rf .osrm-engine
  .venv/bin/python -m zipfile -e "$tmp"/osrm_bindings-*.whl .osrm-engine
  chmod +x .osrm-engine/osrm/bin/*  # zipfile drops the modes
  echo "$OSRM_WHEEL" > .osrm-engine/.wheel
  rm -rf "$tmp"
fi
echo "setup: ready (.venv, .osrm-engine)"
