"""CSV import of a day's orders: every bad row is named with its line and reason, the good
rows are all kept, and importing the same file twice adds nothing."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from fleet_zone import DAY, TZ_NAME, local
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatcher.errors import ImportFileError
from dispatcher.importing.orders_csv import parse_orders
from main import main

HEADER = (
    "order_id,customer_name,phone,email,address,lat,lon,window_start,window_end,"
    "service_min,demand,kind,vehicle"
)


def make_csv(n: int, bad: dict[int, str] | None = None, delimiter: str = ",") -> str:
    """``n`` good rows; ``bad`` replaces the row with index i by the given text."""
    rows = [HEADER.replace(",", delimiter)]
    for i in range(n):
        row = (
            f"A{i:05d},Customer {i},+4930{1000000 + i},c{i}@example.com,Street {i},"
            f"52.{4 + i % 5}{i % 1000:03d},13.{3 + i % 2}{i % 997:03d},09:00,11:00,5,2,"
            f"{'pickup' if i % 50 == 0 else 'delivery'},"
        )
        rows.append((bad or {}).get(i, row.replace(",", delimiter)))
    return "\n".join(rows) + "\n"


def parse(text: str | bytes, vehicles: set[str] | None = None):
    data = text.encode() if isinstance(text, str) else text
    return parse_orders(
        data,
        default_date=DAY,
        timezone=TZ_NAME,
        known_vehicles=vehicles if vehicles is not None else {"V01"},
    )


def test_good_rows_become_orders_with_utc_windows() -> None:
    result = parse(make_csv(3))
    assert not result.errors
    order = result.orders[0]
    assert order.order_ref == "A00000"
    assert order.kind == "pickup"
    assert order.window_start == local(9, 0)  # 09:00 in the fleet's zone, stored as UTC
    assert order.service_s == 300


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("B1,Ann,,,,,13.4,,,,,,", "lat is missing"),
        ("B2,Ann,,,,95.0,13.4,,,,,,", "lat '95.0' is out of range"),
        ("B3,Ann,,,,52.5,13.4,11:00,09:00,,,,", "ends (09:00) before it starts (11:00)"),
        ("B4,Ann,,,,52.5,13.4,,,,,,V99", "unknown vehicle 'V99'"),
        ("B5,Ann,,,,0,0,,,,,,", "0,0"),
        ("B6,Ann,,,,52.5,abc,,,,,,", "lon 'abc' is not a number"),
        ("B7,Ann,,,,52.5,13.4,,,,,teleport,", "kind must be delivery or pickup"),
        ("B8,Ann,,,,nan,13.4,,,,,,", "out of range"),
        (",Ann,,,,52.5,13.4,,,,,,", "order id is missing"),
    ],
)
def test_each_bad_row_is_reported_with_line_and_reason(row: str, reason: str) -> None:
    result = parse(make_csv(2, {1: row}))
    assert [o.order_ref for o in result.orders] == ["A00000"]
    assert len(result.errors) == 1
    assert result.errors[0].line == 3
    assert reason in result.errors[0].reason


def test_duplicate_order_id_points_at_the_first_line() -> None:
    text = make_csv(3, {2: make_csv(1).splitlines()[1]})
    result = parse(text)
    assert str(result.errors[0]) == "line 4: duplicate order id 'A00000' (first on line 2)"


def test_semicolon_bom_and_header_aliases_are_understood() -> None:
    text = "\ufeffReference;Latitude;Longitude;Recipient;From;To\nX1;52,51;13,40;Zoë;8:30;10.30\n"
    result = parse(text)
    assert not result.errors
    assert result.orders[0].lat == pytest.approx(52.51)
    assert result.orders[0].customer.name == "Zoë"


def test_quoted_newlines_keep_line_numbers_right() -> None:
    text = 'order_id,lat,lon,notes\nA,52.5,13.4,"two\nlines"\nB,95,13.4,\n'
    result = parse(text)
    assert [str(e) for e in result.errors] == ["line 4: lat '95' is out of range (-90 to 90)"]


def test_invalid_utf8_rejects_the_row_not_the_file() -> None:
    data = b"order_id,lat,lon,customer_name\nA,52.5,13.4,Ann\nB,52.5,13.4,\xff\xfe\n"
    result = parse(data)
    assert [o.order_ref for o in result.orders] == ["A"]
    assert "not valid UTF-8" in result.errors[0].reason


def test_a_header_without_coordinates_is_a_file_error() -> None:
    with pytest.raises(ImportFileError, match="no column for lat, lon"):
        parse("order_id,name\nA,Ann\n")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_give_a_result_or_a_file_error(data: bytes) -> None:
    try:
        result = parse(data)
    except ImportFileError:
        return
    assert len(result.orders) + len(result.errors) <= data.count(b"\n") + 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.text(max_size=12), min_size=3, max_size=5), max_size=8))
def test_any_table_of_text_never_raises_anything_else(rows: list[list[str]]) -> None:
    buf = io.StringIO()
    import csv

    csv.writer(buf).writerows([["order_id", "lat", "lon"], *rows])
    with contextlib.suppress(ImportFileError):
        parse(buf.getvalue())


def test_cli_imports_997_of_1000_rows_and_reimport_adds_nothing(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = {
        10: "A00010,Ann,,,,,13.4,,,,,,",
        500: "A00500,Ann,,,,52.5,13.4,12:00,10:00,,,,",
        998: "A00998,Ann,,,,52.5,13.4,,,,,,V99",
    }
    path = tmp_path / "orders.csv"
    path.write_text(make_csv(1000, bad), encoding="utf-8")
    assert main(["--db", db_url, "import", "orders", str(path), "--date", "2026-11-20"]) == 2
    out = capsys.readouterr().out
    assert "line 12: lat is missing" in out
    assert "line 502: time window ends (10:00) before it starts (12:00)" in out
    assert "line 1000: unknown vehicle 'V99'" in out
    assert "imported 997 orders, 0 already known, 3 rows rejected" in out

    assert main(["--db", db_url, "import", "orders", str(path), "--date", "2026-11-20"]) == 2
    assert "imported 0 orders, 997 already known, 3 rows rejected" in capsys.readouterr().out


def test_cli_reports_a_missing_file_in_one_line(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--db", sqlite_url, "import", "orders", str(tmp_path / "nope.csv")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err
