"""Several recorders on one broker: MQTT shared subscriptions split the ingest between them.

One ``dispatcher serve`` decodes, filters and stores every message of the fleet on one
connection and one writer thread. With ``[recorder] shared_group = "dispatcher"`` (or
``dispatcher serve --share dispatcher``) each recorder subscribes to
``$share/dispatcher/<filter>`` instead: the broker hands every message to **one** member of the
group (Mosquitto 2 round-robin, EMQX and HiveMQ by their strategy), so N recorders each take
about 1/N of the load. Without the setting a recorder subscribes as before.

What this relies on (docs/deploy.md explains the operations side):

* **Stored once.** Each member stores what it is handed; a message the broker hands again
  (redelivery after a crash) or to another member finds its row there: delivery events by
  ``event_id``, fixes by (vehicle, instant) — both unique, inserted with ``ON CONFLICT DO
  NOTHING``.
* **Nothing lost.** Shared filters are subscribed at QoS 1, so a fix or event published at
  QoS 1 is acknowledged only after its commit (telemetry/sink.py). A recorder keeps one
  persistent session per instance (``[recorder] instance``, stable across restarts): what the
  broker handed to a recorder that died unacknowledged, and its share while it is away, wait
  in its session until it is back (Mosquitto 2 does this, tests/integration/
  test_integration_shared.py; docs/deploy.md says how other brokers differ).
* **One rule runner.** The rules' lease election (alerts/sync.py) already picks one process
  among all recorders and consoles; the others do not run the rules.
* **Every recorder knows every vehicle's state.** Vehicle status topics (online/offline,
  retained, rare) are *not* shared: each recorder hears them all, so whichever one runs the
  rules sees which vehicle went offline. Positions reach each recorder at about 1/N of the
  rate, which the rules (last position, idle, deviation) do not mind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dispatcher.errors import ConfigError

SHARE = "$share"
#: A group or instance name: one topic level (no ``/ + #``), readable in a broker's log.
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


def check_name(value: object, what: str) -> str:
    """``value`` as a group or instance name, else a ConfigError naming ``what``."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise ConfigError(
            f"{what} must be 1-40 letters, digits, '.', '_' or '-' (one MQTT topic level), "
            f"got {value!r}"
        )
    return value


@dataclass(frozen=True, slots=True)
class RecorderSettings:
    """The ``[recorder]`` table of a ``dispatcher serve``.

    Attributes:
        shared_group: share ingest with the other recorders of this group ("" = do not).
        instance: tells two recorders on one host (and user) apart: the MQTT client id and
            session are ``dispatcher-serve-<host>-<user>-<instance>``. Keep it stable across
            restarts, so a recorder that comes back resumes its session.
    """

    shared_group: str = ""
    instance: str = ""

    @classmethod
    def from_sections(
        cls,
        sections: Mapping[str, Mapping[str, Any]],
        *,
        share: str | None = None,
        instance: str | None = None,
    ) -> RecorderSettings:
        """Read ``[recorder]``; ``share``/``instance`` (command-line flags) win over it."""
        raw = dict(sections.get("recorder") or {})
        group = raw.pop("shared_group", "")
        name = raw.pop("instance", "")
        if raw:
            raise ConfigError(f"recorder: unknown setting(s) {', '.join(sorted(raw))}")
        group = share if share is not None else group
        name = instance if instance is not None else name
        return cls(
            check_name(group, "recorder.shared_group (--share)") if group != "" else "",
            check_name(name, "recorder.instance (--instance)") if name != "" else "",
        )


def shared_subscriptions(
    subscriptions: Sequence[tuple[str, int]], group: str, prefix: str
) -> list[tuple[str, int]]:
    """``subscriptions`` as members of ``group``: ``$share/<group>/<filter>`` at QoS 1, except
    the vehicles' status filter, which every recorder keeps to itself (see the module)."""
    status = f"{prefix}/vehicles/+/status"
    out: list[tuple[str, int]] = []
    for topic_filter, qos in subscriptions:
        if topic_filter == status:
            out.append((topic_filter, qos))
        else:
            out.append((f"{SHARE}/{group}/{topic_filter}", max(qos, 1)))
    return out
