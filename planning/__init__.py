"""Planning a store's radios before they are bought and hung (``instore plan``).

From a layout alone: what it can deliver (the Cramér-Rao position bound per cell,
zone confusion, how well the door tells "just inside" from "just outside" and the
enter latency that follows), where up to N added beacons or receivers help most
within declared mounting rules, and the proposed layout.

Sits beside ``sim`` and ``analytics``: may import ``beacons``, ``positioning``,
``sim`` (radio parameters) and ``analytics`` (the floor plan); ``positioning``
never imports it.
"""
