"""``dispatcher devices list|bind|unbind|quarantine``: the device registry on the command line.

* ``list [--unbound] [--json]``: every device that spoke (and every binding), newest first;
  ``--unbound`` only those refused for want of a binding (the unknown-devices list).
* ``bind DEVICE_KEY VEHICLE`` / ``unbind DEVICE_KEY``: one transaction, audited, then a note
  on the console sync topic so running consoles and recorders reload their table at once.
* ``quarantine [DEVICE_KEY] [--json]``: rejected messages, and with a key its health line.

Exit status: 0 done, 1 the database or the broker cannot be used, 2 refused input (malformed
key, unknown vehicle, a device already bound to another vehicle, not bound).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from dispatcher import display
from dispatcher.config import Settings
from dispatcher.errors import ConflictError, NotFoundError, ValidationError
from dispatcher.persistence.device_repo import DeviceView, QuarantineView
from dispatcher.telemetry.profiles import (
    BATTERY_UNITS,
    SPEED_UNITS,
    DeviceProfile,
    profile_from_mapping,
)

EXIT_OK, EXIT_REFUSED = 0, 2
ANNOUNCE_TIMEOUT_S = 3.0

Handler = Callable[[argparse.Namespace, Settings, TextIO], int]


def add_parsers(devices: Any) -> None:
    """Register ``list``, ``bind``, ``unbind`` and ``quarantine`` on the ``devices`` group."""
    lst = devices.add_parser("list", help="devices that spoke, with their binding and health")
    lst.add_argument("--unbound", action="store_true", help="only devices waiting to be bound")
    lst.add_argument("--json", action="store_true", help="print a JSON array")
    lst.set_defaults(devices_handler=run_list)
    bind = devices.add_parser("bind", help="bind a device to a vehicle")
    bind.add_argument("device_key", metavar="DEVICE_KEY", help="e.g. owntracks:anna/phone")
    bind.add_argument("vehicle", metavar="VEHICLE", help="vehicle id")
    bind.add_argument(
        "--battery",
        choices=BATTERY_UNITS,
        help="how the device reports battery (default: its format's; Greenwich: auto)",
    )
    bind.add_argument("--speed", choices=SPEED_UNITS, help="the unit of its speed field")
    bind.add_argument(
        "--volts", metavar="EMPTY-FULL", help="voltage read as 0 %% and 100 %%, e.g. 11.8-12.7"
    )
    bind.set_defaults(devices_handler=run_bind)
    unbind = devices.add_parser("unbind", help="remove a device's binding")
    unbind.add_argument("device_key", metavar="DEVICE_KEY")
    unbind.set_defaults(devices_handler=run_unbind)
    quar = devices.add_parser("quarantine", help="rejected messages (of one device: + health)")
    quar.add_argument("device_key", metavar="DEVICE_KEY", nargs="?")
    quar.add_argument("--limit", type=int, default=50, help="at most N messages (default 50)")
    quar.add_argument("--json", action="store_true", help="print one JSON object")
    quar.set_defaults(devices_handler=run_quarantine)


def run_devices(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Dispatch to the action's handler (each action sets ``devices_handler``)."""
    handler: Handler = args.devices_handler
    return handler(args, settings, out)


def run_list(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    with _OpenDesk(settings) as desk:
        views = desk.devices(unbound_only=args.unbound)
    if args.json:
        _dump([v.as_dict() for v in views], out)
        return EXIT_OK
    for v in views:
        print(_line(v), file=out)
    print(f"{len(views)} device{'s' if len(views) != 1 else ''}", file=out)
    return EXIT_OK


def run_bind(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    try:
        profile = _profile(args)
    except ValidationError as exc:
        return _refused(exc, out)
    with _OpenDesk(settings, announce=True) as desk:
        try:
            result = desk.bind(args.device_key, args.vehicle, profile)
        except (ValidationError, NotFoundError, ConflictError) as exc:
            return _refused(exc, out)
    if result.changed:
        print(f"{result.device_key} bound to {result.vehicle_id}", file=out)
    else:
        print(f"{result.device_key} was already bound to {result.vehicle_id}", file=out)
    return EXIT_OK


def _profile(args: argparse.Namespace) -> DeviceProfile | None:
    """The device's own profile from ``--battery/--speed/--volts``, or None (format default)."""
    table: dict[str, Any] = {}
    if args.battery:
        table["battery"] = args.battery
    if args.speed:
        table["speed"] = args.speed
    if args.volts:
        low, sep, high = args.volts.partition("-")
        bad = ValidationError(f"--volts {args.volts!r} is not EMPTY-FULL, e.g. 11.8-12.7")
        if not sep:
            raise bad
        try:
            table["volts_empty"], table["volts_full"] = float(low), float(high)
        except ValueError:
            raise bad from None
    return profile_from_mapping(table, "the device profile") if table else None


def run_unbind(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    with _OpenDesk(settings, announce=True) as desk:
        try:
            vehicle = desk.unbind(args.device_key)
        except (ValidationError, NotFoundError) as exc:
            return _refused(exc, out)
    print(f"{args.device_key.strip()} unbound from {vehicle}", file=out)
    return EXIT_OK


def run_quarantine(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    if args.limit < 0:
        return _refused(ValidationError("--limit must be 0 or more"), out)
    with _OpenDesk(settings) as desk:
        device = desk.device(args.device_key) if args.device_key else None
        messages = desk.quarantine(args.device_key, limit=args.limit)
    if args.device_key and device is None and not messages:
        return _refused(NotFoundError(f"no device {args.device_key!r} has spoken"), out)
    if args.json:
        _dump(
            {
                "device": None if device is None else device.as_dict(),
                "messages": [m.as_dict() for m in messages],
            },
            out,
        )
        return EXIT_OK
    if device is not None:
        print(health_line(device), file=out)
    for m in messages:
        print(_quarantine_line(m), file=out)
    print(f"{len(messages)} quarantined message{'s' if len(messages) != 1 else ''}", file=out)
    return EXIT_OK


def health_line(v: DeviceView) -> str:
    """One line a dispatcher reads at a glance: rejections by reason, drift, GPS, battery."""
    rejected = ", ".join(f"{r} {n}" for r, n in sorted(v.rejections.items())) or "none"
    drift = "—" if v.drift_s is None else f"{v.drift_s:+.0f} s"
    acc = "—" if v.accuracy_m is None else display.current().short_distance(v.accuracy_m)
    batt = "—" if v.battery_pct is None else f"{v.battery_pct:.0f} %"
    seen = "never" if v.last_seen is None else v.last_seen.isoformat(timespec="seconds")
    return (
        f"{v.device_key}: rejected {rejected}; clock drift {drift}; accuracy {acc}; "
        f"battery {batt}; last seen {seen}"
    )


# -- internals -----------------------------------------------------------------------------
class _OpenDesk:
    """A :class:`DeviceDesk` on the configured database (and broker, to announce binds)."""

    def __init__(self, settings: Settings, *, announce: bool = False) -> None:
        self._settings = settings
        self._announce = announce
        self._client: Any = None

    def __enter__(self) -> Any:
        from dispatcher.devices.desk import DeviceDesk
        from dispatcher.persistence.database import Database

        self._db = Database(self._settings.database_url)
        announce = self._publish if self._announce else None
        return DeviceDesk(self._db, announce=announce)

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.stop()
        self._db.dispose()

    def _publish(self, note: Mapping[str, Any]) -> None:
        """Tell running consoles and recorders (best effort: they also reload every 15 s)."""
        from dispatcher.telemetry.mqtt_client import MqttSettings, TelemetryClient

        b = self._settings.broker
        client = TelemetryClient(
            MqttSettings(
                url=b.url,
                console_id="devices-cli",
                clean_session=True,
                prefix=b.prefix,
                username=b.username or None,
                password_env=b.password_env,
                ca_file=b.ca_file or None,
                cert_file=b.cert_file or None,
                key_file=b.key_file or None,
            ),
            lambda *_: None,
        )
        self._client = client
        client.start()
        if client.wait_connected(ANNOUNCE_TIMEOUT_S):
            client.publish_sync(note).wait_for_publish(ANNOUNCE_TIMEOUT_S)


def _refused(exc: Exception, out: TextIO) -> int:
    import sys

    print(f"dispatcher: {exc}", file=sys.stderr)
    return EXIT_REFUSED


def _dump(obj: object, out: TextIO) -> None:
    json.dump(obj, out, indent=2, ensure_ascii=False, default=str)
    out.write("\n")


def _line(v: DeviceView) -> str:
    bound = f"→ {v.vehicle_id}" if v.vehicle_id else "UNBOUND"
    where = "" if v.lat is None or v.lon is None else f" at {v.lat:.5f},{v.lon:.5f}"
    seen = "—" if v.last_seen is None else v.last_seen.isoformat(timespec="seconds")
    own = own_profile(v)
    profile = "" if own is None else f"  profile: {own.summary()}"
    line = f"{v.device_key}  {bound}  {v.format}  {v.messages} msg  last {seen}{where}  {v.topic}"
    return line + profile


def own_profile(v: DeviceView) -> DeviceProfile | None:
    """The device's own profile, or None (it reads as its format's default)."""
    if v.profile is None:
        return None
    try:
        return profile_from_mapping(v.profile, v.device_key)
    except ValidationError:  # a row edited by hand into nonsense reads as the default
        return None


def _quarantine_line(m: QuarantineView) -> str:
    head = f"{m.received_at.isoformat(timespec='seconds')}  {m.device_key or '(no device)'}"
    return f"{head}  {m.reason}  {m.detail}  [{m.payload_size} B] {m.excerpt[:120]!r}"
