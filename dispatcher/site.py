"""Which process does the site's writing: one recorder, many consoles that only read.

A control room runs one ``dispatcher serve`` (the recorder) next to several consoles. Only
the recorder may store positions and events, prune the history and relay the outbox: with
every console writing too, each fix was stored once per process (issue 24: 3,452 rows for
1,352 fixes with one recorder and two consoles). A console alone (a laptop, the demo) has
nobody to record for it and does all of it itself.

The ``[console]`` table says which case a console is in::

    [console]
    recorder = "external"   # a dispatcher serve records; this console only reads
    # recorder = "embedded" # (default) this console records itself

It is a setting, not a guess from the broker: a console that starts while the recorder is
restarting must not begin writing (and stop again a minute later, with a gap or a duplicate
at each switch). A console left on ``"embedded"`` that hears a recorder's lease on the
broker says so in its log (:func:`warn_if_recorder_heard`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from dispatcher.clock import system_monotonic
from dispatcher.errors import ConfigError

log = logging.getLogger(__name__)

RecorderMode = Literal["embedded", "external"]
Role = Literal["console", "serve"]
_MODES: tuple[RecorderMode, ...] = ("embedded", "external")


@dataclass(frozen=True, slots=True)
class SiteRole:
    """What this process does for the site.

    Attributes:
        role: ``"serve"`` (the recorder) or ``"console"``.
        recorder: For a console, whether it records itself (``"embedded"``) or a recorder
            does (``"external"``); a serve is always its own recorder.
    """

    role: Role = "console"
    recorder: RecorderMode = "embedded"

    @property
    def records(self) -> bool:
        """True when this process writes telemetry, prunes history and relays the outbox."""
        return self.role == "serve" or self.recorder == "embedded"

    @classmethod
    def from_sections(cls, sections: Mapping[str, Mapping[str, Any]], role: Role) -> SiteRole:
        """Read ``[console]`` (``recorder`` only); a bad value is a :class:`ConfigError`."""
        raw = dict(sections.get("console") or {})
        mode = raw.pop("recorder", "embedded")
        if raw:
            raise ConfigError(f"console: unknown setting(s) {', '.join(sorted(raw))}")
        if mode not in _MODES:
            raise ConfigError(f'console.recorder must be "embedded" or "external", got {mode!r}')
        recorder: RecorderMode = "embedded" if mode == "embedded" else "external"
        return cls(role, recorder)


class RecorderWatch:
    """A console that leaves the recording to a recorder says when none is heard.

    A core service of a console with ``recorder = "external"``: ``alive()`` says whether a
    recorder's rules lease was heard lately (the election's view). When none was heard for
    ``after_s``, :attr:`warning` is set (the status bar shows it) and the log says so once:
    nothing stores positions and events meanwhile, and the dispatcher should know.
    """

    name = "recorder watch"

    def __init__(
        self,
        alive: Callable[[], bool],
        *,
        after_s: float = 15.0,
        monotonic: Callable[[], float] = system_monotonic,
    ) -> None:
        self._alive = alive
        self._after_s = after_s
        self._monotonic = monotonic
        self._last_heard = monotonic()
        self.warning = ""

    def tick(self) -> None:
        now = self._monotonic()
        if self._alive():
            if self.warning:
                log.info("a recorder is heard again: telemetry is stored")
            self._last_heard, self.warning = now, ""
            return
        silent = now - self._last_heard
        if silent >= self._after_s and not self.warning:
            self.warning = (
                f"no recorder heard for {silent:.0f} s: nothing stores positions and events"
                ' (start dispatcher serve, or set [console] recorder = "embedded")'
            )
            log.warning("%s", self.warning)

    def stop(self) -> None:
        """Nothing to release."""


def os_login() -> str:
    """The OS user running this process: who is at the keyboard until the console has users
    of its own ("dispatcher" when the platform cannot say, e.g. no passwd entry)."""
    import getpass

    try:
        return getpass.getuser() or "dispatcher"
    except (KeyError, OSError):
        return "dispatcher"


def warn_if_recorder_heard(site: SiteRole, owner: str) -> bool:
    """Log once per recorder heard when a self-recording console shares the site with one."""
    if site.role != "console" or not site.records:
        return False
    log.warning(
        "recorder %s serves this broker but this console records too (every fix is stored "
        'twice): set [console] recorder = "external"',
        owner,
    )
    return True
