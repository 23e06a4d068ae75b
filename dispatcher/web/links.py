"""Tracking links: sign one for an order, read one back (``dispatcher link``, every message).

A link expires ``[web] link_days`` days after the end of the order's service day; the page
also refuses one whose order was finished more than that long ago (a re-planned order gets
a new day, so its old links keep working until the new day is over + the grace days).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from dispatcher.persistence import messaging_repo, web_repo
from dispatcher.persistence.database import Database
from dispatcher.web.signing import LinkSigner

#: The purpose a customer's tracking token is signed for (a driver's link has its own).
TRACK = "track"


def tracking_url(
    db: Database, signer: LinkSigner, base_url: str, stop_id: int, tz: str, link_days: int
) -> str | None:
    """The signed URL of the stop's tracking page; None when the stop does not exist."""
    day = web_repo.stop_day(db, stop_id)
    if day is None:
        return None
    end_of_day = datetime.combine(day, time(23, 59), ZoneInfo(tz))
    token = signer.sign(TRACK, stop_id, end_of_day + timedelta(days=link_days))
    return f"{base_url.rstrip('/')}/t/{token}"


def tracking_url_for_order(
    db: Database, signer: LinkSigner, base_url: str, order_ref: str, tz: str, link_days: int
) -> str | None:
    stop_id = messaging_repo.stop_id_of(db, order_ref)
    if stop_id is None:
        return None
    return tracking_url(db, signer, base_url, stop_id, tz, link_days)
