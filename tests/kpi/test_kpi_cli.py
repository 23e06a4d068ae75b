"""``dispatcher kpi rollup`` and ``dispatcher kpi period`` from the shell (SQLite and PG)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fleet_zone import DAY, TZ_NAME, demo_day

from dispatcher.persistence import fleet_repo, kpi_period_repo
from dispatcher.persistence.database import Database


def test_rollup_a_range_then_export_its_month(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import main

    db = Database(db_url)
    with db.session() as session:
        fleet_repo.save_scenario(session, demo_day(DAY))
    db.dispose()
    common = ["--db", db_url, "--timezone", TZ_NAME]
    before, after = str(DAY - timedelta(days=2)), str(DAY + timedelta(days=1))
    code = main.main(["kpi", "rollup", "--from", before, "--to", str(DAY), *common])
    assert code == 0
    assert "stored 12 route days of 1 days" in capsys.readouterr().out
    db = Database(db_url)
    with db.session() as session:
        rows = kpi_period_repo.period_rows(session, DAY, DAY, "day", "vehicle")
    db.dispose()
    assert len(rows) == 12
    out = tmp_path / "out"
    code = main.main(
        ["kpi", "period", "--kind", "month", "--date", str(DAY), "--by", "depot",
         "--out", str(out), *common]
    )  # fmt: skip
    assert code == 0 and "wrote" in capsys.readouterr().out
    assert len(list(out.glob("kpi-month-*-depot.csv"))) == 1
    assert len(list(out.glob("kpi-month-*-depot.html"))) == 1
    # Bad input is named, nothing run.
    code = main.main(["kpi", "rollup", "--from", after, "--to", before, *common])
    assert code != 0
    assert "first day first" in capsys.readouterr().err
