"""``dispatcher devices credentials|rotate|revoke``: broker credentials for phones and trackers.

``credentials DEVICE_KEY`` makes the device's broker user and prints its name and password
(once); with ``--owntracks FILE`` it writes the phone's OwnTracks configuration (mode 0600:
the password is in it) and with ``--qr FILE.png`` the QR code the OwnTracks app imports.
``rotate`` gives the same user a new password (and new files), ``revoke`` ends it. Each
change is applied to this machine's embedded broker at once (SIGHUP), and by any other
workstation's broker within its check interval.

Exit status: 0 done, 1 refused (permission, a live credential already, none to revoke),
2 bad input (a device key no ACL can confine, a bad user name or file type).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from dispatcher.config import Settings
from dispatcher.devices.access import device_topics
from dispatcher.devices.credentials import os_account
from dispatcher.devices.owntracks import config_json, write_qr
from dispatcher.devices.phone import PhoneSetup, credential_manager, setup_phone
from dispatcher.devices.pki import write_private
from dispatcher.errors import ValidationError

ACTIONS = ("credentials", "rotate", "revoke")


def add_parser(sub: Any) -> Any:
    """Register the ``devices`` group on the main parser's subcommands; returns its actions
    (the registry's ``list``/``bind``/``unbind``/``quarantine`` join them)."""
    devices = sub.add_parser(
        "devices", help="devices: list, bind, unbind, quarantine, phone credentials"
    )
    actions = devices.add_subparsers(dest="devices_command", metavar="ACTION", required=True)
    add_credential_actions(actions)
    return actions


def add_credential_actions(actions: Any) -> None:
    """Add ``credentials``, ``rotate`` and ``revoke`` to a ``devices`` subcommand group."""
    create = actions.add_parser(
        "credentials", help="make a device's broker credential (and its OwnTracks setup)"
    )
    rotate = actions.add_parser("rotate", help="new password for a device's broker user")
    for p in (create, rotate):
        p.add_argument("device_key", metavar="DEVICE_KEY", help="e.g. owntracks:alice/phone")
        p.add_argument("--owntracks", metavar="FILE", type=Path, help="write the .otrc file")
        p.add_argument("--qr", metavar="FILE", type=Path, help="write the QR code (.png/.svg)")
        p.add_argument("--host", help="address phones dial (default: public_host or LAN IP)")
    create.add_argument("--username", help="broker user name (default: from the key)")
    revoke = actions.add_parser("revoke", help="end a device's credential: the broker refuses it")
    revoke.add_argument("device_key", metavar="DEVICE_KEY")


def run_devices(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Run one of :data:`ACTIONS`; exit 2 for bad input, DispatcherError for refusals."""
    from dispatcher.persistence.database import Database

    try:
        device_topics(args.device_key, settings.broker.prefix)
        qr = getattr(args, "qr", None)
        if qr is not None and qr.suffix.lower() not in (".png", ".svg"):
            raise ValidationError(f"{qr}: the QR code is written as .png or .svg")
    except ValidationError as exc:
        print(f"dispatcher devices: {exc}", file=out)
        return 2
    db = Database(settings.database_url)
    try:
        if args.devices_command == "revoke":
            credential_manager(settings, db).revoke(args.device_key, os_account())
            print(f"{args.device_key}: credential revoked; the broker refuses it now", file=out)
            return 0
        setup = setup_phone(
            settings,
            db,
            args.device_key,
            os_account(),
            host=args.host,
            rotate=args.devices_command == "rotate",
            username=getattr(args, "username", None),
        )
    finally:
        db.dispose()
    _report(setup, args, out)
    return 0


def _report(setup: PhoneSetup, args: argparse.Namespace, out: TextIO) -> None:
    c = setup.credential
    print(f"device:    {c.device_key}", file=out)
    print(f"broker:    {setup.host}:{setup.port} (TLS, CA {setup.ca_file})", file=out)
    print(f"user:      {c.username}", file=out)
    print(f"password:  {c.password}   (shown once; only its hash is stored)", file=out)
    print(f"publishes: {', '.join(c.topics.write)}", file=out)
    if setup.owntracks is not None:
        if args.owntracks is not None:
            write_private(args.owntracks, config_json(setup.owntracks).encode())
            print(f"OwnTracks configuration written to {args.owntracks}", file=out)
        if args.qr is not None:
            write_qr(setup.owntracks, args.qr)
            print(f"QR code written to {args.qr} (scan it in the OwnTracks app)", file=out)
    elif args.owntracks is not None or args.qr is not None:
        print("not an OwnTracks device: no .otrc file or QR code written", file=out)
    if setup.warning:
        print(f"warning: {setup.warning}", file=out)
