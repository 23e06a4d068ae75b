"""Devices: who spoke, which of them are bound, what was rejected from each, and why.

:mod:`~dispatcher.devices.registry` keeps the live, bounded memory of it (fed from the MQTT
thread and the telemetry writer); :mod:`~dispatcher.devices.desk` binds and unbinds;
:mod:`~dispatcher.devices.registry_cli` is the ``dispatcher devices`` command line.
"""
