"""The driver's side (issue 20): paired phones, run sheet, proof of delivery, messages.

No Qt here; storage lives in :mod:`dispatcher.persistence.driver_repo`; the web routes of
the driver app are in :mod:`dispatcher.driver.web`. See docs/driver.md.
"""
