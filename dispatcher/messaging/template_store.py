"""Supervisors' template edits, kept over the shipped defaults.

The defaults ship in ``resources/templates/<lang>.toml`` (read-only, versioned with the code).
An edit made in the Messages dock is saved to ``<user config dir>/message-templates.json``
(one entry per situation, channel and language, with its version) and laid over the defaults
at start-up. An edit whose version is not above the shipped one (the defaults moved on since)
is ignored with a warning, so a stale edit never hides a newer text. A file that cannot be
read is reported and ignored: the defaults still work.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dispatcher.config import user_config_dir
from dispatcher.messaging.compose import MessageFacts
from dispatcher.messaging.contacts import CustomerPreferences
from dispatcher.messaging.situations import ChannelKind, Situation
from dispatcher.messaging.templates import (
    DEFAULT_TEMPLATE_DIR,
    TemplateError,
    TemplateLibrary,
    TemplateSpec,
)

log = logging.getLogger(__name__)

OVERRIDES_FILE = "message-templates.json"


def overrides_path() -> Path:
    return user_config_dir() / OVERRIDES_FILE


def load_templates(
    directory: Path = DEFAULT_TEMPLATE_DIR, overrides: Path | None = None
) -> TemplateLibrary:
    """The shipped templates with the saved edits laid over them."""
    library = TemplateLibrary.from_directory(directory)
    for spec in read_overrides(overrides or overrides_path()):
        try:
            library.put(spec)
        except TemplateError as exc:
            log.warning("saved template %s ignored: %s", spec.template_id, exc)
    return library


def read_overrides(path: Path) -> list[TemplateSpec]:
    """The edits saved in ``path`` (none if it does not exist or cannot be read)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("cannot read saved templates %s: %s", path, exc)
        return []
    specs = []
    for entry in data if isinstance(data, list) else []:
        try:
            specs.append(_spec(entry))
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("a saved template in %s is not usable: %s", path, exc)
    return specs


def save_override(spec: TemplateSpec, path: Path | None = None) -> Path:
    """Add or replace ``spec`` in the edits file (written atomically)."""
    target = path or overrides_path()
    kept = [
        s
        for s in read_overrides(target)
        if (s.situation, s.channel, s.lang) != (spec.situation, spec.channel, spec.lang)
    ]
    entries = [_entry(s) for s in [*kept, spec]]
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".templates-", dir=target.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(entries, fh, ensure_ascii=False, indent=2)
    Path(tmp).replace(target)
    return target


def _entry(spec: TemplateSpec) -> dict[str, Any]:
    return {
        "situation": str(spec.situation),
        "channel": str(spec.channel),
        "lang": spec.lang,
        "version": spec.version,
        "subject": spec.subject,
        "body": spec.body,
        "html": spec.html,
    }


def _spec(entry: Any) -> TemplateSpec:
    version = entry["version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError("version must be an integer")
    return TemplateSpec(
        situation=Situation(entry["situation"]),
        channel=ChannelKind(entry["channel"]),
        lang=str(entry["lang"]),
        version=version,
        body=str(entry["body"]),
        subject=str(entry.get("subject", "")),
        html=str(entry.get("html", "")),
    )


def sample_facts(now: datetime) -> MessageFacts:
    """Plausible facts for previewing any template in the editor (never sent)."""
    return MessageFacts(
        order_ref="ORD-1042",
        eta=now + timedelta(minutes=35),
        window_start=now - timedelta(minutes=30),
        window_end=now + timedelta(minutes=15),
        delivered_at=now - timedelta(minutes=5),
        pod_ref="POD-7781",
        reschedule_url="https://example.com/r/1042",
        reschedule_phone="+49 30 1234567",
        reason="nobody at home",
        driver_name="Sam",
        address="12 Example Street",
        text="Please leave the parcel with the neighbour.",
        delay_minutes=20,
        minutes_away=12,
    )


def sample_customer() -> CustomerPreferences:
    return CustomerPreferences(customer_id=None, name="Alex Example", phone="+4915112345678")
