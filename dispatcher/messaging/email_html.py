"""The HTML part of an email may format text, never run anything.

Supervisors write the HTML part of email templates, and values are escaped into it
(autoescape), so script can only come from the template's own markup — or from markup a
template builds out of pieces (``<{{ 'scr' }}ipt>``), which is why the RENDERED part is
checked, with the standard library's HTML parser rather than a pattern: no ``script``,
``iframe``, ``object``, ``embed``, ``form``, ``base``, ``meta`` or ``link`` element, no
``on...`` event attribute, no ``javascript:``/``vbscript:``/``data:`` link. Mail clients
mostly refuse such things anyway; a message that relies on them is a mistake or an attack.
"""

from __future__ import annotations

from html.parser import HTMLParser

_ELEMENTS = frozenset(
    {"script", "iframe", "frame", "object", "embed", "form", "base", "meta", "link"}
)
_URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "background", "xlink:href"})
_SCHEMES = ("javascript:", "vbscript:", "data:")


class _Finder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.found is not None:
            return
        if tag in _ELEMENTS:
            self.found = f"a <{tag}> element"
        for name, value in attrs:
            if name.startswith("on"):
                self.found = f"an event attribute ({name})"
            # Browsers ignore control characters and spaces inside a scheme: "java\tscript:".
            url = "".join(ch for ch in (value or "") if ch > " ").lower()
            if name in _URL_ATTRIBUTES and url.startswith(_SCHEMES):
                self.found = f"a script or data link in {name}"

    handle_startendtag = handle_starttag


def script_in_html(markup: str) -> str | None:
    """What in ``markup`` could run or load active content, or ``None`` when it is clean."""
    finder = _Finder()
    finder.feed(markup)
    finder.close()
    return finder.found
