"""Static per-beacon loss maps: correlated shadowing plus obstacle attenuation, on a grid.

Both terms depend only on where the device stands, so they are rasterised once per
beacon and read back by bilinear interpolation: the hot loop never intersects
polygons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from positioning.geometry import count_crossed
from positioning.layout import Layout
from sim.params import RadioParams

__all__ = ["FloatArray", "LossMaps", "gaussian_field", "obstacle_loss_db", "shopfront_between"]

FloatArray = npt.NDArray[np.float64]


def gaussian_field(
    shape: tuple[int, int], step_m: float, corr_length_m: float, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """A zero-mean, unit-variance Gaussian random field with exponential correlation.

    corr(r) = exp(-r / corr_length_m) (Gudmundson 1991). Built by filtering white noise
    in the Fourier domain with the square root of the 2-D spectrum of that covariance,
    S(k) ~ (1 + (2 pi k L)^2)^(-3/2), on a grid padded by 3 L so the periodic FFT does
    not wrap correlation around the edges.
    """
    pad = int(np.ceil(3.0 * corr_length_m / step_m))
    ny, nx = shape[0] + 2 * pad, shape[1] + 2 * pad
    noise = rng.standard_normal((ny, nx))
    ky = np.fft.fftfreq(ny, d=step_m)[:, None]
    kx = np.fft.fftfreq(nx, d=step_m)[None, :]
    amp = (1.0 + (2.0 * np.pi * np.hypot(kx, ky) * corr_length_m) ** 2) ** -0.75
    amp /= np.sqrt(np.mean(amp**2))  # unit output variance in expectation
    half = amp[:, : nx // 2 + 1]  # rfft keeps the non-negative x frequencies
    field = np.fft.irfft2(np.fft.rfft2(noise) * half, s=(ny, nx))
    return np.asarray(field[pad : pad + shape[0], pad : pad + shape[1]], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class LossMaps:
    """loss_db[b, iy, ix]: dB lost to shadowing and obstacles at grid node (ix, iy).

    Node (ix, iy) sits at (x0 + ix*step, y0 + iy*step).
    """

    loss_db: npt.NDArray[np.float32]
    origin_m: tuple[float, float]
    step_m: float

    @classmethod
    def build(
        cls,
        layout: Layout,
        params: RadioParams,
        extent_m: tuple[float, float, float, float],
        rng: np.random.Generator,
    ) -> LossMaps:
        """Maps covering ``extent_m`` = (x0, y0, x1, y1) for every beacon of the layout."""
        x0, y0, x1, y1 = extent_m
        step = params.shadowing_grid_m
        nx = int(np.ceil((x1 - x0) / step)) + 2
        ny = int(np.ceil((y1 - y0) / step)) + 2
        gx, gy = np.meshgrid(x0 + np.arange(nx) * step, y0 + np.arange(ny) * step)
        nodes = np.column_stack([gx.ravel(), gy.ravel()])
        loss = np.empty((len(layout.beacons), ny, nx), dtype=np.float32)
        outside = (~layout.contains(nodes)).reshape(ny, nx)
        for b, xy in enumerate(layout.beacon_xy):
            shadow = params.shadowing_sigma_db * gaussian_field(
                (ny, nx), step, params.shadowing_corr_length_m, rng
            )
            obstacles = obstacle_loss_db(layout, params, xy, nodes).reshape(ny, nx)
            glass = shopfront_between(layout, xy, outside)
            loss[b] = shadow + obstacles + glass * params.shopfront_loss_db
        return cls(loss, (x0, y0), step)

    def sample(
        self, x_m: npt.NDArray[np.floating[Any]], y_m: npt.NDArray[np.floating[Any]]
    ) -> npt.NDArray[np.float32]:
        """(B, M) bilinear loss of beacon b at point (x_m[b, m], y_m[b, m]), clamped to the grid."""
        nb, ny, nx = self.loss_db.shape
        f32 = np.float32
        inv = f32(1.0 / self.step_m)
        fx = np.clip((x_m - f32(self.origin_m[0])) * inv, f32(0.0), f32(nx - 1.001))
        fy = np.clip((y_m - f32(self.origin_m[1])) * inv, f32(0.0), f32(ny - 1.001))
        ix, iy = fx.astype(np.intp), fy.astype(np.intp)
        wx, wy = (fx - ix).astype(f32), (fy - iy).astype(f32)
        flat = self.loss_db.reshape(-1)
        base = np.arange(nb, dtype=np.intp).reshape(-1, 1) * (ny * nx) + iy * nx + ix
        top = flat[base] * (1 - wx) + flat[base + 1] * wx
        bottom = flat[base + nx] * (1 - wx) + flat[base + nx + 1] * wx
        return np.asarray(top * (1 - wy) + bottom * wy, dtype=np.float32)


def shopfront_between(
    layout: Layout, radio_xy: FloatArray, outside: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """Whether the shop front stands between a radio and points (``outside``: the points
    outside the outline). The glass is crossed when the two are on different sides of
    it: a radio inside the store and a phone in the street, or a radio facing the
    street (ARCHITECTURE 3.1) and a phone on the floor."""
    radio_outside = not bool(layout.contains(radio_xy[None, :])[0])
    return np.asarray(outside != radio_outside)


def obstacle_loss_db(
    layout: Layout, params: RadioParams, beacon_xy: FloatArray, points: FloatArray
) -> FloatArray:
    """(N,) dB lost to obstacles crossed by the line of sight from the beacon to each point.

    Only segments whose bounding box overlaps an obstacle's are tested exactly.
    """
    loss = np.zeros(len(points))
    seg_lo = np.minimum(points, beacon_xy)
    seg_hi = np.maximum(points, beacon_xy)
    for obstacle in layout.obstacles:
        lo, hi = obstacle.polygon.min(axis=0), obstacle.polygon.max(axis=0)
        maybe = np.flatnonzero(((seg_lo <= hi) & (seg_hi >= lo)).all(axis=1))
        if len(maybe) == 0:
            continue
        origin = np.broadcast_to(beacon_xy, (len(maybe), 2))
        crossed = count_crossed(origin, points[maybe], [obstacle.polygon])
        loss[maybe] += crossed * params.obstacle_loss_db(obstacle.kind)
    return loss
