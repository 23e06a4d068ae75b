"""Message templates: sandboxed Jinja2, plain-value contexts, checked before they are saved.

Supervisors edit templates, so a template is untrusted text. Three fences keep it harmless:

1. A static check refuses anything but printing variables, filters from a short list,
   ``if``/``for``/``set``: no attribute or item access (``''.__class__``), no calls, no
   ``attr`` filter, no ``import``/``include``, no dunder anywhere. The dispatcher gets a
   sentence saying what was refused instead of a stack trace.
2. Rendering happens in :class:`~dispatcher.messaging.sandbox.BoundedSandbox`, Jinja2's
   immutable sandbox with no globals (no ``cycler``, ``range``, ``lipsum``...) and a budget
   per channel (:data:`~dispatcher.messaging.sandbox.CHANNEL_LIMITS`: output size, CPU time,
   loop iterations) checked while rendering, so a template can neither allocate gigabytes
   nor spin. :func:`render` applies it at save (the editor's trial rendering) and at send.
3. The context holds only ``str``/``int``/``float``/``bool``/``None``: dates are formatted
   beforehand, no object ever reaches the template.

Undefined variables are errors (``StrictUndefined``): a message with a hole in it is never
sent; :class:`TemplateError` names the variable so the dispatcher can fix the data.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.exceptions import SecurityError
from markupsafe import Markup, escape

from dispatcher.errors import DispatcherError, NotFoundError
from dispatcher.messaging.email_html import script_in_html
from dispatcher.messaging.sandbox import (
    CHANNEL_LIMITS,
    MAX_SOURCE_CHARS,
    BoundedSandbox,
    LimitExceeded,
    make_sandbox,
    render_bounded,
)
from dispatcher.messaging.situations import ChannelKind, Situation, allowed_variables
from dispatcher.package_data import resources_dir

DEFAULT_LANG = "en"
DEFAULT_TEMPLATE_DIR = resources_dir("templates")

PlainValue = str | int | float | bool | None

#: Filters a template may use: formatting only, nothing that reaches into objects.
ALLOWED_FILTERS = frozenset(
    {
        "capitalize",
        "default",
        "d",
        "e",
        "escape",
        "float",
        "int",
        "join",
        "length",
        "lower",
        "replace",
        "round",
        "title",
        "trim",
        "truncate",
        "upper",
        "wordwrap",
    }
)
_REFUSED_NODES: dict[type[nodes.Node], str] = {
    nodes.Getattr: "attribute access",
    nodes.Getitem: "item access",
    nodes.Call: "function calls",
    nodes.Extends: "extends",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "import",
    nodes.Macro: "macros",
    nodes.CallBlock: "call blocks",
}
_UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined")


class TemplateError(DispatcherError):
    """A template cannot be saved or rendered; ``variable`` names the culprit when known.

    ``over_limit`` is set when the template went over its channel's budget (size, time,
    loops): such a template is refused at save, and a message it would make is not sent.
    """

    def __init__(
        self,
        message: str,
        *,
        template_id: str = "",
        variable: str | None = None,
        over_limit: bool = False,
    ):
        prefix = f"template {template_id}: " if template_id else ""
        super().__init__(prefix + message)
        self.template_id = template_id
        self.variable = variable
        self.over_limit = over_limit


class _GuardableUndefined(jinja2.StrictUndefined):
    """Strict when printed, but false in ``{% if x %}``: optional variables can be guarded.

    A template states what it needs by how it uses a variable: printed unguarded means
    required (missing -> :class:`TemplateError` naming it), tested first means optional.
    """

    def __bool__(self) -> bool:  # type: ignore[override]  # StrictUndefined: a raiser
        return False


def _make_env(*, autoescape: bool) -> BoundedSandbox:
    return make_sandbox(
        autoescape=autoescape, allowed_filters=ALLOWED_FILTERS, undefined=_GuardableUndefined
    )


_TEXT_ENV = _make_env(autoescape=False)
_HTML_ENV = _make_env(autoescape=True)


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    """One editable template: a situation on a channel in a language, at a version.

    ``subject`` and ``html`` matter for email only; when ``html`` is empty the HTML part is
    made from the rendered text (escaped, paragraphs kept).
    """

    situation: Situation
    channel: ChannelKind
    lang: str
    version: int
    body: str
    subject: str = ""
    html: str = ""

    @property
    def template_id(self) -> str:
        """Stable name stored on every outbox row, e.g. ``running_late/sms/en``."""
        return f"{self.situation}/{self.channel}/{self.lang}"

    def sources(self) -> dict[str, str]:
        """The non-empty parts, by name (``body``, ``subject``, ``html``)."""
        parts = {"body": self.body, "subject": self.subject, "html": self.html}
        return {name: text for name, text in parts.items() if text}


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered message, ready to be copied into an outbox row."""

    template_id: str
    template_version: int
    body: str
    subject: str = ""
    html: str = ""


def check_source(source: str, *, template_id: str = "") -> frozenset[str]:
    """Refuse unsafe or broken template text; return the variables it uses.

    Raises:
        TemplateError: on a syntax error or anything outside the small allowed language.
    """
    if "__" in source:
        raise TemplateError("double underscores are not allowed", template_id=template_id)
    if len(source) > MAX_SOURCE_CHARS:
        raise TemplateError(
            f"the template is longer than {MAX_SOURCE_CHARS:,} characters",
            template_id=template_id,
            over_limit=True,
        )
    try:
        tree = _TEXT_ENV.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"syntax error on line {exc.lineno}: {exc.message}", template_id=template_id
        ) from None
    for node in tree.find_all(nodes.Node):
        for node_type, what in _REFUSED_NODES.items():
            if isinstance(node, node_type):
                raise TemplateError(f"{what} is not allowed", template_id=template_id)
        if isinstance(node, nodes.Filter | nodes.FilterBlock):
            name = node.name if isinstance(node, nodes.Filter) else node.filter.name
            if name not in ALLOWED_FILTERS:
                raise TemplateError(f"filter '{name}' is not allowed", template_id=template_id)
    return frozenset(meta.find_undeclared_variables(tree))


def validate_spec(spec: TemplateSpec) -> TemplateSpec:
    """Check every part of ``spec`` and that it only mentions its situation's variables.

    This is what the supervisor's editor calls before saving, and what loading the shipped
    defaults calls, so a broken template is caught when written, not when a customer waits.
    """
    if spec.version < 1:
        raise TemplateError("version must be 1 or more", template_id=spec.template_id)
    if not spec.body.strip():
        raise TemplateError("the message text is empty", template_id=spec.template_id)
    if spec.channel is ChannelKind.EMAIL and not spec.subject.strip():
        raise TemplateError("an email needs a subject", template_id=spec.template_id)
    allowed = allowed_variables(spec.situation)
    for source in spec.sources().values():
        unknown = sorted(check_source(source, template_id=spec.template_id) - allowed)
        if unknown:
            raise TemplateError(
                f"unknown variable '{unknown[0]}' (allowed: {', '.join(sorted(allowed))})",
                template_id=spec.template_id,
                variable=unknown[0],
            )
    return spec


def check_context(context: Mapping[str, object]) -> dict[str, PlainValue]:
    """Return ``context`` as a dict after checking it holds plain values only."""
    plain: dict[str, PlainValue] = {}
    for key, value in context.items():
        if value is not None and type(value) not in (str, int, float, bool):
            raise TemplateError(
                f"variable '{key}' is a {type(value).__name__}; format it as text first",
                variable=key,
            )
        plain[key] = value  # type: ignore[assignment]  # checked by type() just above
    return plain


def render(spec: TemplateSpec, context: Mapping[str, object]) -> Rendered:
    """Render every part of ``spec`` with ``context``.

    Raises:
        TemplateError: unsafe template, non-plain value, or a variable the template prints
            that the context lacks or holds as ``None`` (``variable`` is set to its name).
            ``None`` values are dropped before rendering, so "unknown" and "missing" are the
            same thing to a template: ``{% if x %}`` is false, ``{{ x }}`` is an error.
    """
    plain = {k: v for k, v in check_context(context).items() if v is not None}
    parts: dict[str, str] = {}
    for name, source in spec.sources().items():
        check_source(source, template_id=spec.template_id)
        env = _HTML_ENV if name == "html" else _TEXT_ENV
        parts[name] = _render_one(env, source, plain, spec)
    body = _tidy(parts["body"])
    html = parts.get("html", "")
    found = script_in_html(html) if html else None
    if found is not None:
        raise TemplateError(f"the HTML part may not contain {found}", template_id=spec.template_id)
    if spec.channel is ChannelKind.EMAIL and not html:
        html = text_to_html(body)
    subject = " ".join(parts.get("subject", "").split())
    return Rendered(spec.template_id, spec.version, body, subject, html)


def _render_one(
    env: BoundedSandbox, source: str, context: Mapping[str, PlainValue], spec: TemplateSpec
) -> str:
    template_id = spec.template_id
    try:
        return render_bounded(env, source, context, CHANNEL_LIMITS[spec.channel])
    except LimitExceeded as exc:
        raise TemplateError(
            f"refused, over its limits: {exc}", template_id=template_id, over_limit=True
        ) from None
    except jinja2.UndefinedError as exc:
        match = _UNDEFINED_NAME.search(str(exc))
        variable = match.group(1) if match else None
        raise TemplateError(
            f"no value for '{variable}'", template_id=template_id, variable=variable
        ) from None
    except SecurityError as exc:
        raise TemplateError(f"refused: {exc}", template_id=template_id) from None
    except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError) as exc:
        raise TemplateError(f"cannot render: {exc}", template_id=template_id) from None


def _tidy(text: str) -> str:
    """Trim line ends and collapse the blank lines that skipped ``{% if %}`` blocks leave."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def text_to_html(text: str) -> str:
    """Escape plain text and keep its paragraphs and line breaks, for the HTML email part."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    html = "".join(
        Markup("<p>{}</p>").format(Markup("<br>\n").join(escape(line) for line in p.splitlines()))
        for p in paragraphs
    )
    return str(html)


class TemplateLibrary:
    """The templates in force: shipped defaults overlaid with supervisors' edits.

    Look-ups fall back from ``fr-CA`` to ``fr`` to English, so a customer with a language we
    have no text for still gets a message.
    """

    def __init__(self, specs: Iterable[TemplateSpec] = ()) -> None:
        self._specs: dict[tuple[Situation, ChannelKind, str], TemplateSpec] = {}
        for spec in specs:
            self._specs[(spec.situation, spec.channel, spec.lang)] = validate_spec(spec)

    @classmethod
    def from_directory(cls, directory: Path = DEFAULT_TEMPLATE_DIR) -> TemplateLibrary:
        """Load every ``<lang>.toml`` file of ``directory`` (see docs/messaging.md)."""
        specs: list[TemplateSpec] = []
        for path in sorted(Path(directory).glob("*.toml")):
            specs.extend(load_toml(path))
        if not specs:
            raise NotFoundError(f"no message templates in {directory}")
        return cls(specs)

    def get(
        self, situation: Situation, channel: ChannelKind, lang: str = DEFAULT_LANG
    ) -> TemplateSpec:
        """The template for ``situation`` on ``channel`` in ``lang`` or its fallback."""
        for candidate in _lang_chain(lang):
            spec = self._specs.get((situation, channel, candidate))
            if spec is not None:
                return spec
        raise NotFoundError(f"no {channel} template for {situation}")

    def put(self, spec: TemplateSpec) -> TemplateSpec:
        """Install a supervisor's edit; its version must be above the one it replaces.

        Outbox rows record ``template_id`` + ``version``, so reusing a version number would
        make two different texts indistinguishable in the history and in idempotency keys.
        """
        validate_spec(spec)
        current = self._specs.get((spec.situation, spec.channel, spec.lang))
        if current is not None and spec.version <= current.version:
            raise TemplateError(
                f"version {spec.version} is not newer than {current.version}",
                template_id=spec.template_id,
            )
        self._specs[(spec.situation, spec.channel, spec.lang)] = spec
        return spec

    def all(self) -> list[TemplateSpec]:
        """Every template in force, for the editor's list."""
        return sorted(self._specs.values(), key=lambda s: s.template_id)

    def next_version(self, spec: TemplateSpec) -> TemplateSpec:
        """A copy of ``spec`` numbered one above the template it would replace."""
        current = self._specs.get((spec.situation, spec.channel, spec.lang))
        return replace(spec, version=(current.version if current else 0) + 1)


def _lang_chain(lang: str) -> list[str]:
    lang = (lang or DEFAULT_LANG).strip().replace("_", "-").lower()
    chain = [lang]
    if "-" in lang:
        chain.append(lang.split("-", 1)[0])
    chain.append(DEFAULT_LANG)
    return chain


def load_toml(path: Path) -> list[TemplateSpec]:
    """Read one language file: ``lang = "en"`` and ``[situation.channel]`` tables."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TemplateError(f"cannot read {path.name}: {exc}") from None
    lang = str(data.get("lang", path.stem)).lower()
    specs: list[TemplateSpec] = []
    for situation_name, by_channel in data.items():
        if situation_name == "lang":
            continue
        try:
            situation = Situation(situation_name)
        except ValueError:
            raise TemplateError(f"{path.name}: unknown situation '{situation_name}'") from None
        if not isinstance(by_channel, dict):
            raise TemplateError(f"{path.name}: [{situation_name}] must be a table")
        for channel_name, fields in by_channel.items():
            specs.append(_spec_from_table(path.name, situation, lang, channel_name, fields))
    return specs


def _spec_from_table(
    filename: str, situation: Situation, lang: str, channel_name: str, fields: Any
) -> TemplateSpec:
    where = f"{filename}: [{situation}.{channel_name}]"
    try:
        channel = ChannelKind(channel_name)
    except ValueError:
        raise TemplateError(f"{where}: unknown channel") from None
    if not isinstance(fields, dict) or not isinstance(fields.get("body"), str):
        raise TemplateError(f"{where}: needs a 'body' text")
    version = fields.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise TemplateError(f"{where}: 'version' must be an integer")
    return TemplateSpec(
        situation=situation,
        channel=channel,
        lang=lang,
        version=version,
        body=fields["body"],
        subject=str(fields.get("subject", "")),
        html=str(fields.get("html", "")),
    )
