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
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dispatcher.config import user_config_dir
from dispatcher.errors import DispatcherError
from dispatcher.messaging.compose import Branding, MessageFacts, template_context
from dispatcher.messaging.situations import ChannelKind, Situation
from dispatcher.messaging.templates import (
    DEFAULT_TEMPLATE_DIR,
    PlainValue,
    Rendered,
    TemplateError,
    TemplateLibrary,
    TemplateSpec,
    render,
    validate_spec,
)
from dispatcher.model.messaging import CustomerPreferences

log = logging.getLogger(__name__)

OVERRIDES_FILE = "message-templates.json"
#: When the start-up check of saved edits pretends it is (the facts are relative to it).
_SAMPLE_NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def overrides_path() -> Path:
    return user_config_dir() / OVERRIDES_FILE


def load_templates(
    directory: Path = DEFAULT_TEMPLATE_DIR, overrides: Path | None = None
) -> TemplateLibrary:
    """The shipped templates with the saved edits laid over them.

    Each edit is trial-rendered as at save, so one saved by an older version that goes over
    today's limits is ignored (with a warning) rather than failing every send.
    """
    library = TemplateLibrary.from_directory(directory)
    sample = sample_context(_SAMPLE_NOW, Branding("Sample company", "+44 20 7946 0000"), "UTC")
    for spec in read_overrides(overrides or overrides_path()):
        try:
            trial_render(spec, sample)
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


def trial_render(spec: TemplateSpec, context: Mapping[str, PlainValue]) -> Rendered:
    """Check ``spec`` and render it with ``context`` within its channel's limits.

    The editor's preview and the save both go through here, so a template that is refused
    at send (too big, too slow, script in its HTML part) is refused while it is written.

    Raises:
        TemplateError: what is wrong, ``over_limit`` set when a limit was hit.
    """
    validate_spec(spec)
    return render(spec, context)


def save_template(
    library: TemplateLibrary,
    spec: TemplateSpec,
    context: Mapping[str, PlainValue],
    path: Path | None = None,
) -> tuple[TemplateSpec, str | None]:
    """Trial-render the edit, number it one up, install it and persist it.

    Returns the installed spec and, when only the file could not be written (the edit then
    holds for this session), why. Raises :class:`TemplateError` (nothing installed) when it
    does not render within limits.
    """
    numbered = library.next_version(spec)
    trial_render(numbered, context)
    library.put(numbered)
    try:
        save_override(numbered, path)
    except (OSError, DispatcherError) as exc:
        return numbered, str(exc)
    return numbered, None


def sample_context(now: datetime, branding: Branding, timezone: str) -> dict[str, PlainValue]:
    """The variables of :func:`sample_facts` as a template sees them (for preview and save)."""
    return template_context(sample_facts(now), sample_customer(), branding, timezone)


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
