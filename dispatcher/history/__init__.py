"""Position history at scale: thinning, retention, replay and proof of visit.

Plain Python over :mod:`dispatcher.persistence.history_repo` (the SQL side); no Qt here.
"""
