"""The embedded broker is never open: phones log in over TLS with their own credential and
may speak only for themselves (issue 15 finding 3, issue 13 "Phones over the LAN")."""

from __future__ import annotations

import json
import socket
import ssl
import time

import pytest
from devices_support import ACTOR, Console, probe, wait_until

from dispatcher.devices.phone import credential_manager, setup_phone

pytestmark = pytest.mark.mqtt


def location(lat: float, lon: float) -> bytes:
    return json.dumps(
        {"_type": "location", "lat": lat, "lon": lon, "tst": int(time.time()), "tid": "AP"}
    ).encode()


def native_position(lat: float, lon: float) -> bytes:
    return json.dumps({"v": 1, "ts": time.time(), "lat": lat, "lon": lon}).encode()


def test_a_phone_with_its_owntracks_setup_moves_its_van_over_tls(console: Console) -> None:
    setup = setup_phone(
        console.settings, console.db, "owntracks:alice/phone", ACTOR, host="127.0.0.1"
    )
    cfg = setup.owntracks
    assert cfg is not None and cfg["tls"] is True and cfg["port"] == console.tls_port
    phone = probe(cfg["port"], cfg["username"], cfg["password"], ca=setup.ca_file, host=cfg["host"])
    try:
        assert phone.refused == [False]
        phone.publish(cfg["pubTopicBase"], location(52.52, 13.405))

        def moved() -> bool:
            console.live.tick()
            van = console.live.fleet.get("V01")
            return van is not None and van.lat == pytest.approx(52.52)

        assert wait_until(moved)
    finally:
        phone.close()


def test_the_tls_listener_is_verified_against_the_generated_ca(console: Console) -> None:
    """The certificate verifies with the app's CA and the address dialled, and not without."""

    def handshake(ctx: ssl.SSLContext) -> None:
        with (
            socket.create_connection(("127.0.0.1", console.tls_port), timeout=10) as raw,
            ctx.wrap_socket(raw, server_hostname="127.0.0.1"),
        ):
            pass

    handshake(ssl.create_default_context(cafile=str(console.ca)))
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(ssl.create_default_context())  # the system's CAs do not know ours


def test_anonymous_clients_are_refused_on_both_listeners(console: Console) -> None:
    plain = probe(console.loop_port)
    tls = probe(console.tls_port, ca=console.ca)
    try:
        assert plain.refused == [True] and tls.refused == [True]
    finally:
        plain.close()
        tls.close()


def test_every_spoof_of_a_device_is_dropped_by_the_broker(console: Console) -> None:
    """Finding 3's nine attempts and more, by an OwnTracks phone and by a native van."""
    creds = credential_manager(console.settings, console.db)
    alice = creds.create("owntracks:alice/phone", ACTOR)
    van2 = creds.create("native:V02", ACTOR)
    observer = console.console_probe()
    observer.subscribe("#")
    spoofs = {
        alice: [
            ("fleet/vehicles/V02/position", native_position(1.0, 1.0), False),
            (
                "fleet/vehicles/V02/event",
                b'{"v":1,"event_id":"x","kind":"delivered","ts":1}',
                False,
            ),
            ("fleet/vehicles/V02/status", b'{"v":1,"state":"offline"}', True),
            ("fleet/vehicles/V02/route", b"{}", True),
            ("fleet/vehicles/V02/cmd", b"{}", False),
            ("owntracks/bob/phone", location(1.0, 1.0), False),
            ("owntracks/alice/tablet", location(1.0, 1.0), False),
            ("fleet/console/sync", b'{"v":1,"console_id":"x","entity":"alert","id":"*"}', False),
            ("fleet/console/alerts/lease", b'{"v":1,"owner":"zzz","priority":9,"ts":1}', True),
            ("fleet/console/desk-1/status", b'{"v":1,"state":"online"}', True),
            ("owntracks/alice/phone/cmd", b"{}", False),
        ],
        van2: [
            ("owntracks/alice/phone", location(1.0, 1.0), False),  # the first one's topic
            ("fleet/vehicles/V01/position", native_position(1.0, 1.0), False),
            ("fleet/vehicles/V01/event", b'{"v":1,"event_id":"y","kind":"failed","ts":1}', False),
            ("fleet/vehicles/V02/route", b"{}", True),  # console -> vehicle only
            ("fleet/console/sync", b'{"v":1,"console_id":"x","entity":"route","id":"*"}', False),
            ("fleet/console/alerts/lease", b'{"v":1,"owner":"zzz","priority":9,"ts":1}', True),
        ],
    }
    own = {alice: "owntracks/alice/phone", van2: "fleet/vehicles/V02/position"}
    try:
        for cred, attempts in spoofs.items():
            device = probe(console.tls_port, cred.username, cred.password, ca=console.ca)
            try:
                assert device.refused == [False]
                for topic, payload, retain in attempts:
                    device.publish(topic, payload, retain=retain)
                # One publisher's messages keep their order: a spoof that passed would be
                # at the observer before this allowed one.
                device.publish(
                    own[cred],
                    location(52.5, 13.4) if cred is alice else native_position(52.5, 13.4),
                )
                mine = own[cred]
                assert wait_until(lambda: mine in observer.topics())  # noqa: B023
            finally:
                device.close()
        spoofed = {(t, p) for attempts in spoofs.values() for t, p, _ in attempts}
        assert not spoofed & set(observer.got), observer.got
        console.live.tick()
        fix = console.live.fleet.get("V01")
        assert fix is not None and fix.lat == pytest.approx(52.5)
    finally:
        observer.close()


def test_a_device_cannot_read_other_vehicles(console: Console) -> None:
    creds = credential_manager(console.settings, console.db)
    alice = creds.create("owntracks:alice/phone", ACTOR)
    van2 = creds.create("native:V02", ACTOR)
    spy = probe(console.tls_port, alice.username, alice.password, ca=console.ca)
    observer = console.console_probe()
    van = probe(console.tls_port, van2.username, van2.password, ca=console.ca)
    try:
        spy.subscribe("#", "fleet/vehicles/+/position", "owntracks/+/+", "fleet/console/#")
        observer.subscribe("fleet/vehicles/+/position")
        van.publish("fleet/vehicles/V02/position", native_position(52.5, 13.4))
        assert wait_until(lambda: "fleet/vehicles/V02/position" in observer.topics())
        # The console writes to the phone; the phone hears that, and nothing before it.
        observer.publish("owntracks/alice/phone/cmd", b'{"_type":"cmd","action":"reportLocation"}')
        assert wait_until(lambda: "owntracks/alice/phone/cmd" in spy.topics())
        assert spy.topics() == ["owntracks/alice/phone/cmd"]
    finally:
        for c in (spy, observer, van):
            c.close()


def test_a_revoked_phone_is_cut_off_and_refused(console: Console) -> None:
    creds = credential_manager(console.settings, console.db)
    alice = creds.create("owntracks:alice/phone", ACTOR)
    phone = probe(console.tls_port, alice.username, alice.password, ca=console.ca)
    assert phone.refused == [False]
    creds.revoke("owntracks:alice/phone", ACTOR)
    try:
        assert phone.disconnected.wait(10), "mosquitto keeps a revoked client connected"
    finally:
        phone.close()

    def refused() -> bool:
        again = probe(console.tls_port, alice.username, alice.password, ca=console.ca)
        again.close()
        return again.refused == [True]

    assert wait_until(refused)


def test_a_rotated_password_replaces_the_old_one(console: Console) -> None:
    creds = credential_manager(console.settings, console.db)
    old = creds.create("owntracks:alice/phone", ACTOR)
    new = creds.rotate("owntracks:alice/phone", ACTOR)
    assert new.username == old.username and new.password != old.password

    def old_refused() -> bool:
        p = probe(console.tls_port, old.username, old.password, ca=console.ca)
        p.close()
        return p.refused == [True]

    assert wait_until(old_refused)
    fresh = probe(console.tls_port, new.username, new.password, ca=console.ca)
    fresh.close()
    assert fresh.refused == [False]
