"""Every audience of the web front, one route group each (see dispatcher/web/app.py).

A group is ``"module:function"`` with ``function(ctx) -> list[BaseRoute]``; its URLs start
with a prefix of its own so audiences never collide (``/t/`` and ``/hooks/`` for customers).
"""

from __future__ import annotations

GROUPS: list[str] = [
    "dispatcher.web.customer:routes",
    "dispatcher.web.hooks:routes",
    "dispatcher.web.driver:routes",
]
