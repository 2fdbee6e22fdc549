"""Pure computation from observations to positions and presence events.

Never reads the clock, the network or global state: time is the observations' time.

The store model (used by every package above this one):
    layout          the layout TOML contract: outline, entrance, zones, obstacles, beacons
    geometry        polygons and segments; walkable (the floor grid with the street);
    zonemap         the zone rasters (the engine's ZoneIndex, the simulator's exact ZoneLookup)
Signal and radio:   signal (windows of RSSI), pathloss, calibration (explicit, at known
                    points), crb (the Cramer-Rao bound)
Locators:           locator (the Locator protocol, PositionFix), baselines (nearest,
                    centroid, wls), registry (every locator by name, typed configurations),
                    tracker/ (the particle filter and everything only it uses)
Visits:             visits/ (store, zones, dwell, machine: fixes -> intervals of one device)
The engine:         engine (observations -> positions and events), events (the CloudEvent
                    presence events), positions (the positions table)
Measuring:          metrics (accuracy against the simulator's truth)
Errors:             errors (the tree, drawn there)

Layout stays here rather than in a package of its own below: the layering is already one
way (beacons -> positioning -> sim/analytics -> presence, nothing imports back up), and
what the simulator takes from positioning is the whole store model (layout, geometry,
walkable, zonemap), so moving layout.py alone would remove no dependency. Moving the store
model as a whole to a bottom package is the honest version, for a quiet moment: it
changes the imports of ~95 files in every package.
"""

from positioning.errors import LayoutError, PositioningError
from positioning.layout import Beacon, Layout, Obstacle, Zone, load_layout

__all__ = ["Beacon", "Layout", "LayoutError", "Obstacle", "PositioningError", "Zone", "load_layout"]
