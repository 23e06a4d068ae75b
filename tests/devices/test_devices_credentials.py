"""Device credentials: made, refused, rotated, revoked, on SQLite and PostgreSQL, from the
command line as a person uses it; the OwnTracks file and QR code; who may."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from dispatcher.config import Settings
from dispatcher.devices.access import acl_file, device_topics, hash_secret, verify_secret
from dispatcher.devices.credentials import DeviceCredentials
from dispatcher.devices.embedded import BrokerHome
from dispatcher.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import AuditEntry, DeviceCredential, User
from main import main


def run(db_url: str, *argv: str) -> int:
    return main(["devices", *argv, "--db", db_url])


def test_credentials_writes_the_owntracks_file_and_qr(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    otrc, qr = tmp_path / "alice.otrc", tmp_path / "alice.png"
    args = ("credentials", "owntracks:alice/phone", "--owntracks", str(otrc), "--qr", str(qr))
    assert run(db_url, *args, "--host", "192.168.1.20") == 0
    out = capsys.readouterr().out
    config = json.loads(otrc.read_text())
    assert stat.S_IMODE(otrc.stat().st_mode) == 0o600  # the password is in it
    assert config["_type"] == "configuration" and config["mode"] == 0
    assert (config["host"], config["port"], config["tls"]) == ("192.168.1.20", 8883, True)
    assert config["deviceId"] == "phone" and config["pubTopicBase"] == "owntracks/alice/phone"
    assert len(config["tid"]) == 2 and config["username"] == "alice.phone"
    assert f"password:  {config['password']}" in out
    assert qr.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert stat.S_IMODE(qr.stat().st_mode) == 0o600
    ca = BrokerHome().dir / "ca.crt"
    assert str(ca) in out and ca.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert stat.S_IMODE((BrokerHome().dir / "ca.key").stat().st_mode) == 0o600
    db = Database(db_url)
    try:
        with db.session() as session:
            row = session.scalars(select(DeviceCredential)).one()
            assert verify_secret(config["password"], row.secret_hash)
            assert config["password"] not in row.secret_hash
            audit = session.scalars(select(AuditEntry)).one()
            assert audit.action == "credential.create" and config["password"] not in str(
                audit.after
            )
    finally:
        db.dispose()


def test_the_qr_code_holds_the_owntracks_import_url() -> None:
    from dispatcher.devices.credentials import IssuedCredential
    from dispatcher.devices.owntracks import import_url, owntracks_config

    issued = IssuedCredential(
        "owntracks:bob/van", "bob.van", "s3cret", device_topics("owntracks:bob/van")
    )
    config = owntracks_config(issued, "10.0.0.5", 8883)
    url = import_url(config)
    assert url.startswith("owntracks:///config?inline=")
    assert json.loads(base64.b64decode(url.split("inline=", 1)[1])) == config


def test_a_second_credential_for_a_device_is_refused_with_the_reason(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(db_url, "credentials", "owntracks:alice/phone") == 0
    assert run(db_url, "credentials", "owntracks:alice/phone") == 1
    assert "already has a live credential" in capsys.readouterr().err


def test_a_user_name_is_never_reused_for_another_device(database: Database) -> None:
    creds = DeviceCredentials(database)
    creds.create("owntracks:alice/phone", "ops", username="van-one")
    creds.revoke("owntracks:alice/phone", "ops")
    with pytest.raises(ConflictError, match="belongs to owntracks:alice/phone"):
        creds.create("owntracks:bob/phone", "ops", username="van-one")
    again = creds.create("owntracks:alice/phone", "ops", username="van-one")  # same device: ok
    assert again.username == "van-one"


def test_rotate_and_revoke(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(db_url, "rotate", "native:V01") == 1
    assert "no live credential" in capsys.readouterr().err
    assert run(db_url, "credentials", "native:V01") == 0
    assert run(db_url, "rotate", "native:V01") == 0
    assert run(db_url, "revoke", "native:V01") == 0
    assert run(db_url, "revoke", "native:V01") == 1
    db = Database(db_url)
    try:
        with db.session() as session:
            rows = session.scalars(select(DeviceCredential).order_by(DeviceCredential.id)).all()
            assert [r.revoked_at is not None for r in rows] == [True, True]
            actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
            assert actions == [
                "credential.create",
                "credential.rotate",
                "credential.create",
                "credential.revoke",
            ]
    finally:
        db.dispose()


@pytest.mark.parametrize(
    "key",
    [
        "traccar:356938035643809",  # one topic for all devices: no ACL can confine one
        "owntracks:alice",
        "owntracks:al+ice/phone",
        "owntracks:alice/#",
        "native:" + "V" * 65,
        "native:V\x0001",
        "native:V01\nuser console\ntopic readwrite console",  # ACL injection
        "native:V01\r",
        "gps:123",
        "x" * 300,
    ],
)
def test_keys_no_acl_can_confine_are_bad_input(
    db_url: str, key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(db_url, "credentials", key) == 2
    assert capsys.readouterr().out.startswith("dispatcher devices: ")


def test_bad_user_names_and_qr_types_are_bad_input(
    db_url: str, database: Database, tmp_path: Path
) -> None:
    assert run(db_url, "credentials", "native:V01", "--qr", str(tmp_path / "a.gif")) == 2
    with pytest.raises(SystemExit):
        run(db_url, "credentials")  # argparse: missing key
    for name in ("console", "recorder", "a:b", "a b", "x" * 65):
        with pytest.raises(ValidationError):
            DeviceCredentials(database).create("native:V01", "ops", username=name)


def test_only_admins_and_supervisors_manage_credentials_once_roles_exist(
    database: Database,
) -> None:
    creds = DeviceCredentials(database)
    creds.create("native:V01", "anyone")  # fresh install: nobody to ask yet
    with database.session() as session:
        session.add(User(username="sam", role="supervisor", os_user="sam"))
        session.add(User(username="dora", role="dispatcher", os_user="dora"))
    with pytest.raises(PermissionDenied, match="admin or a supervisor"):
        creds.revoke("native:V01", "dora")
    with pytest.raises(PermissionDenied):
        creds.create("native:V02", "stranger")
    creds.revoke("native:V01", "sam")
    creds.create("native:V02", "sam")


def test_the_acl_gives_devices_only_their_own_topics() -> None:
    from dispatcher.devices.access import BrokerUser

    text = acl_file(
        [
            BrokerUser("console", "h"),
            BrokerUser("alice.phone", "h", "owntracks:alice/phone"),
            BrokerUser("V02", "h", "native:V02"),
        ],
        prefix="fleet",
    )
    assert "pattern" not in text  # no rule that applies to every user
    blocks = {b.splitlines()[0]: b.splitlines()[1:] for b in text.strip().split("\n\n")}
    assert blocks["user console"] == ["topic readwrite #"]
    assert "topic write owntracks/alice/phone" in blocks["user alice.phone"]
    assert "topic read owntracks/alice/phone/cmd" in blocks["user alice.phone"]
    assert not any("#" in line or "+" in line for line in blocks["user alice.phone"])
    assert blocks["user V02"] == [
        "topic write fleet/vehicles/V02/position",
        "topic write fleet/vehicles/V02/event",
        "topic write fleet/vehicles/V02/status",
        "topic read fleet/vehicles/V02/route",
        "topic read fleet/vehicles/V02/cmd",
    ]


def test_hashes_are_mosquittos_pbkdf2_format() -> None:
    hashed = hash_secret("s3cret", salt=b"0123456789ab")
    assert hashed.startswith("$7$1000$") and verify_secret("s3cret", hashed)
    assert not verify_secret("other", hashed) and not verify_secret("s3cret", "garbage")


def test_system_secrets_are_private_and_stable(tmp_path: Path) -> None:
    home = BrokerHome(tmp_path / "broker")
    first = home.system_secret("console")
    assert first == home.system_secret("console") != home.system_secret("recorder")
    assert stat.S_IMODE((tmp_path / "broker" / "secrets.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "broker").stat().st_mode) == 0o700
    # A file edited by hand (hash lost) keeps its passwords and gets the hash back.
    (tmp_path / "broker" / "secrets.json").write_text(
        json.dumps({"console": {"password": "pw"}, "recorder": {"password": "pw2"}})
    )
    again = BrokerHome(tmp_path / "broker")
    assert again.system_secret("console") == "pw"
    assert verify_secret(
        "pw2", json.loads((tmp_path / "broker" / "secrets.json").read_text())["recorder"]["hash"]
    )


def test_settings_accept_the_listen_address(tmp_path: Path) -> None:
    from dispatcher.config import load_settings
    from dispatcher.devices.embedded import parse_listen

    cfg = tmp_path / "c.toml"
    cfg.write_text('[broker]\nlisten = "0.0.0.0:8883"\npublic_host = "dispatch.lan"\n')
    settings = load_settings(cfg, env={})
    assert parse_listen(settings.broker.listen) == ("0.0.0.0", 8883)
    assert settings.broker.public_host == "dispatch.lan"
    for bad in ("8883", "host:", "host:99999", ":8883"):
        with pytest.raises(Exception, match="HOST:PORT"):
            parse_listen(bad)
    assert isinstance(Settings().broker.listen, str)


def test_revoking_nothing_is_not_found(database: Database) -> None:
    with pytest.raises(NotFoundError):
        DeviceCredentials(database).revoke("native:V09", "ops")


def test_a_large_broker_log_is_moved_aside(tmp_path: Path) -> None:
    home = BrokerHome(tmp_path)
    (tmp_path / "mosquitto.log").write_bytes(b"x" * 100)
    home.rotate_log(max_bytes=50)
    assert (tmp_path / "mosquitto.log.1").stat().st_size == 100
    assert not (tmp_path / "mosquitto.log").exists()
    home.rotate_log(max_bytes=50)  # nothing to move: fine
