"""Radio facts: observations, advertisement formats, scanners and sources.

Everything downstream sees :class:`~beacons.observation.Observation` and never a
platform type; only ``beacons.scanner`` and its fake
radio ``beacons.fakeradio`` import bleak.
"""

from beacons.errors import BeaconsError
from beacons.observation import Observation, ObservationBatch

__all__ = ["BeaconsError", "Observation", "ObservationBatch"]
