"""Memory of the recorder under a flood of made-up vehicle ids (issue 15, finding 4).

The recorder as ``dispatcher serve`` builds it (``LiveTelemetry`` over a migrated SQLite
database with a 100-vehicle fleet, its writer, device-registry flusher and binding reload
running) receives position messages on the native topics of ``--ids`` distinct ids that are
in no vehicles table and bound to nothing, interleaved with the real fleet's fixes. Messages
are handed to the ingest pipeline as the MQTT network thread does (the broker is not what is
measured), the drain runs as the 200-ms tick does. RSS is read after ``--first`` ids and at
the end; the target is the end within ±10 % of the first reading (state per id is capped,
never per id heard).

Run: ``.venv/bin/python bench/unknown_ids.py [--ids 200000 --first 20000]``
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dispatcher.clock import SystemClock
from dispatcher.config import Settings
from dispatcher.events import EventBus
from dispatcher.live import LiveTelemetry
from dispatcher.persistence import device_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import DeviceSeenRow, QuarantineRow, Vehicle

FLEET = 100


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def payload(i: int) -> bytes:
    body = {"v": 1, "ts": round(time.time() - 1, 3), "lat": 52.0 + (i % 1000) * 1e-4, "lon": 4.9}
    return json.dumps(body).encode()


def settle(live: LiveTelemetry) -> float:
    """Drain, let the writer and the flusher catch up, collect garbage; RSS in MB."""
    live.tick()
    live.writer.flush(30)
    live._registry_flusher.flush_now()
    gc.collect()
    return rss_mb()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=200_000)
    parser.add_argument("--first", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'recorder.db'}"
        db = Database(url)
        with db.session() as session:
            session.add_all(Vehicle(id=f"VAN-{v:03d}", name=f"Van {v}") for v in range(FLEET))
        live = LiveTelemetry(Settings(database_url=url), db, EventBus(), SystemClock())
        live.writer.start()
        live._registry_flusher.start()
        on_message = live.pipeline.on_message
        start = time.perf_counter()
        first = 0.0
        for i in range(args.ids):
            on_message(f"fleet/vehicles/ghost-{i:07d}/position", payload(i))
            if i % 10 == 0:
                van = f"VAN-{(i // 10) % FLEET:03d}"
                on_message(f"fleet/vehicles/{van}/position", payload(i))
            if i % 2000 == 1999:
                live.tick()
            if i + 1 == args.first:
                first = settle(live)
                print(f"after {args.first:>7,} distinct unknown ids: RSS {first:6.1f} MB")
        last = settle(live)
        took = time.perf_counter() - start
        print(f"after {args.ids:>7,} distinct unknown ids: RSS {last:6.1f} MB")
        sizes = live.registry.sizes()
        with db.session() as session:
            unknown_rows = session.query(DeviceSeenRow).filter(DeviceSeenRow.unknown).count()
            quarantined = session.query(QuarantineRow).count()
            listed = len(device_repo.list_devices(session, unbound_only=True))
        print(
            f"live vehicles {len(live.fleet)}, filter tracks "
            f"{len(live.decoder.position_filter or ())}, registry {sizes}, "
            f"unknown devices in the database {unknown_rows} (listed {listed}), "
            f"quarantine rows {quarantined}; {args.ids / took:,.0f} unknown msg/s"
        )
        ratio = last / first
        print(f"RSS ratio end/first: {ratio:.3f} (target 0.90-1.10): ", end="")
        print("met" if 0.9 <= ratio <= 1.1 else "NOT met")
        live.writer.stop()
        live._registry_flusher.stop()
        db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
