"""Safe hand-over of data to the map page: JSON that can never become markup or code.

Everything the page gets from Python goes through :func:`to_js`: a JSON literal in which
``<``, ``>``, ``&``, quotes and the JavaScript line separators are ``\\uXXXX`` escapes, so a
vehicle called ``</script><img onerror=alert(1)>`` or ``'); drop`` stays a string wherever
the literal is pasted (inside ``runJavaScript`` code or a ``<script>`` block). The page then
puts strings into the DOM with ``textContent`` only. :func:`escape_html` is for the rare
place that must build HTML in Python (the exported map's popups).
"""

from __future__ import annotations

import html
import json
from typing import Any

import orjson

_UNSAFE = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    ord("'"): "\\u0027",
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
        text = json.dumps(value, default=str, ensure_ascii=False)
    return text.translate(_UNSAFE)


def call(function: str, *args: Any) -> str:
    """JavaScript source calling ``function`` (a trusted dotted name of ours) with ``args``."""
    if not all(part.isidentifier() for part in function.split(".")):
        raise ValueError(f"not a function name: {function!r}")
    return f"{function}({','.join(to_js(a) for a in args)})"


def escape_html(text: object) -> str:
    """Text for an HTML context (quotes included)."""
    return html.escape("" if text is None else str(text), quote=True)


def escape_html_in_template(text: object) -> str:
    """Text for HTML that a library pastes inside a JavaScript template literal.

    folium puts tooltip text into backtick literals: besides the HTML escaping, a backtick
    would end the literal, ``${`` would run code and a backslash would start an escape.
    """
    return escape_html(text).replace("\\", "&#92;").replace("`", "&#96;").replace("$", "&#36;")
