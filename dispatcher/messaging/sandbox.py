"""The template sandbox with budgets: no template can take much memory or time to render.

Jinja2's sandbox stops templates from reaching into Python, not from doing a lot of work:
``{% set a = a ~ a %}`` 26 times builds 200 MB in a fraction of a second, nested loops over a
string run for minutes. Every rendering here has a :class:`RenderLimits` budget (per channel,
see :data:`CHANNEL_LIMITS`) and each way a template can make something big is checked BEFORE
the big thing exists:

* every string made on the way (``~``, ``+``, ``*``, a filter's result, a ``{% set %}``
  block) and the output itself stay under ``max_chars``: sizes are added up first, so the
  200 MB string is never allocated;
* ``%`` on strings is refused (a width such as ``%999999999s`` is its own amplifier), and
  integers stay under :data:`MAX_INT_BITS` (``a * a`` repeated would make gigabyte numbers);
* all loops of one rendering together run at most ``max_iterations`` times;
* a CPU-time deadline (``max_seconds`` of :func:`time.thread_time`, so a busy machine does
  not fail a normal message) is checked at each of those points, between which the work
  is bounded.

A breach raises :class:`LimitExceeded` (a :class:`jinja2.exceptions.SecurityError`) with a
sentence the dispatcher can act on; :mod:`.templates` turns it into a ``TemplateError``.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Undefined, nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame, generate
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment

from dispatcher.messaging.situations import ChannelKind


@dataclass(frozen=True, slots=True)
class RenderLimits:
    """What one rendering of one message part may cost."""

    #: Named in error messages ("the SMS limit").
    name: str
    #: The output, and every string made while rendering, in characters.
    max_chars: int
    #: CPU time of the rendering thread, in seconds.
    max_seconds: float = 0.1
    #: Loop iterations, all loops of one rendering together.
    max_iterations: int = 10_000


#: The budget of each channel: an SMS longer than ~13 segments is a mistake, an email body
#: over 200 KB is not a delivery notice. Defined here once; the relay checks rows against it.
CHANNEL_LIMITS: Mapping[ChannelKind, RenderLimits] = {
    ChannelKind.SMS: RenderLimits("SMS", 2_000),
    ChannelKind.EMAIL: RenderLimits("email", 200_000),
    ChannelKind.DRIVER: RenderLimits("driver message", 2_000),
}
#: The budget when no rendering is under way (Jinja folding constants while compiling).
FALLBACK_LIMITS = RenderLimits("template", max(lim.max_chars for lim in CHANNEL_LIMITS.values()))
#: A template's own text: far above any real one, low enough that compiling it is cheap.
MAX_SOURCE_CHARS = 50_000
#: Integers in templates are counts and minutes; 256 bits is more than any of them needs.
MAX_INT_BITS = 256
_MAX_EXPONENT = 64


def over_channel_limit(channel: str, *parts: str) -> str | None:
    """Why a message of ``parts`` (body, subject, HTML) may not go out on ``channel``, if so.

    The relay asks this of every row before handing it to a gateway: a row written by an
    older version, or by anything but :func:`render_bounded`, fails with this reason.
    """
    try:
        limits = CHANNEL_LIMITS[ChannelKind(channel)]
    except ValueError:
        return None
    longest = max((len(p) for p in parts), default=0)
    if longest <= limits.max_chars:
        return None
    return f"message is {longest:,} characters; the {limits.name} limit is {limits.max_chars:,}"


class LimitExceeded(SecurityError):
    """A rendering went over its budget; the message says which limit."""


class _Budget:
    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self.deadline = time.thread_time() + limits.max_seconds
        self.iterations = 0

    def tick(self) -> None:
        if time.thread_time() > self.deadline:
            ms = round(self.limits.max_seconds * 1000)
            raise LimitExceeded(f"took longer than the {self.limits.name} limit of {ms} ms")

    def size(self, chars: int) -> None:
        self.tick()
        if chars > self.limits.max_chars:
            raise LimitExceeded(
                f"the text would be longer than the {self.limits.name} limit of "
                f"{self.limits.max_chars:,} characters"
            )

    def loop(self) -> None:
        self.iterations += 1
        if self.iterations > self.limits.max_iterations:
            raise LimitExceeded(
                f"loops ran more than {self.limits.max_iterations:,} times (the limit)"
            )
        self.tick()


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "template_budget", default=None
)


def _budget() -> _Budget:
    return _BUDGET.get() or _Budget(FALLBACK_LIMITS)


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple) else len(str(value))


def _check_int(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise LimitExceeded("a number in the template is too large")
    return value


# -- filters: the size of the result is worked out before it is made ------------------------
def _replace_size(args: Mapping[str, Any]) -> int:
    text, old, new = str(args["s"]), str(args["old"]), str(args["new"])
    hits = text.count(old) if old else len(text) + 1
    if args.get("count") is not None:
        hits = min(hits, max(int(args["count"]), 0))
    return len(text) + hits * max(len(new) - len(old), 0)


def _join_size(args: Mapping[str, Any]) -> int:
    items = args["value"]
    if not isinstance(items, str | list | tuple):
        return 0  # not sized: made by something already bounded; the result is checked
    return sum(_length(i) for i in items) + max(len(items) - 1, 0) * len(str(args.get("d", "")))


def _wordwrap_size(args: Mapping[str, Any]) -> int:
    text = str(args["s"])
    width = max(int(args.get("width", 79)), 1)
    wrap = args.get("wrapstring") or "\n"
    return len(text) + (len(text) // width + 1) * len(str(wrap))


_RESULT_SIZE: dict[str, Callable[[Mapping[str, Any]], int]] = {
    "replace": _replace_size,
    "join": _join_size,
    "wordwrap": _wordwrap_size,
}


def bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` with its result's size checked (before it is made, where it can explode)."""
    predict = _RESULT_SIZE.get(name)
    signature = inspect.signature(func) if predict is not None else None

    @functools.wraps(func)  # keeps Jinja's pass_eval_context / pass_environment marks
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        if predict is not None and signature is not None:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            budget.size(predict(bound.arguments))
        result = func(*args, **kwargs)
        if isinstance(result, str):
            budget.size(len(result))
        return _check_int(result)

    return wrapper


@pass_context
def _bounded_loop(context: Context, iterable: Any) -> Iterator[Any]:
    """What every ``{% for %}`` iterates over: counts iterations against the budget."""
    budget = _budget()
    for item in iterable:
        budget.loop()
        yield item


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles ``~`` to a size-checked join instead of Jinja's unchecked one."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat(context, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with every amplifier checked against the current budget."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _BoundedCodeGenerator

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = _budget()
        if operator == "**" and isinstance(right, int | float) and abs(right) > _MAX_EXPONENT:
            raise SecurityError("exponent too large")
        if operator == "%" and isinstance(left, str):
            raise SecurityError("formatting text with % is not allowed")
        sized = [v for v in (left, right) if isinstance(v, str | list | tuple)]
        if operator == "+" and len(sized) == 2:
            budget.size(len(sized[0]) + len(sized[1]))
        if operator == "*" and sized:
            counts = [v for v in (left, right) if isinstance(v, int)]
            budget.size(len(sized[0]) * max([*counts, 1]))
        if operator in ("*", "**") and all(isinstance(v, int) for v in (left, right)):
            bits = abs(left).bit_length()
            size = bits * abs(right) if operator == "**" else bits + abs(right).bit_length()
            if size > MAX_INT_BITS:
                raise LimitExceeded("a number in the template is too large")
        budget.tick()
        return _check_int(super().call_binop(context, operator, left, right))

    def bounded_concat(self, context: Context, values: tuple[Any, ...]) -> str:
        """``a ~ b ~ ...``: the total length is checked before anything is joined."""
        budget = _budget()
        budget.size(sum(_length(v) for v in values))
        joined: str = (markup_join if context.eval_ctx.autoescape else str_join)(values)
        budget.size(len(joined))
        return joined

    def concat(self, parts: Iterable[str]) -> str:
        """Jinja's join of ``{% set %}`` blocks and filter blocks, size-checked first."""
        budget = _budget()
        pieces = list(parts)
        budget.size(sum(len(p) for p in pieces))
        return "".join(pieces)

    def _generate(
        self,
        source: nodes.Template,
        name: str | None,
        filename: str | None,
        defer_init: bool = False,
    ) -> str:
        for loop in source.find_all(nodes.For):
            loop.iter = nodes.Filter(
                loop.iter, "_bounded_loop", [], [], None, None, lineno=loop.iter.lineno
            )
            loop.iter.set_environment(self)
        code = generate(
            source, self, name, filename, defer_init=defer_init, optimized=self.optimized
        )
        assert code is not None  # None only when a stream is given to write into
        return code


def make_sandbox(
    *, autoescape: bool, allowed_filters: Iterable[str], undefined: type[Undefined]
) -> BoundedSandbox:
    """A sandbox with no globals and only ``allowed_filters``, each of them size-checked."""
    env = BoundedSandbox(autoescape=autoescape, keep_trailing_newline=False, undefined=undefined)
    env.globals.clear()
    allowed = set(allowed_filters)
    env.filters = {n: bounded_filter(n, f) for n, f in env.filters.items() if n in allowed}
    env.filters["_bounded_loop"] = _bounded_loop
    return env


def render_bounded(
    env: BoundedSandbox, source: str, context: Mapping[str, Any], limits: RenderLimits
) -> str:
    """Compile and render ``source`` within ``limits``; the output is streamed and counted.

    Raises:
        LimitExceeded: over a limit; other Jinja errors pass through.
    """
    if len(source) > MAX_SOURCE_CHARS:
        raise LimitExceeded(f"the template is longer than {MAX_SOURCE_CHARS:,} characters")
    template = env.from_string(source)
    budget = _Budget(limits)
    token = _BUDGET.set(budget)
    try:
        parts: list[str] = []
        total = 0
        for chunk in template.generate(context):
            total += len(chunk)
            budget.size(total)
            parts.append(chunk)
        return "".join(parts)
    finally:
        _BUDGET.reset(token)
