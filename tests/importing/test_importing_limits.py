"""Issue 15, finding 8: on PostgreSQL a too-long order id, a 5,000-character name or a NUL byte
gave a traceback and rejected the whole file; an unterminated quote silently swallowed the next
rows. Now each is one error naming its line and field, the good rows are imported, and SQLite
and PostgreSQL give the same result."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from dispatcher import limits
from dispatcher.importing.orders_csv import parse_orders
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import Customer, Stop
from main import main

DAY = date(2026, 11, 20)


def parse(text: str) -> tuple[list[str], list[tuple[int, str]]]:
    result = parse_orders(text.encode(), default_date=DAY, timezone="UTC")
    return [o.order_ref for o in result.orders], [(e.line, e.field) for e in result.errors]


def test_long_values_and_nul_bytes_are_refused_per_line_and_good_rows_imported(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        "order_id,lat,lon,customer_name,notes",
        "GOOD-1,52.1,4.1,Ann,",
        f"{'X' * 100},52.1,4.1,Bob,",
        f"GOOD-2,52.2,4.2,{'n' * 5000},",
        "GOOD-3,52.3,4.3,Cy\x00rus,",
        "GOOD-4,52.4,4.4,Dee,ring\x00twice",
        f"{'L' * limits.ORDER_ID},52.5,4.5,{'E' * limits.NAME},",
    ]
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code = main(["--db", db_url, "import", "orders", str(path), "--date", "2026-11-20"])
    out = capsys.readouterr().out
    assert code == 2, out
    assert "line 3: order_id is 100 characters long (at most 80)" in out
    assert "line 4: customer_name is 5000 characters long (at most 200)" in out
    assert "line 5: customer_name holds a NUL character" in out
    assert "line 6: notes holds a NUL character" in out
    assert "imported 2 orders, 0 already known, 4 rows rejected" in out
    db = Database(db_url)
    try:
        with db.session() as session:
            refs = set(session.scalars(select(Stop.order_ref)))
            names = set(session.scalars(select(Customer.name)))
    finally:
        db.dispose()
    assert refs == {"GOOD-1", "L" * limits.ORDER_ID}
    assert "E" * limits.NAME in names


def test_a_quote_left_open_does_not_swallow_the_next_orders() -> None:
    text = (
        "order_id,lat,lon,notes\n"
        'A,52.1,4.1,"ring twice\n'
        "B,52.2,4.2,leave at the door\n"
        'C,52.3,4.3,"back door"\n'
        "D,52.4,4.4,\n"
    )
    orders, errors = parse(text)
    assert errors == [(2, "notes")]
    assert orders == ["B", "C", "D"]


def test_a_file_that_ends_inside_a_quote_is_reported_and_the_rest_kept() -> None:
    text = 'order_id,lat,lon,notes\nA,52.1,4.1,\nB,52.2,4.2,"oops\nC,52.3,4.3,\nD,52.4,4.4,'
    orders, errors = parse(text)
    assert errors == [(3, "notes")]
    assert orders == ["A", "C", "D"]
    result = parse_orders(text.encode(), default_date=DAY, timezone="UTC")
    assert "unterminated quote in notes" in str(result.errors[0])


def test_a_quoted_note_over_several_lines_is_still_one_field() -> None:
    text = 'order_id,lat,lon,notes\nA,52.1,4.1,"first floor,\nring twice\n52,4"\nB,52.2,4.2,\n'
    result = parse_orders(text.encode(), default_date=DAY, timezone="UTC")
    assert not result.errors
    assert [o.notes for o in result.orders] == ["first floor,\nring twice\n52,4", ""]
    assert result.lines == {"A": 2, "B": 5}


def test_cli_reports_the_unterminated_quote_with_exit_code_2(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text('order_id,lat,lon,notes\nA,52.1,4.1,"x\nB,52.2,4.2,y\n', encoding="utf-8")
    assert main(["--db", sqlite_url, "import", "orders", str(path)]) == 2
    out = capsys.readouterr().out
    assert "line 2: unterminated quote in notes" in out
    assert "imported 1 orders, 0 already known, 1 rows rejected" in out
