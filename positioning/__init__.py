"""Pure computation from observations to positions and presence events.

Never reads the clock, the network or global state: time is the observations' time.
"""

from positioning.errors import LayoutError, PositioningError
from positioning.layout import Beacon, Layout, Obstacle, Zone, load_layout

__all__ = ["Beacon", "Layout", "LayoutError", "Obstacle", "PositioningError", "Zone", "load_layout"]
