"""Templates: the shipped defaults render, holes are named, injection is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatcher.errors import NotFoundError
from dispatcher.messaging.situations import ChannelKind, Situation
from dispatcher.messaging.sms_segments import count_segments
from dispatcher.messaging.templates import (
    TemplateError,
    TemplateLibrary,
    TemplateSpec,
    check_source,
    render,
    validate_spec,
)

FULL_CONTEXT: dict[str, object] = {
    "customer_name": "Dana Smith",
    "company_name": "Acme Deliveries",
    "company_phone": "+44 20 7946 0000",
    "order_ref": "A-1042",
    "eta": "14:35",
    "eta_date": "Fri 20 Nov",
    "window": "14:00-16:00",
    "pod_ref": "POD-77",
    "delivered_at": "11:02",
    "reschedule_url": "https://acme.example/r/A-1042",
    "text": "Please leave the parcel with the neighbour.",
}


@pytest.fixture(scope="module")
def library() -> TemplateLibrary:
    return TemplateLibrary.from_directory()


def free_text(source: str) -> TemplateSpec:
    return TemplateSpec(Situation.FREE_TEXT, ChannelKind.SMS, "en", 1, source)


def test_every_situation_has_an_sms_and_an_email_template(library: TemplateLibrary) -> None:
    for situation in Situation:
        for channel in (ChannelKind.SMS, ChannelKind.EMAIL):
            spec = library.get(situation, channel)
            assert spec.lang == "en" and spec.version >= 1


@pytest.mark.parametrize("situation", list(Situation))
def test_default_sms_fits_one_segment_and_stays_gsm7(
    library: TemplateLibrary, situation: Situation
) -> None:
    rendered = render(library.get(situation, ChannelKind.SMS), FULL_CONTEXT)
    info = count_segments(rendered.body)
    assert info.encoding == "GSM-7", rendered.body
    assert info.segments == 1, (info, rendered.body)


def test_running_late_carries_the_new_eta(library: TemplateLibrary) -> None:
    rendered = render(library.get(Situation.RUNNING_LATE, ChannelKind.SMS), FULL_CONTEXT)
    assert "14:35" in rendered.body
    assert rendered.template_id == "running_late/sms/en"


def test_delivered_email_carries_the_proof_of_delivery(library: TemplateLibrary) -> None:
    rendered = render(library.get(Situation.DELIVERED, ChannelKind.EMAIL), FULL_CONTEXT)
    assert "POD-77" in rendered.body
    assert rendered.subject == "Delivered: A-1042"
    assert "POD-77" in rendered.html


def test_missed_you_offers_the_reschedule_link_or_the_phone(library: TemplateLibrary) -> None:
    spec = library.get(Situation.MISSED_YOU, ChannelKind.SMS)
    assert "https://acme.example/r/A-1042" in render(spec, FULL_CONTEXT).body
    by_phone = {**FULL_CONTEXT, "reschedule_url": None, "reschedule_phone": "0800 123"}
    assert "Call 0800 123" in render(spec, by_phone).body


def test_a_missing_variable_is_named_and_nothing_renders(library: TemplateLibrary) -> None:
    context = {k: v for k, v in FULL_CONTEXT.items() if k != "eta"}
    with pytest.raises(TemplateError) as err:
        render(library.get(Situation.RUNNING_LATE, ChannelKind.SMS), context)
    assert err.value.variable == "eta"
    assert "'eta'" in str(err.value)


def test_a_none_value_counts_as_missing() -> None:
    with pytest.raises(TemplateError) as err:
        render(free_text("{{ text }}"), {"text": None})
    assert err.value.variable == "text"


def test_optional_variables_can_be_guarded() -> None:
    spec = free_text("Hi{% if customer_name %} {{ customer_name }}{% endif %}.")
    assert render(spec, {}).body == "Hi."
    assert render(spec, {"customer_name": "Dana"}).body == "Hi Dana."


def test_objects_are_refused_in_the_context() -> None:
    from datetime import UTC, datetime

    with pytest.raises(TemplateError) as err:
        render(free_text("{{ text }}"), {"text": datetime(2026, 1, 1, tzinfo=UTC)})
    assert err.value.variable == "text"
    assert "format it as text" in str(err.value)


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("{{ ''.__class__ }}", "double underscores"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "double underscores"),
        ("{{ cycler.__init__.__globals__ }}", "double underscores"),
        ("{{ text|attr('upper') }}", "filter 'attr'"),
        ("{{ text.upper }}", "attribute access"),
        ("{{ text.upper() }}", "function calls"),
        ("{{ text['x'] }}", "item access"),
        ("{{ lipsum() }}", "function calls"),
        ("{% include 'x' %}", "include"),
        ("{% import 'x' as y %}", "import"),
        ("{{ text|map('lower') }}", "filter 'map'"),
        ("{% macro m() %}x{% endmacro %}", "macros"),
    ],
)
def test_template_injection_is_refused_with_a_clear_error(source: str, why: str) -> None:
    with pytest.raises(TemplateError) as err:
        render(free_text(source), {"text": "hi"})
    assert why in str(err.value)


def test_sandbox_globals_are_gone() -> None:
    with pytest.raises(TemplateError) as err:
        render(free_text("{{ cycler }}"), {})
    assert err.value.variable == "cycler"


@pytest.mark.parametrize("source", ["{{ 'a' * 100000000 }}", "{{ 9 ** 99999 }}"])
def test_templates_cannot_allocate_huge_results(source: str) -> None:
    with pytest.raises(TemplateError, match="refused"):
        render(free_text(source), {})


def test_syntax_errors_say_where() -> None:
    with pytest.raises(TemplateError, match="line 2"):
        check_source("ok\n{% if %}")


def test_html_email_part_is_escaped() -> None:
    spec = TemplateSpec(
        Situation.FREE_TEXT,
        ChannelKind.EMAIL,
        "en",
        1,
        body="{{ text }}",
        subject="Hi {{ company_name }}",
        html="<p>{{ text }}</p>",
    )
    rendered = render(spec, {"text": "<script>x</script> & co", "company_name": "A<b>"})
    assert rendered.html == "<p>&lt;script&gt;x&lt;/script&gt; &amp; co</p>"
    assert rendered.body == "<script>x</script> & co"  # the text part is plain text
    assert rendered.subject == "Hi A<b>"


def test_html_is_made_from_the_text_when_the_template_has_none(library: TemplateLibrary) -> None:
    context = {**FULL_CONTEXT, "text": "Line <1>\nLine 2\n\nNew paragraph"}
    rendered = render(library.get(Situation.FREE_TEXT, ChannelKind.EMAIL), context)
    assert "<p>Line &lt;1&gt;<br>\nLine 2</p><p>New paragraph</p>" in rendered.html


def test_editor_refuses_variables_the_situation_does_not_have() -> None:
    spec = TemplateSpec(Situation.DELIVERED, ChannelKind.SMS, "en", 1, "{{ reschedule_url }}")
    with pytest.raises(TemplateError) as err:
        validate_spec(spec)
    assert err.value.variable == "reschedule_url"


def test_an_edit_must_raise_the_version(library: TemplateLibrary) -> None:
    lib = TemplateLibrary(library.all())
    current = lib.get(Situation.RUNNING_LATE, ChannelKind.SMS)
    edited = TemplateSpec(
        current.situation, current.channel, "en", current.version, "Late: {{ eta }}"
    )
    with pytest.raises(TemplateError, match="not newer"):
        lib.put(edited)
    saved = lib.put(lib.next_version(edited))
    assert saved.version == current.version + 1
    assert lib.get(Situation.RUNNING_LATE, ChannelKind.SMS).body == "Late: {{ eta }}"


def test_languages_fall_back_to_english(tmp_path: Path, library: TemplateLibrary) -> None:
    (tmp_path / "fr.toml").write_text(
        'lang = "fr"\n[running_late.sms]\nversion = 3\nbody = "En retard : {{ eta }}"\n',
        encoding="utf-8",
    )
    lib = TemplateLibrary([*library.all(), *TemplateLibrary.from_directory(tmp_path).all()])
    assert lib.get(Situation.RUNNING_LATE, ChannelKind.SMS, "fr-CA").template_id == (
        "running_late/sms/fr"
    )
    assert lib.get(Situation.DELIVERED, ChannelKind.SMS, "fr").lang == "en"
    assert lib.get(Situation.DELIVERED, ChannelKind.SMS, "").lang == "en"


def test_a_broken_template_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "en.toml").write_text('[running_late.sms]\nbody = "{{ x.__class__ }}"\n')
    with pytest.raises(TemplateError, match="double underscores"):
        TemplateLibrary.from_directory(tmp_path)
    (tmp_path / "en.toml").write_text("[nonsense.sms]\nbody = 'x'\n")
    with pytest.raises(TemplateError, match="unknown situation"):
        TemplateLibrary.from_directory(tmp_path)
    (tmp_path / "en.toml").write_text("not toml [")
    with pytest.raises(TemplateError, match="cannot read"):
        TemplateLibrary.from_directory(tmp_path)


def test_no_template_for_a_channel_is_not_found(library: TemplateLibrary) -> None:
    with pytest.raises(NotFoundError):
        library.get(Situation.DELIVERED, ChannelKind.DRIVER)
