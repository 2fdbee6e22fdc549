"""A model-free guard on the tracker's fix (issue 16, item 2).

The tracker's fix rests on a radio model it partly learns from its own fixes, so where the
model does not hold the fix can sit in the wrong place and the model agree with it. A check
that needs no model: a device is nearer the radios it hears louder. The *rank agreement*
of a point is the share of pairs of heard radios whose order by mean RSSI is their order
by distance from the point (Kendall's concordance; 1: every louder radio is nearer). It
needs no exponent, no powers, no offsets; only the layout's positions and heights.

Each device keeps a running mean of the rank agreement of the tracker's fix and of the
model-free fix (the weighted centroid of the epoch), and of the model-free fix itself.
When the model-free fix agrees with the ranks better than the tracker's, steadily, the
reported fix moves towards the model-free one in proportion to the margin: the tracker
backs off where the data, read without its model, contradict it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["GuardParams", "blend_weight", "rank_agreement"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class GuardParams:
    """Knobs of the model-free guard; measurements in docs/positioning.md, "Issue 16"."""

    #: Margin of rank agreement (0-1) by which the model-free fix must beat the tracker's,
    #: on the running means, before the fix moves at all; 0.05 is one pair in twenty.
    margin: float = 0.05
    #: Further margin over which the fix moves all the way to the model-free one (0-1).
    span: float = 0.15
    #: Time constant of the running means, s: long enough that a walker's momentary
    #: disagreement does not count, short enough to follow a device to its next stop.
    tau_s: float = 30.0


def rank_agreement(
    xy_m: FloatArray,
    beacon_xy_m: FloatArray,
    beacon_h2_m2: FloatArray,
    rssi_dbm: FloatArray,
    heard: npt.NDArray[np.bool_],
) -> FloatArray:
    """(M,) share of pairs of heard radios ordered alike by RSSI and by distance from each
    point ``xy_m`` (M, 2); ``beacon_xy_m`` (M, K, 2) and ``beacon_h2_m2`` (M, K) the heard
    radios' positions and squared heights over the device, ``rssi_dbm`` and ``heard`` (M, K).
    Ties in RSSI count as half. NaN where fewer than two radios were heard."""
    d2 = np.sum((beacon_xy_m - xy_m[:, None, :]) ** 2, axis=2) + beacon_h2_m2
    louder = np.sign(rssi_dbm[:, :, None] - rssi_dbm[:, None, :])  # (M, K, K)
    nearer = np.sign(d2[:, None, :] - d2[:, :, None])
    pair = heard[:, :, None] & heard[:, None, :]
    pair &= np.triu(np.ones(pair.shape[1:], dtype=bool), 1)[None]
    agree = np.where(louder == 0, 0.5, (louder == nearer).astype(np.float64))
    n = pair.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.sum(agree * pair, axis=(1, 2)) / n, np.nan)


def blend_weight(tracker_run: FloatArray, free_run: FloatArray, params: GuardParams) -> FloatArray:
    """(M,) how far the reported fix moves to the model-free one (0-1), from the running
    rank agreements of the tracker's fix and of the model-free fix."""
    margin = np.nan_to_num(free_run - tracker_run) - params.margin
    return np.asarray(np.clip(margin / params.span, 0.0, 1.0))
