"""``dispatcher decode --topic T`` honours the ``[telemetry]`` section (run as the real CLI)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_cli(tmp_path: Path, config: str, topic: str, raw: bytes) -> tuple[int, str, str]:
    cfg = tmp_path / "dispatcher.toml"
    cfg.write_text(config, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "main", "--config", str(cfg), "decode", "--topic", topic],
        input=raw,
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def traccar_now() -> bytes:
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime(time.time() - 5))
    return json.dumps(
        {
            "position": {
                "fixTime": now,
                "valid": True,
                "latitude": 52.37,
                "longitude": 4.89,
                "speed": 10.0,
                "course": 90.0,
                "accuracy": 5.0,
                "attributes": {"batteryLevel": 80},
            },
            "device": {"id": 7, "name": "VAN-07", "uniqueId": "356938035643809"},
        }
    ).encode()


def test_cli_decode_accepts_traccar_stock_topic_without_configuration(tmp_path: Path) -> None:
    code, out, _ = run_cli(tmp_path, "", "positions", traccar_now())
    assert code == 0
    result = json.loads(out)
    assert result["adapter"] == "traccar"
    assert result["report"]["vehicle_id"] == "traccar:356938035643809"
    assert result["report"]["speed_kmh"] == 18.52


def test_cli_decode_honours_telemetry_topics_and_profiles(tmp_path: Path) -> None:
    config = '[telemetry]\ntraccar_topics = ["gps/fwd"]\n\n[telemetry.traccar]\nspeed = "kmh"\n'
    code, out, _ = run_cli(tmp_path, config, "gps/fwd", traccar_now())
    assert code == 0
    assert json.loads(out)["report"]["speed_kmh"] == 10.0
    code, out, _ = run_cli(tmp_path, config, "positions", traccar_now())
    assert code == 2
    assert json.loads(out)["reason"] == "unknown_topic"


def test_cli_decode_rejections_name_what_to_change(tmp_path: Path) -> None:
    code, out, _ = run_cli(tmp_path, "", "location/van3", b"not_home")
    assert code == 2
    result = json.loads(out)
    assert result["reason"] == "unsupported_type" and "presence state" in result["detail"]
    code, out, _ = run_cli(
        tmp_path, "", "owntracks/eric/phone", b'{"_type":"encrypted","data":"x"}'
    )
    assert (code, json.loads(out)["reason"]) == (2, "encrypted")


def test_cli_decode_bad_telemetry_section_is_an_error(tmp_path: Path) -> None:
    code, out, err = run_cli(
        tmp_path, '[telemetry]\ntraccar_topics = ["a/#"]\n', "positions", b"{}"
    )
    assert code == 1
    assert "traccar_topics" in err and out == ""


def test_cli_decode_says_why_a_fix_is_coarse(tmp_path: Path) -> None:
    raw = json.dumps(
        {
            "_type": "location",
            "acc": 1414,
            "batt": 54,
            "lat": 52.3561,
            "lon": 4.9003,
            "m": 1,
            "tst": int(time.time()) - 5,
            "vel": 0,
        }
    ).encode()
    code, out, _ = run_cli(tmp_path, "", "owntracks/eric/phone", raw)
    result = json.loads(out)
    assert code == 0 and result["report"]["coarse"] is True
    assert result["report"]["tracking_mode"] == "significant"
    assert "switch it to Move mode" in result["note"]
