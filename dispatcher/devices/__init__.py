"""Devices that speak to the console: phones and trackers, their bindings, broker credentials,
and what was rejected from each.

:mod:`~dispatcher.devices.registry` keeps the live, bounded memory of who spoke (fed from the
MQTT thread and the telemetry writer); :mod:`~dispatcher.devices.desk` binds and unbinds;
:mod:`~dispatcher.devices.credentials` gives each phone its broker login;
:mod:`~dispatcher.devices.cli` and :mod:`~dispatcher.devices.registry_cli` are the
``dispatcher devices`` command line.
"""
