"""Templates cannot exhaust memory or CPU: refused at save, not sent at send, per channel.

The attack templates are the ones of issue 15 (``{% set a = a ~ a %}`` x26 built 201 MB in
0.3 s, nested loops reached 1.5 GB) and their cousins through every other amplifier. Each is
refused with a sentence naming the limit, and the rendering never holds more than a few MB
(``tracemalloc``'s peak: memory, not time, is asserted).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jinja2 import StrictUndefined
from outbox_store_contract import draft

from dispatcher.clock import FakeClock
from dispatcher.messaging.channels import CaptureChannel
from dispatcher.messaging.compose import Branding, MessageFacts, MessageRequest, Messenger
from dispatcher.messaging.relay import Relay
from dispatcher.messaging.sandbox import (
    CHANNEL_LIMITS,
    LimitExceeded,
    RenderLimits,
    make_sandbox,
    over_channel_limit,
    render_bounded,
)
from dispatcher.messaging.situations import ChannelKind, Situation
from dispatcher.messaging.template_store import (
    load_templates,
    read_overrides,
    sample_context,
    save_override,
    save_template,
    trial_render,
)
from dispatcher.messaging.templates import TemplateError, TemplateLibrary, TemplateSpec, render
from dispatcher.model.messaging import CustomerPreferences, OutboxStatus
from dispatcher.persistence.database import Database
from dispatcher.persistence.outbox_repo import SqlOutboxStore

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
BRANDING = Branding("Acme", "+44 20 7946 0000")
DOUBLE_26 = "{% set a = 'xxxxxxxx' %}" + "{% set a = a ~ a %}" * 26 + "{{ a }}"
THOUSAND = "{% set a = 'x' * 1000 %}"
#: name -> (template body, words the refusal must contain)
ATTACKS: dict[str, tuple[str, str]] = {
    "concat doubling x26 (201 MB)": (DOUBLE_26, "2,000 characters"),
    "plus doubling x26": (DOUBLE_26.replace("a ~ a", "a + a"), "2,000 characters"),
    "nested loops printing (1.5 GB)": (
        THOUSAND + "{% for i in a %}{% for j in a %}{% for k in a %}{{ a }}"
        "{% endfor %}{% endfor %}{% endfor %}",
        "2,000 characters",
    ),
    "nested loops printing nothing": (
        THOUSAND + "{% for i in a %}{% for j in a %}{% for k in a %}"
        "{% endfor %}{% endfor %}{% endfor %}ok",
        "loops ran more than 10,000 times",
    ),
    "set block filled by loops": (
        THOUSAND + "{% set b %}{% for i in a %}{{ a }}{% endfor %}{% endset %}{{ b|length }}",
        "2,000 characters",
    ),
    "filter block": (
        THOUSAND + "{% filter upper %}{% for i in a %}{{ a }}{% endfor %}{% endfilter %}",
        "2,000 characters",
    ),
    "replace between every character": (
        THOUSAND + "{{ a|replace('', a)|length }}",
        "2,000 characters",
    ),
    "join with itself": (THOUSAND + "{{ a|join(a)|length }}", "2,000 characters"),
    "wordwrap with a long wrapstring": (
        THOUSAND + "{{ a|wordwrap(1, true, a)|length }}",
        "2,000 characters",
    ),
    "integer squaring": (
        "{% set n = 10 ** 60 %}" + "{% set n = n * n %}" * 26 + "{{ n }}",
        "number in the template is too large",
    ),
    "percent width": ("{{ '%999999999s' % 'x' }}", "formatting text with %"),
    "repetition": ("{{ 'a' * 100000000 }}", "2,000 characters"),
}


def sms(body: str, situation: str = "free_text") -> TemplateSpec:
    return TemplateSpec(Situation(situation), ChannelKind.SMS, "en", 1, body)


def peak_mb(work: Callable[[], Any]) -> tuple[Any, float]:
    """Run ``work``; return what it returned or raised, and its peak of traced memory."""
    tracemalloc.start()
    try:
        try:
            result: Any = work()
        except TemplateError as exc:
            result = exc
        return result, tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_templates_are_refused_at_save_without_large_memory(
    name: str, tmp_path: Path
) -> None:
    body, why = ATTACKS[name]
    library = TemplateLibrary.from_directory()
    before = library.get(Situation("free_text"), ChannelKind.SMS)
    overrides = tmp_path / "message-templates.json"
    context = sample_context(T0, BRANDING, "Europe/Berlin")
    refused, peak = peak_mb(lambda: save_template(library, sms(body), context, overrides))
    assert isinstance(refused, TemplateError), refused
    assert why in str(refused)
    assert str(refused).startswith("template free_text/sms/en: refused")
    assert peak < 20, f"{peak:.1f} MB"
    assert library.get(Situation("free_text"), ChannelKind.SMS) == before  # not installed
    assert read_overrides(overrides) == []  # not persisted


def test_the_issue_attacks_hit_a_limit_not_a_rule() -> None:
    refused, _ = peak_mb(lambda: render(sms(DOUBLE_26), {}))
    assert isinstance(refused, TemplateError) and refused.over_limit


def test_a_normal_template_still_saves_and_renders(tmp_path: Path) -> None:
    library = TemplateLibrary.from_directory()
    body = (
        "{{ company_name }}: {% for w in ['late', 'again'] %}{{ w|upper }} {% endfor %}"
        "{{ 'ETA ' ~ eta }}{% if delay_minutes %}, +{{ delay_minutes + 0 }} min{% endif %}."
    )
    context = sample_context(T0, BRANDING, "Europe/Berlin")
    saved, problem = save_template(library, sms(body, "running_late"), context, tmp_path / "t.json")
    assert problem is None and saved.version == 3
    rendered = render(saved, context)
    assert rendered.body.startswith("Acme: LATE AGAIN ETA ")


def test_every_shipped_template_renders_within_its_channel_limits() -> None:
    context = sample_context(T0, BRANDING, "Europe/Berlin")
    for spec in TemplateLibrary.from_directory().all():
        rendered = trial_render(spec, context)
        limit = CHANNEL_LIMITS[spec.channel].max_chars
        assert len(rendered.body) <= limit and len(rendered.html) <= limit


def test_limits_are_per_channel() -> None:
    big = "{{ 'x' * 150000 }}"
    email = TemplateSpec(Situation("free_text"), ChannelKind.EMAIL, "en", 1, big, subject="Hi")
    assert len(render(email, {}).body) == 150_000
    with pytest.raises(TemplateError, match="SMS limit of 2,000 characters"):
        render(sms(big), {})


@pytest.mark.parametrize(
    "html",
    [
        "<p>{{ text }}</p><script>alert(1)</script>",
        "<{{ 'scr' }}ipt>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        '<a href="java&#9;script:alert(1)">x</a>',
        "<iframe src='https://evil.example'></iframe>",
    ],
)
def test_script_in_the_email_html_part_is_refused(html: str) -> None:
    spec = TemplateSpec(
        Situation("free_text"), ChannelKind.EMAIL, "en", 1, "{{ text }}", subject="Hi", html=html
    )
    with pytest.raises(TemplateError, match="the HTML part may not contain"):
        trial_render(spec, {"text": "hi"})


def test_escaped_values_never_count_as_script_in_the_email_html_part() -> None:
    spec = TemplateSpec(
        Situation("free_text"),
        ChannelKind.EMAIL,
        "en",
        1,
        "{{ text }}",
        subject="Hi",
        html="<p>{{ text }}</p>",
    )
    hostile = '<script>alert(1)</script><img src=x onerror="alert(1)">'
    assert "&lt;script&gt;" in render(spec, {"text": hostile}).html


def test_a_template_over_its_limits_at_send_queues_nothing(database: Database) -> None:
    store = SqlOutboxStore(database)
    library = TemplateLibrary.from_directory()
    # Installed without the save check, as an edit from an older version would be.
    library.put(replace(sms(DOUBLE_26), version=9))
    messenger = Messenger(store, library, FakeClock(T0), BRANDING, fleet_tz="Europe/London")
    dana = CustomerPreferences(customer_id=None, name="Dana", phone="+447911123456")
    request = MessageRequest(dana, Situation("free_text"), "S-1", MessageFacts(text="hi"), "ann")
    with pytest.raises(TemplateError, match="refused, over its limits") as err:
        messenger.send(request)
    assert err.value.over_limit
    assert store.list() == []


def test_a_row_over_its_channel_limit_fails_in_the_outbox_with_the_reason(
    database: Database, tmp_path: Path
) -> None:
    store = SqlOutboxStore(database)
    clock = FakeClock(T0)
    row, _ = store.enqueue(draft("k1", body="x" * 2_001))
    fine, _ = store.enqueue(draft("k2", body="Running late, new ETA 14:35."))
    capture = CaptureChannel(tmp_path / "capture.jsonl", clock)
    relay = Relay(store, {"sms": capture}, clock, worker_id="w1", lease=timedelta(minutes=5))
    report = relay.run_once()
    assert report.failed == [row.id] and report.sent == [fine.id]
    failed = store.get(row.id or 0)
    assert failed is not None and failed.status is OutboxStatus.FAILED
    assert failed.last_error == "message is 2,001 characters; the SMS limit is 2,000"
    assert over_channel_limit("sms", "x" * 2_000) is None


def test_the_cpu_deadline_is_checked_while_rendering() -> None:
    # A budget already spent (negative time): the first loop step or join says so. No clock
    # is raced: the check itself is what is tested.
    env = make_sandbox(autoescape=False, allowed_filters={"upper"}, undefined=StrictUndefined)
    spent = RenderLimits("SMS", 2_000, max_seconds=-1.0)
    for source in ("{% for c in 'abc' %}{{ c }}{% endfor %}", "{{ 'a' ~ 'b'|upper }}"):
        with pytest.raises(LimitExceeded, match="took longer than the SMS limit of -1000 ms"):
            render_bounded(env, source, {}, spent)
    assert render_bounded(env, "{{ 'a' ~ 'b'|upper }}", {}, CHANNEL_LIMITS[ChannelKind.SMS]) == "aB"


def test_a_saved_edit_over_the_limits_is_ignored_at_start_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Written by a version without limits; the shipped default stays in force.
    overrides = tmp_path / "message-templates.json"
    save_override(replace(sms(DOUBLE_26), version=5), overrides)
    with caplog.at_level("WARNING"):
        library = load_templates(overrides=overrides)
    assert library.get(Situation("free_text"), ChannelKind.SMS).version == 2
    assert "saved template free_text/sms/en ignored" in caplog.text
    assert "SMS limit of 2,000 characters" in caplog.text


def test_a_huge_template_text_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(TemplateError, match="longer than 50,000 characters") as err:
        render(sms("{{ text }}" * 10_000), {"text": "x"})
    assert err.value.over_limit
