"""The numbers behind the rules, in one dataclass, with the reason for each default.

Read from the ``[alerts]`` table of the configuration with :meth:`Thresholds.from_mapping`.
docs/exceptions.md explains every default in words a control-room lead can argue with.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dispatcher.errors import ValidationError


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Detection thresholds (minutes, metres, km/h).

    Boundaries are part of the contract and tested at the exact minute:
    "less than" and "more than" are strict; "for N minutes" includes N.

    Attributes:
        at_risk_slack_min: At risk when the predicted arrival leaves *less than* this much
            slack before the window end. 10 min is what a dispatcher needs to call the
            customer or move the stop before the breach.
        late_critical_min: A stop late by *more than* this is critical, not just high:
            half an hour is when customers start to call back and cancel.
        stale_after_min: A vehicle silent *for* this long (and not offline) is stale. Phones
            report every 5-30 s; 5 min of silence is a tunnel, a dead app or a dead battery.
        idle_after_min: Stopped *for* this long away from any stop or depot is idle; a
            delivery takes 2-5 min, a coffee break is ok but 10 min is worth a look.
        idle_speed_kmh: Above this speed the vehicle is moving whatever ``stopped_since`` says
            (GPS drift makes parked phones report 1-2 km/h).
        stop_radius_m: Within this of a stop the vehicle is "at the stop" (parking is rarely at
            the door; 150 m covers a block).
        deviation_m: *More than* this from the planned path is a deviation; 300 m is past the
            next street and beyond GPS error in city canyons (~50-100 m).
        shift_overrun_grace_min: Predicted route end may pass the shift end by this much
            before raising (0: any predicted overtime is news).
        shift_overrun_high_min: Predicted overtime of *more than* this is high severity.
        failed_delivery_sla_min: After a failed delivery, the dispatcher has this long to
            arrange a second attempt while the driver is still in the area.
        issue_sla_min: A driver reporting an issue is usually waiting at the kerb for an
            answer: 15 min.
    """

    at_risk_slack_min: float = 10.0
    late_critical_min: float = 30.0
    stale_after_min: float = 5.0
    idle_after_min: float = 10.0
    idle_speed_kmh: float = 3.0
    stop_radius_m: float = 150.0
    deviation_m: float = 300.0
    shift_overrun_grace_min: float = 0.0
    shift_overrun_high_min: float = 30.0
    failed_delivery_sla_min: float = 30.0
    issue_sla_min: float = 15.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValidationError(f"alerts.{f.name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ValidationError(f"alerts.{f.name} must be a finite number >= 0")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Thresholds:
        """Build from a config table; unknown keys are refused so typos do not pass silently."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValidationError(f"unknown alert threshold(s): {', '.join(unknown)}")
        return cls(**dict(values))


@dataclass(frozen=True, slots=True)
class ReconcileSettings:
    """How the reconciliation treats repeats.

    Attributes:
        reopen_window_min: A cause that returns within this many minutes of the alert being
            closed re-opens the same alert (count + 1) instead of raising a new one, so a
            flapping GPS does not fill the queue; later, it is a new episode and a new alert.
        refresh_interval_s: An open alert whose cause persists is rewritten (last seen,
            details, deadline) at most this often. Every write bumps the version, and a
            dispatcher acting on an older version gets a conflict, so refreshes are rare.
            Severity changes and repeats are written at once.
    """

    reopen_window_min: float = 30.0
    refresh_interval_s: float = 60.0
