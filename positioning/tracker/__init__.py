"""The tracker family: a particle filter per device and everything only it uses.

- ``filter``: :class:`~positioning.tracker.filter.ParticleTracker`, the locator ``tracker``
- ``params``: :class:`~positioning.tracker.params.TrackerParams`, every knob, cited
- ``particles``: the pedestrian motion model on the walkable floor, resampling
- ``state``: per-device particle state, packed readings, start points
- ``radio``: the measurement side (radio maps, self-calibration, likelihood of readings)
- ``likelihood``: log p(RSSI | particle), Student-t with the gain offset profiled out
- ``radiomap``: path loss per beacon, floor cell and heading
- ``radiolearn``: a correction of the radio map learned from walkers' fixes
- ``selfcal``, ``radiofit``: the online robust fit of exponent and offsets
- ``detection``: the receiver floor and miss rate (censored readings)
- ``shopfront``: the shop-front rules and ``p_inside``
- ``zone_posterior``: ``p_zone``, the posterior of the zone a fix lies in

Nothing here imports :mod:`positioning.registry` or the engine; they import it.
"""
