"""No text the product writes into HTML can run script: the one helper and every writer.

Writers: the day report's map, File > Export map, the live map page, and the HTML part of
customer emails (a template's ``html`` part, or the text made into HTML).

Hostile strings (template-literal ``${}``, backticks, quotes, ``</script>``, ``<img onerror>``,
U+2028/2029, NUL) go through :func:`dispatcher.maps.jsbridge.html_in_js` many times at the
string level (the literal, parsed back, is the input as escaped text), then a handful of
times through each writer — the day report's map, File > Export map, the live map page —
loaded in a real QtWebEngine page: nothing runs (title unchanged, no ``__pwned`` global, no
injected image), every marker is there and the popups/tooltips show the strings as text.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from branca.element import Figure
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from routes_wait import wait_for_routes

from dispatcher.maps.jsbridge import html_in_js, to_js
from dispatcher.messaging.email_html import script_in_html
from dispatcher.messaging.situations import ChannelKind, Situation
from dispatcher.messaging.templates import TemplateSpec, render
from dispatcher.model.core import PositionReport
from dispatcher.model.stops import RouteView, StopView
from dispatcher.reports.day import DayReport, StopReportRow

from test_map import _stop_view  # the live map tests' hand-made stop  # isort: skip
from dispatcher_ui.main_window import (
    MainWindow,  # registers the map's URL scheme before any QApplication
)

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TITLE = "Untouched"
ATTACKS = (
    "${document.title=/X/.source}",
    "${window.__pwned=1}",
    "${'",
    "`",
    "'",
    '"',
    "\\",
    "\\u0060",
    "</script><script>window.__pwned=2</script>",
    '<img src=x onerror="window.__pwned=3">',
    "</div><svg onload=window.__pwned=4>",
    "<!--",
    "\u2028",
    "\u2029",
    "\x00",
    "{}",
    "&amp;",
)
#: Hostile fragments glued to arbitrary text (hypothesis never makes lone surrogates here).
HOSTILE = st.lists(st.sampled_from(ATTACKS) | st.text(max_size=4), min_size=1, max_size=5).map(
    "".join
)
#: What an HTML parser does to text it is given: NUL dropped/replaced, CR folded into LF.
_PARSER_FOLDS = str.maketrans({"\x00": None, "\ufffd": None})


def _as_shown(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_PARSER_FOLDS)


# --- the helper, at the string level ------------------------------------------------------
@settings(max_examples=500)
@given(HOSTILE, HOSTILE)
def test_html_in_js_literal_parses_back_to_the_escaped_input(a: str, b: str) -> None:
    literal = html_in_js("<b>{}</b><br>{}", a, b)
    for raw in ("<", ">", "`", "$", "'", "\u2028", "\u2029", "\x00", "\n", "\r"):
        assert raw not in literal
    markup = json.loads(literal)
    assert markup.startswith("<b>") and markup.count("<") == 3  # only our own tags
    first, second = markup.removeprefix("<b>").split("</b><br>")
    assert html.unescape(first) == a and html.unescape(second) == b


@settings(max_examples=300)
@given(st.recursive(HOSTILE | st.integers() | st.none(), lambda c: st.lists(c, max_size=3)))
def test_to_js_literal_parses_back_to_the_value(value: Any) -> None:
    literal = to_js(value)
    assert not any(raw in literal for raw in ("<", ">", "`", "$", "'", "\u2028", "\u2029"))
    assert json.loads(literal) == value


def test_a_lone_surrogate_still_makes_a_writable_literal() -> None:
    literal = html_in_js("{}", "a\ud800b")
    literal.encode("utf-8")  # a page holding it can be saved
    assert json.loads(literal) == "a\ud800b"


def _email_parts(text: str) -> list[str]:
    """The two ways an email's HTML part is written: the template's own, or from the text."""
    situation, email = Situation("free_text"), ChannelKind.EMAIL
    own = TemplateSpec(situation, email, "en", 1, "{{ text }}", "Hi", "<p>{{ text }}</p>")
    made = TemplateSpec(situation, email, "en", 1, "Hello\n\n{{ text }}", "Hi")
    return [render(spec, {"text": text}).html for spec in (own, made)]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.add(tag)


@settings(max_examples=300)
@given(HOSTILE.filter(lambda t: t.strip()))
def test_email_html_holds_values_as_text(text: str) -> None:
    own, made = _email_parts(text)
    assert html.unescape(own.removeprefix("<p>").removesuffix("</p>")) == text
    for part in (own, made):
        parser = _Tags()
        parser.feed(part)
        assert parser.tags <= {"p", "br"} and script_in_html(part) is None


# --- the writers, loaded in QtWebEngine ---------------------------------------------------
def _load(qtbot: Any, view: Any, path: Path) -> None:
    from PySide6.QtCore import QUrl

    with qtbot.waitSignal(view.loadFinished, timeout=30000):
        view.load(QUrl.fromLocalFile(str(path)))


def _js(qtbot: Any, page: Any, source: str) -> Any:
    box: list[Any] = []
    page.runJavaScript(source, 0, box.append)
    qtbot.waitUntil(lambda: bool(box), timeout=10000)
    return box[0]


#: Opens every popup and tooltip of the folium page, returns what was run and what is shown.
PROBE = """JSON.stringify((function () {
  const texts = [];
  let markers = 0;
  for (const key of Object.keys(window)) {
    const layer = window[key];
    if (!(layer instanceof L.Marker || layer instanceof L.CircleMarker)) continue;
    markers += 1;
    for (const [get, open] of [["getPopup", "openPopup"], ["getTooltip", "openTooltip"]]) {
      if (!layer[get]()) continue;
      layer[open]();
      texts.push(layer[get]().getElement().textContent);
    }
  }
  return {title: document.title, pwned: typeof window.__pwned, markers: markers,
          injected: document.querySelectorAll("img[src=x], svg[onload]").length,
          texts: texts};
})())"""


def _probe(qtbot: Any, view: Any) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_js(qtbot, view.page(), PROBE))
    return result


def _browser(qtbot: Any) -> Any:
    from PySide6.QtWebEngineWidgets import QWebEngineView

    view = QWebEngineView()
    qtbot.addWidget(view)
    return view


def _record(i: int, text: str) -> StopView:
    return StopView(
        id=i,
        order_ref=f"O{i}{text}",
        service_date=T0.date(),
        sequence=i,
        kind="delivery",
        status="done",
        customer_name=text,
        address=text,
        lat=52.5 + i / 100,
        lon=13.4,
        window_start=None,
        window_end=None,
        service_s=300,
        demand=1,
        pinned=False,
        planned_arrival=T0,
        actual_arrival=T0,
        completed_at=T0,
        attempts=1,
        failure_reason=text,
        vehicle_id=f"V{text}",
        vehicle_name=f"Van {text}",
    )


def test_the_day_report_map_runs_no_stored_script(qtbot: Any, tmp_path: Path) -> None:
    from dispatcher_ui.history.report_map import build_map

    view = _browser(qtbot)

    @settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
    @given(HOSTILE)
    def check(text: str) -> None:
        rows = [StopReportRow(_record(i, text), None, None, None, []) for i in range(3)]
        report = DayReport(date(2026, 11, 20), "Europe/Berlin", rows)
        fmap = build_map(report, {f"V{text}": [(52.5, 13.4), (52.52, 13.41)]})
        root = fmap.get_root()
        assert isinstance(root, Figure)
        root.header.add_child(_title_element())
        out = tmp_path / "day-map.html"
        fmap.save(str(out))
        _load(qtbot, view, out)
        seen = _probe(qtbot, view)
        assert (seen["title"], seen["pwned"], seen["injected"]) == (TITLE, "undefined", 0)
        assert seen["markers"] == 3 and len(seen["texts"]) == 6  # a popup and a tooltip each
        assert all(_as_shown(text) in _as_shown(shown) for shown in seen["texts"])

    check()


def test_the_exported_map_runs_no_stored_script(qtbot: Any, tmp_path: Path) -> None:
    from dispatcher.fleet.state import FleetState
    from dispatcher_ui.map.export import export_day

    view = _browser(qtbot)

    @settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
    @given(HOSTILE)
    def check(text: str) -> None:
        stops = tuple(_stop_view(i, text) for i in range(3))
        route = RouteView(1, "V1", text, text, 10, 1, stops)
        fleet = FleetState()
        fleet.apply_positions([(PositionReport("V1" + text, T0, 52.5, 13.4), False)], T0)
        out = tmp_path / "routes.html"
        export_day([route], fleet.snapshots(), out, ZoneInfo("Europe/Berlin"), title=TITLE)
        _load(qtbot, view, out)
        seen = _probe(qtbot, view)
        assert (seen["title"], seen["pwned"], seen["injected"]) == (TITLE, "undefined", 0)
        assert seen["markers"] == 4 and len(seen["texts"]) == 4  # 3 stops + 1 vehicle
        assert all(_as_shown(text) in _as_shown(shown) for shown in seen["texts"])

    check()


#: An offline tile file is data too: its name and credit reach the page's layer control.
MBTILES_NAME = '<img src=x onerror="window.__pwned=5">${window.__pwned=6}</script>'


def test_the_live_map_runs_no_script_from_vehicle_names(
    qtbot: Any, sqlite_url: str, tmp_path: Path
) -> None:
    from PySide6.QtCore import QSettings

    from dispatcher.config import Settings
    from dispatcher.core import Core
    from dispatcher.fleet.state import FleetChanged
    from dispatcher.maps.mbtiles import write_mbtiles

    tiles = tmp_path / "area.mbtiles"
    write_mbtiles(tiles, {}, {"name": MBTILES_NAME, "attribution": MBTILES_NAME, "format": "png"})
    sections = {"map": {"mbtiles": str(tiles)}}
    from dispatcher_ui.map.web import scheme_handler

    sources_before = set(scheme_handler().mbtiles)
    core = Core(Settings(database_url=sqlite_url, sections=sections))
    try:
        window = MainWindow(core, QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
        qtbot.addWidget(window)
        wait_for_routes(qtbot, window)
        window.show()
        controller = window.map_controller
        qtbot.waitUntil(lambda: controller.view.ready, timeout=30000)
        page = controller.view.page()
        title = _js(qtbot, page, "document.title")
        shown = (
            "JSON.stringify([document.querySelector('.leaflet-control-layers').textContent,"
            " document.querySelector('.leaflet-control-attribution').textContent])"
        )
        layers, credit = json.loads(_js(qtbot, page, shown))
        assert f"Offline: {MBTILES_NAME}" in layers and MBTILES_NAME in credit

        @settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
        @given(HOSTILE)
        def check(text: str) -> None:
            vid = "V" + text
            controller.feed.set_vehicles({vid: (text, text)})
            reports = [(PositionReport(vid, T0, 52.5, 13.4), False)]
            changed, state_changed = controller.fleet.apply_positions(reports, T0)
            core.bus.publish(FleetChanged(frozenset(changed), frozenset(state_changed)))

            def shown() -> bool:
                controller.tick()
                _js(qtbot, page, f"DispatcherMap.showTip({to_js(vid)}); 1")
                tip = _js(qtbot, page, "(document.querySelector('.dm-tip-body')||{}).textContent")
                return isinstance(tip, str) and _as_shown(text) in _as_shown(tip)

            qtbot.waitUntil(shown, timeout=15000)
            probe = (
                "JSON.stringify([document.title, typeof window.__pwned,"
                " document.querySelectorAll('img[src=x], svg[onload]').length])"
            )
            assert json.loads(_js(qtbot, page, probe)) == [title, "undefined", 0]

        check()
        assert not controller.view.map_page.errors
    finally:
        core.close()
        for key in set(scheme_handler().mbtiles) - sources_before:  # the handler is app-wide
            scheme_handler().mbtiles.pop(key)


def test_email_html_runs_no_script_in_a_browser(qtbot: Any) -> None:
    view = _browser(qtbot)

    @settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
    @given(HOSTILE.filter(lambda t: t.strip()))
    def check(text: str) -> None:
        for part in _email_parts(text):
            page = f"<html><head><title>{TITLE}</title></head><body>{part}</body></html>"
            with qtbot.waitSignal(view.loadFinished, timeout=30000):
                view.setHtml(page)
            probe = (
                "JSON.stringify([document.title, typeof window.__pwned,"
                " document.querySelectorAll('img, svg, script').length, document.body.textContent])"
            )
            title, pwned, injected, body = json.loads(_js(qtbot, view.page(), probe))
            assert (title, pwned, injected) == (TITLE, "undefined", 0)
            assert " ".join(_as_shown(text).split()) in " ".join(_as_shown(body).split())

    check()


def _title_element() -> Any:
    from branca.element import Element

    return Element(f"<script>document.title = {to_js(TITLE)};</script>")
