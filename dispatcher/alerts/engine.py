"""The rule engine: every rule over one snapshot, at the clock's "now"."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from dispatcher.alerts.facts import Snapshot
from dispatcher.alerts.rules_common import Rule
from dispatcher.alerts.rules_events import DriverIssueRule, FailedDeliveryRule, GeofenceRule
from dispatcher.alerts.rules_stops import AtRiskRule, LateRule
from dispatcher.alerts.rules_vehicles import (
    CapacityRule,
    DeviationRule,
    IdleRule,
    OfflineRule,
    PlanInfeasibleRule,
    ShiftOverrunRule,
    StaleRule,
)
from dispatcher.alerts.thresholds import Thresholds
from dispatcher.clock import Clock
from dispatcher.model.alerts import AlertKind, Condition

log = logging.getLogger(__name__)


def default_rules(thresholds: Thresholds | None = None) -> list[Rule]:
    """One instance of every rule, sharing ``thresholds`` (defaults if None)."""
    t = thresholds or Thresholds()
    return [
        AtRiskRule(t),
        LateRule(t),
        FailedDeliveryRule(t),
        DriverIssueRule(t),
        OfflineRule(t),
        StaleRule(t),
        IdleRule(t),
        DeviationRule(t),
        GeofenceRule(t),
        ShiftOverrunRule(t),
        PlanInfeasibleRule(t),
        CapacityRule(t),
    ]


class RuleEngine:
    """Run all rules over a snapshot and collect their conditions.

    A rule that raises is logged and skipped for this tick (its kinds are reported in
    :attr:`failed_kinds` so the reconciliation does not auto-resolve their alerts on the
    strength of a crash): one broken rule must not blind the whole queue.
    """

    def __init__(
        self,
        clock: Clock,
        thresholds: Thresholds | None = None,
        rules: Sequence[Rule] | None = None,
    ) -> None:
        self._clock = clock
        self._rules = list(rules) if rules is not None else default_rules(thresholds)
        self.failed_kinds: frozenset[AlertKind] = frozenset()

    @property
    def kinds(self) -> frozenset[AlertKind]:
        """Every kind this engine speaks for (and may therefore auto-resolve)."""
        return frozenset().union(*(r.kinds for r in self._rules))

    @property
    def healthy_kinds(self) -> frozenset[AlertKind]:
        """The kinds whose rules all ran in the last evaluation."""
        return self.kinds - self.failed_kinds

    def evaluate(self, snapshot: Snapshot) -> list[Condition]:
        """The conditions true now, in rule order."""
        now = self._clock.now()
        found: list[Condition] = []
        failed: set[AlertKind] = set()
        for rule in self._rules:
            try:
                batch = list(rule.evaluate(snapshot, now))
            except Exception:
                log.exception("alert rule %s failed; its alerts are left as they are", rule)
                failed |= rule.kinds
                continue
            found.extend(batch)
        self.failed_kinds = frozenset(failed)
        return found
