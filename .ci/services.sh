#!/usr/bin/env bash
# Start or stop the real services the tests use, on loopback only:
#   PostgreSQL (Debian package) on 127.0.0.1:$PG_PORT, Mosquitto on 127.0.0.1:$MQTT_PORT.
# Usage: .ci/services.sh start|stop   (prints the env vars the tests read on start)
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=${DISPATCHER_CI_DIR:-/tmp/dispatcher-ci}
PG_PORT=${PG_PORT:-55432}
MQTT_PORT=${MQTT_PORT:-18830}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  mkdir -p "$RUN_DIR"
  chmod 1777 "$RUN_DIR"
  # PostgreSQL: a throw-away cluster, trust auth on loopback, fsync off (tests only).
  if [ ! -d "$RUN_DIR/pg" ]; then
    mkdir -p "$RUN_DIR/pg"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$RUN_DIR/pg"
    as_pg "$PG_BIN/initdb" -D "$RUN_DIR/pg" -U postgres -A trust -E UTF8 >/dev/null
  fi
  as_pg "$PG_BIN/pg_ctl" -D "$RUN_DIR/pg" -l "$RUN_DIR/pg.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $RUN_DIR -c fsync=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null
  # Mosquitto: anonymous on loopback for the tests.
  cat > "$RUN_DIR/mosquitto.conf" <<CONF
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 1000
max_queued_messages 100000
CONF
  /usr/sbin/mosquitto -c "$RUN_DIR/mosquitto.conf" -d
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$MQTT_PORT") 2>/dev/null && break
    sleep 0.1
  done
  echo "export DISPATCHER_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/postgres"
  echo "export DISPATCHER_TEST_MQTT_URL=mqtt://127.0.0.1:$MQTT_PORT"
}

stop() {
  if [ -d "$RUN_DIR/pg" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$RUN_DIR/pg" -m immediate stop >/dev/null 2>&1 || true
  fi
  pkill -f "mosquitto -c $RUN_DIR/mosquitto.conf" 2>/dev/null || true
  rm -rf "$RUN_DIR"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
