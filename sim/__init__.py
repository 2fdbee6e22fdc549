"""Foot-traffic simulator: shoppers, staff and passers-by, a radio model, ground truth, recording and replay."""

from sim.errors import SimError

__all__ = ["SimError"]
