"""Supervisor figures: on-time %, first-attempt success, OTIF, planned vs done, the timeline.

Plain series computed from plain records (:mod:`dispatcher.model.kpi`); the definitions are
in :mod:`dispatcher.kpi.definitions` and docs/kpi.md. The UI draws them and never computes a
figure itself.
"""
