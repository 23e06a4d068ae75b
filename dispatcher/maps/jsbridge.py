"""Safe hand-over of data to the map page: JSON that can never become markup or code.

Everything the page gets from Python goes through :func:`to_js`: a JSON literal in which
``<``, ``>``, ``&``, quotes and the JavaScript line separators are ``\\uXXXX`` escapes, so a
vehicle called ``</script><img onerror=alert(1)>`` or ``'); drop`` stays a string wherever
the literal is pasted (inside ``runJavaScript`` code or a ``<script>`` block). The page then
puts strings into the DOM with ``textContent`` only.

Where HTML must be built in Python and handed to script (the day report's and the exported
map's popups and tooltips, which Leaflet shows as markup), :func:`html_in_js` is the one way:
values are HTML-escaped into trusted markup and the result becomes a :func:`to_js` literal.
Never paste HTML into a library's JavaScript template literal (folium's ``Popup``/``Tooltip``
do that: ``${...}`` in an order id would run); pass the literal instead.
"""

from __future__ import annotations

import html
import json
from typing import Any

import orjson
from markupsafe import Markup

_UNSAFE = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    ord("'"): "\\u0027",
    ord("`"): "\\u0060",
    ord("$"): "\\u0024",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def to_js(value: Any) -> str:
    """``value`` as a JavaScript literal that is safe to paste into code or a script block.

    Non-finite floats become ``null`` (orjson's rule: JSON has no NaN), so a corrupt fix
    cannot break the whole batch. What orjson refuses (integers past 64 bits) goes through
    the standard library instead of failing the tick.
    """
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        # ASCII: a lone surrogate (which orjson refuses) becomes a \\uXXXX escape that any
        # UTF-8 file can hold.
        text = json.dumps(value, default=str, ensure_ascii=True)
    return text.translate(_UNSAFE)


def call(function: str, *args: Any) -> str:
    """JavaScript source calling ``function`` (a trusted dotted name of ours) with ``args``."""
    if not all(part.isidentifier() for part in function.split(".")):
        raise ValueError(f"not a function name: {function!r}")
    return f"{function}({','.join(to_js(a) for a in args)})"


def escape_html(text: object) -> str:
    """Text for an HTML context (quotes included)."""
    return html.escape("" if text is None else str(text), quote=True)


def html_in_js(template: str, *values: object) -> str:
    """A JavaScript string literal holding ``template`` with ``values`` filled in as text.

    ``template`` is trusted markup of ours with ``{}`` placeholders; each value is
    HTML-escaped (``None`` becomes empty), so ``html_in_js("<b>{}</b>", order_ref)`` is the
    markup ``<b>&lt;img…&gt;</b>`` as a literal that stays one string inside a ``<script>``
    block, a quoted string or even a template literal (backticks, ``$``, ``<``, quotes and
    line separators are ``\\u`` escapes). Leaflet's ``bindPopup``/``bindTooltip`` take it as is.
    """
    markup = Markup(template).format(*("" if v is None else v for v in values))
    return to_js(str(markup))
