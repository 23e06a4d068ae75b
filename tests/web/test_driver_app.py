"""The driver app in a real Chromium with a phone viewport (issue 20's "done when")."""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from driver_support import image, route_refs, stop_place
from fleet_zone import DAY, TZ_NAME, demo_day
from sqlalchemy import func, select

from dispatcher.driver.podstore import PodStore
from dispatcher.driver.service import DriverService
from dispatcher.persistence import fleet_repo
from dispatcher.persistence.database import Database
from dispatcher.persistence.orm import PodRecord, Stop, VehicleEventRow
from dispatcher.web.context import WebContext
from dispatcher.web.links import tracking_url_for_order

PHONE = {"width": 390, "height": 844}  # tests/web/conftest.py's phone viewport
StartWeb = Callable[..., Any]
#: Where the screenshots go: docs/ when regenerating the docs' pictures
#: (DISPATCHER_DOCS_SHOTS=1), else a scratch folder, so a test run never rewrites tracked files.
DOCS = (
    Path(__file__).resolve().parents[2] / "docs"
    if os.environ.get("DISPATCHER_DOCS_SHOTS")
    else Path(tempfile.gettempdir()) / "dispatcher-driver-shots"
)
DOCS.mkdir(exist_ok=True)


def wait_until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def setup(ctx: WebContext, tmp_path: Path) -> DriverService:
    with ctx.db.session() as session:
        fleet_repo.save_scenario(session, demo_day(DAY))
    service = DriverService(ctx.db, PodStore(tmp_path / "pod"), clock=ctx.clock)
    ctx.services["driver"] = service
    return service


def events(db: Database) -> list[tuple[str | None, str]]:
    with db.session() as session:
        rows = session.execute(
            select(VehicleEventRow.stop_ref, VehicleEventRow.kind).order_by(VehicleEventRow.id)
        )
        return [(r, k) for r, k in rows]


def sign(page: Any) -> None:
    box = page.locator("#pod-signature").bounding_box()
    x, y = box["x"] + 30, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 12):
        page.mouse.move(x + i * 22, y + (18 if i % 2 else -18), steps=3)
    page.mouse.up()


def open_paired(new_page: Callable[..., Any], url: str, at: tuple[float, float]) -> Any:
    page = new_page(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        permissions=["geolocation"],
        geolocation={"latitude": at[0], "longitude": at[1], "accuracy": 10},
    )
    page.goto(url)
    return page


def deliver_offline(page: Any, db: Database, refs: list[str]) -> None:
    """Deliver ``refs`` with a photo and a signature while the phone has no signal."""
    page.context.set_offline(True)
    photo = {"name": "door.jpg", "mimeType": "image/jpeg", "buffer": image(size=(800, 600))}
    for n, ref in enumerate(refs):
        lat, lon = stop_place(db, ref)  # the driver is at the door
        page.context.set_geolocation({"latitude": lat, "longitude": lon, "accuracy": 8})
        page.locator(f"li.stop[data-ref='{ref}'] button", has_text="Delivered").click()
        page.set_input_files("#pod-photo", files=[photo])
        page.wait_for_selector("#pod-thumbs img")
        sign(page)
        page.fill("#pod-recipient", f"Recipient {n}")
        if n == 0:
            page.screenshot(path=str(DOCS / "driver-pod-capture.png"))
        page.click("#pod-submit")
        page.wait_for_selector(f"li.stop[data-ref='{ref}'] .pending")
    assert page.locator("#net").get_attribute("data-state") == "offline"
    assert f"{len(refs)} action(s)" in page.locator("#queue").inner_text()
    assert events(db) == []  # nothing left the phone


def check_stored_once(db: Database, refs: list[str]) -> None:
    assert events(db) == [(ref, "delivered") for ref in refs]
    with db.session() as session:
        pods = list(session.scalars(select(PodRecord).order_by(PodRecord.id)))
        assert [p.stop_ref for p in pods] == refs
        assert all(sorted(f["role"] for f in p.files) == ["photo", "signature"] for p in pods)
        assert [p.recipient for p in pods] == [f"Recipient {n}" for n in range(len(refs))]
        done = select(func.count()).select_from(Stop)
        done = done.where(Stop.order_ref.in_(refs), Stop.status == "done")
        assert session.scalar(done) == len(refs)


def console_pod_view(qtbot: Any, service: DriverService, refs: list[str]) -> None:
    """The console's POD view of the synced stops, saved for docs/driver.md."""
    from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

    from dispatcher_ui.driver.pod_view import PodPanel, load_pods

    host = QWidget()
    qtbot.addWidget(host)
    column = QVBoxLayout(host)
    for ref in refs:
        panel = PodPanel(ZoneInfo(TZ_NAME), service.policy.max_distance_m)
        pods = load_pods(service, ref)
        assert len(pods) == 1 and all(data for _, data in pods[0].files)
        panel.show_pods(ref, pods)
        column.addWidget(panel)
    host.resize(640, 620)
    host.show()
    qtbot.waitExposed(host)
    labels = "\n".join(label.text() for label in host.findChildren(QLabel))
    assert "Received by Recipient 0" in labels and "Received by Recipient 1" in labels
    host.grab().save(str(DOCS / "driver-console-pod.png"))


def customer_sees_the_pod(web_ctx: WebContext, new_page: Callable[..., Any], ref: str) -> None:
    """The customer's tracking page names the recipient and shows the photo, never more."""
    url = tracking_url_for_order(
        web_ctx.db, web_ctx.signer, web_ctx.base_url, ref, web_ctx.timezone, 7
    )
    assert url is not None
    page = new_page(viewport=PHONE)
    page.goto(url)
    assert page.locator("#pod-recipient").inner_text() == "Recipient 0"
    photo = page.locator("#pod-photo")
    page.wait_for_function("document.getElementById('pod-photo').naturalWidth > 0")
    src = photo.get_attribute("src")
    assert src is not None
    page.screenshot(path=str(DOCS / "driver-tracking-pod.png"))
    with web_ctx.db.session() as session:
        pod = session.scalar(select(PodRecord).where(PodRecord.stop_ref == ref))
        assert pod is not None
        signature = next(f for f in pod.files if f["role"] == "signature")
    with httpx.Client(base_url=web_ctx.base_url) as client:
        assert client.get(src).headers["content-type"] == "image/jpeg"
        hidden = src.rsplit("/", 1)[0] + f"/{signature['sha256']}.png"
        assert client.get(hidden).status_code == 404  # the signature stays with the desk
        assert client.get("/t/forged-token/pod/" + src.rsplit("/", 1)[1]).status_code == 404


def test_pair_offline_deliveries_route_change_and_messages(
    start_web: StartWeb,
    web_ctx: WebContext,
    new_page: Callable[..., Any],
    tmp_path: Path,
    qtbot: Any,
) -> None:
    service = setup(web_ctx, tmp_path)
    server = start_web(web_ctx)
    pairing = service.pair("V01", "erika", server.base_url)  # what the console's QR carries
    refs = route_refs(web_ctx.db, "V01")
    page = open_paired(new_page, pairing.url, stop_place(web_ctx.db, refs[0]))
    page.wait_for_selector(f"li.stop[data-ref='{refs[0]}']")
    assert page.locator("li.stop").count() == len(refs)
    assert "#pair" not in page.url  # the secret left the address bar
    nav = page.locator(f"li.stop[data-ref='{refs[0]}'] a.nav").get_attribute("href")
    assert nav is not None and nav.startswith("geo:")
    page.screenshot(path=str(DOCS / "driver-run-sheet.png"))
    page.evaluate("navigator.serviceWorker.ready")

    deliver_offline(page, web_ctx.db, refs[:2])
    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    wait_until(lambda: len(events(web_ctx.db)) == 2)
    page.wait_for_selector("#queue", state="hidden")
    time.sleep(1.0)  # a few more polls: nothing is sent twice
    check_stored_once(web_ctx.db, refs[:2])
    page.wait_for_selector(f"li.stop[data-ref='{refs[0]}'][data-status='done']")
    console_pod_view(qtbot, service, refs[:2])
    customer_sees_the_pod(web_ctx, new_page, refs[0])

    # "the desk moves a stop and the run sheet follows": the real route board, pushed to
    # the phone, in tests/web/test_driver_push.py

    service.send_to_driver("V01", "Gate code is 4711 <b>bold</b>", "erika", stop_ref=refs[3])
    page.wait_for_selector("#banner:has-text('New message')")
    page.click("#open-messages")
    page.wait_for_selector("#msg-list li.desk")
    said = page.locator("#msg-list li.desk .body").inner_text()
    assert said == "Gate code is 4711 <b>bold</b>"  # text, never markup
    page.fill("#msg-text", "Thanks, on my way")
    page.click("#msg-send")
    wait_until(lambda: len(service.conversation(vehicle_id="V01")) == 2)
    reply = service.conversation(vehicle_id="V01")[1]
    assert (reply.direction, reply.body, reply.stop_ref) == ("driver", "Thanks, on my way", refs[3])


def test_the_app_opens_without_signal_from_its_service_worker(
    start_web: StartWeb, web_ctx: WebContext, new_page: Callable[..., Any], tmp_path: Path
) -> None:
    service = setup(web_ctx, tmp_path)
    server = start_web(web_ctx)
    pairing = service.pair("V01", "erika", server.base_url)
    refs = route_refs(web_ctx.db, "V01")
    page = open_paired(new_page, pairing.url, stop_place(web_ctx.db, refs[0]))
    page.wait_for_selector(f"li.stop[data-ref='{refs[0]}']")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now the page is controlled by the worker
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.context.set_offline(True)
    page.reload()
    page.wait_for_selector(f"li.stop[data-ref='{refs[-1]}']")  # the kept sheet, no network
    assert page.locator("#net").get_attribute("data-state") == "offline"


def test_refusals_reach_the_phone_and_nothing_is_half_stored(
    start_web: StartWeb, web_ctx: WebContext, tmp_path: Path
) -> None:
    service = setup(web_ctx, tmp_path)
    server = start_web(web_ctx)
    pairing = service.pair("V01", "erika", server.base_url)
    refs = route_refs(web_ctx.db, "V01")
    now = time.time()
    body = {"v": 1, "kind": "delivered", "key": "abcdefgh12", "ts": now, "sent_at": now}
    mine = json.dumps({**body, "stop": refs[0]})
    theirs = json.dumps({**body, "stop": route_refs(web_ctx.db, "V02")[0]})
    html = io.BytesIO(b"<html><script>alert(1)</script></html>")
    files: list[tuple[str, tuple[str, Any, str]]] = [
        ("photo", ("x.jpg", html, "image/jpeg")),
        ("signature", ("s.png", image("PNG"), "image/png")),
    ]
    auth = {"Authorization": f"Bearer {pairing.token}"}
    with httpx.Client(base_url=server.base_url, headers=auth) as client:
        r = client.post("/driver/api/actions", data={"action": mine}, files=files)
        assert r.status_code == 422 and "not a picture" in r.json()["reason"]
        r = client.post("/driver/api/actions", data={"action": theirs})
        assert r.status_code == 422 and "no longer on your route" in r.json()["reason"]
        assert client.get("/driver/../etc/passwd").status_code == 404
        assert client.get("/driver/app.py").status_code == 404
        page = client.get("/driver/")
        assert "geolocation=(self)" in page.headers["permissions-policy"]
        assert len(page.headers.get_list("content-security-policy")) == 1
    assert events(web_ctx.db) == []
    service.revoke(pairing.device_id, "erika")
    with httpx.Client(base_url=server.base_url, headers=auth) as client:
        r = client.get("/driver/api/sheet")
        assert r.status_code == 401 and "unpaired" in r.json()["reason"]
