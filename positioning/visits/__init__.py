"""The visit family: from position fixes to store, zone and dwell intervals of one device.

- ``store``: store presence (enter, exit, staff) from the depth past the shop front
- ``zones``: zone membership with hysteresis (a spatial margin and a time rule)
- ``dwell``: standing still in one zone for a named time
- ``machine``: one device's three machines reconciled into presence events

Named ``visits`` so as not to clash with the ``presence`` package (the services).
"""
