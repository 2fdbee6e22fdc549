"""Piecewise-linear trajectories of many agents, sampled at any times in one vectorised call.

An agent's path is a list of knots (t, x, y), non-decreasing in t; between knots it
moves in a straight line at constant speed, and two knots at the same place are a
stop. All agents' knots live in flat arrays; a sample (agent a, time t) is found by
one ``searchsorted`` on the key ``a * KEY_SPAN_S + (t - t0)``, which is sorted
because every agent's knots are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["FloatArray", "IntArray", "Stop", "Trajectories", "Walker"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Stop:
    """The agent stood at (x_m, y_m) from start_t to end_t (a planned stop)."""

    start_t: float
    end_t: float
    x_m: float
    y_m: float
    label: str  # product | fitting | queue | till | staff


class Walker:
    """Builds one agent's knots: walk along polylines at a speed, stand for a while."""

    def __init__(self, t0: float, xy: FloatArray, speed_mps: float, rng: np.random.Generator):
        self.t = t0
        self.xy = np.asarray(xy, dtype=np.float64)
        self.speed = speed_mps
        self.rng = rng
        self.knots: list[tuple[float, float, float, float]] = []
        self.stops: list[Stop] = []
        self.node: int | None = None  # route-graph node where it stands, when known
        self._heading = 0.0
        self._add(self._heading)

    def _add(self, heading: float) -> None:
        self.knots.append((self.t, float(self.xy[0]), float(self.xy[1]), heading))

    def walk(self, polyline: FloatArray, speed_factor: float = 1.0) -> None:
        """Follow a polyline that starts where the walker stands."""
        v = self.speed * speed_factor
        for p in polyline[1:]:
            d = float(np.hypot(*(p - self.xy)))
            if d < 1e-9:
                continue
            self._heading = float(np.arctan2(p[1] - self.xy[1], p[0] - self.xy[0]))
            self.knots[-1] = self.knots[-1][:3] + (self._heading,)
            self.t += d / v
            self.xy = np.asarray(p, dtype=np.float64)
            self._add(self._heading)

    def stay(self, duration_s: float, label: str) -> None:
        """Stand still, turned towards the goods (a random heading)."""
        if duration_s <= 0:
            return
        facing = float(self.rng.uniform(-np.pi, np.pi))
        self.knots[-1] = self.knots[-1][:3] + (facing,)
        start = self.t
        self.t += duration_s
        self._add(facing)
        self.stops.append(Stop(start, self.t, float(self.xy[0]), float(self.xy[1]), label))

    def arrays(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        k = np.asarray(self.knots, dtype=np.float64)
        return k[:, 0], k[:, 1], k[:, 2], k[:, 3]


@dataclass(frozen=True, slots=True)
class Trajectories:
    """Knots of all agents. ``offsets[a]:offsets[a+1]`` are agent a's knots.

    ``heading_rad[k]`` is the direction walked (or faced) from knot k to knot k+1.
    """

    t: FloatArray
    x: FloatArray
    y: FloatArray
    heading_rad: FloatArray
    offsets: IntArray
    t0: float
    key_span_s: float
    keys: FloatArray  # sorted search keys of the knots

    @classmethod
    def from_walkers(cls, walkers: list[Walker], t0: float) -> Trajectories:
        parts = [w.arrays() for w in walkers]
        lengths = np.asarray([len(p[0]) for p in parts], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        if parts:
            t, x, y, h = (np.concatenate([p[i] for p in parts]) for i in range(4))
        else:
            t = x = y = h = np.empty(0)
        span = float(t.max() - t0 + 1.0) if len(t) else 1.0
        agent = np.arange(len(parts), dtype=np.int64).repeat(lengths)
        return cls(t, x, y, h, offsets, t0, span, agent * span + (t - t0))

    @property
    def n_agents(self) -> int:
        return len(self.offsets) - 1

    @property
    def start_t(self) -> FloatArray:
        return self.t[self.offsets[:-1]]

    @property
    def end_t(self) -> FloatArray:
        return self.t[self.offsets[1:] - 1]

    def _key(self, agent: IntArray, t: FloatArray) -> FloatArray:
        return np.asarray(agent * self.key_span_s + (t - self.t0), dtype=np.float64)

    def sample(self, agent: IntArray, t: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Positions (M, 2) and headings (M,) of agents at times (clamped to their span)."""
        k = np.searchsorted(self.keys, self._key(agent, t), side="right") - 1
        lo, hi = self.offsets[agent], self.offsets[agent + 1] - 2
        k = np.clip(k, lo, np.maximum(hi, lo))
        k1 = np.minimum(k + 1, self.offsets[agent + 1] - 1)
        dt = self.t[k1] - self.t[k]
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.where(dt > 0, (t - self.t[k]) / dt, 0.0)
        w = np.clip(w, 0.0, 1.0)
        x = self.x[k] + w * (self.x[k1] - self.x[k])
        y = self.y[k] + w * (self.y[k1] - self.y[k])
        return np.column_stack([x, y]), self.heading_rad[k]
