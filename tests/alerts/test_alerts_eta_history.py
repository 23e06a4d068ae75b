"""An alert about a stop remembers how its predicted arrival drifted (for the detail pane)."""

from __future__ import annotations

from alerts_builders import T0, cond, minutes

from dispatcher.alerts.reconcile import ETA_HISTORY_MAX
from dispatcher.alerts.store import InMemoryAlertStore
from dispatcher.alerts.workflow import AlertService
from dispatcher.clock import FakeClock
from dispatcher.model.alerts import AlertKind, Condition, Severity


def at_risk(predicted: str, severity: Severity = Severity.MEDIUM) -> Condition:
    return cond(
        AlertKind.AT_RISK,
        "stop:S1",
        severity,
        details={"predicted_arrival": predicted, "slack_min": 5},
        stop_id="S1",
    )


def test_each_written_change_of_the_prediction_is_kept_in_order(
    clock: FakeClock, store: InMemoryAlertStore, service: AlertService
) -> None:
    kinds = [AlertKind.AT_RISK]
    service.reconcile([at_risk("09:40")], kinds)
    clock.advance(minutes(1).total_seconds())
    service.reconcile([at_risk("09:40")], kinds)  # same: not repeated
    clock.advance(minutes(1).total_seconds())
    service.reconcile([at_risk("09:47")], kinds)
    [alert] = store.list_alerts()
    assert alert.details["eta_history"] == [
        [T0.isoformat(), "09:40"],
        [(T0 + minutes(2)).isoformat(), "09:47"],
    ]
    assert alert.details["slack_min"] == 5


def test_the_history_is_capped(clock: FakeClock, store: InMemoryAlertStore) -> None:
    service = AlertService(store, clock)
    for i in range(ETA_HISTORY_MAX + 5):
        clock.advance(minutes(1).total_seconds())
        service.reconcile([at_risk(f"10:{i:02d}")], [AlertKind.AT_RISK])
    [alert] = store.list_alerts()
    history = alert.details["eta_history"]
    assert len(history) == ETA_HISTORY_MAX and history[-1][1] == f"10:{ETA_HISTORY_MAX + 4:02d}"
