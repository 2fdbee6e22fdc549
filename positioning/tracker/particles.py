"""Particle-filter math as pure functions, vectorised over devices x particles.

Arrays carry a leading device axis M and a particle axis N: positions (M, N, 2),
velocities (M, N, 2), a motion mode (M, N) bool (True = standing still), weights
(M, N). The measurement model is :mod:`positioning.tracker.likelihood`. The stateful :class:`positioning.tracker.filter.ParticleTracker` only strings these together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage, special

from positioning.tracker.radiomap import HEADING_SECTORS
from positioning.walkable import WalkableGrid

__all__ = [
    "FloatLike",
    "FloorMap",
    "MotionParams",
    "U8",
    "jump_across_front",
    "moves_are_free",
    "normal_draws",
    "normalise_log_weights",
    "path_is_free",
    "predict",
    "switch_probability",
    "systematic_picks",
    "systematic_resample",
    "weighted_mean",
    "weighted_mean_and_sigma",
]


F32 = npt.NDArray[np.float32]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatLike = npt.NDArray[np.floating]
U8 = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class MotionParams:
    """Two-mode pedestrian motion: standing (tiny jitter) or walking (Ornstein-Uhlenbeck velocity).

    Shoppers alternate between browsing still and walking at 0.5-1.5 m/s (pedestrian
    speeds: Bohannon, Age and Ageing 26(1), 1997, comfortable gait 1.3-1.5 m/s; shop
    browsing is slower). The two modes let long stationary spells integrate many
    readings while walking stays responsive. Walkers relax towards a preferred speed
    along their heading (the driving term of the social-force model, Helbing & Molnar,
    Phys. Rev. E 51(5), 1995, desired speed 1.34 +- 0.26 m/s); 0 turns it off and
    leaves the zero-mean velocity process, whose walkers are too slow.

    Mode durations are semi-Markov: a mixture of short spells (the rates above) and,
    with prior weight ``long_walk_fraction`` / ``long_stop_fraction``, long ones (a walked
    track, a staff post). The chance to switch then depends on how long the device has
    been in its mode: a walk that has lasted a minute is most likely a long one, and is
    unlikely to stop in the next second (see :func:`switch_probability`). Fractions 0
    give the memoryless two-state chain; the default ``long_walk_fraction`` 0.1 with
    ``walk_to_still_per_s`` 0.11 keeps a fresh walk's stop rate at 0.1/s and follows
    walked tracks (docs/positioning.md, "Plain data").
    """

    walk_speed_sigma_m_s: float = 0.7  # stationary spread of each velocity component
    velocity_time_constant_s: float = 2.0  # how long a walking direction persists
    max_speed_m_s: float = 2.0  # brisk walk; faster moves are not shoppers
    still_jitter_m_s: float = 0.05  # sway of a standing person, m per sqrt(s)
    still_to_walk_per_s: float = 0.1  # a stop lasts ~10 s on average
    walk_to_still_per_s: float = 0.11  # short walks: ~10 s between stops (see long walks)
    still_turn_per_s: float = 0.1  # a browsing shopper turns to another shelf every ~10 s
    preferred_speed_m_s: float = 1.3  # walkers relax towards it (Helbing & Molnar: 1.34 m/s)
    long_walk_fraction: float = 0.1  # prior weight of walks that go on (walked tracks)
    long_walk_to_still_per_s: float = 0.01  # such a walk lasts ~100 s between stops
    long_stop_fraction: float = 0.0  # prior weight of stops that go on (posts, recordings)
    long_still_to_walk_per_s: float = 0.01  # such a stop lasts ~100 s


@dataclass(frozen=True, slots=True)
class FloorMap:
    """The walkable grid flattened for fast lookups by the particle code.

    ``free`` (cells,) walkable flags; ``radius_m`` (cells,) how far any point of the
    cell is from the nearest blocked cell or the grid's edge: a move shorter than
    that cannot touch an obstacle, so only moves near obstacles need a path check.
    """

    free: BoolArray
    radius_m: npt.NDArray[np.float32]
    origin_m: tuple[float, float]
    resolution_m: float
    nx: int
    ny: int

    @classmethod
    def from_grid(cls, grid: WalkableGrid) -> FloorMap:
        ny, nx = grid.free.shape
        r = grid.resolution_m
        padded = np.pad(grid.free, 1, constant_values=False)
        cells = ndimage.distance_transform_edt(padded)[1:-1, 1:-1]
        # centre-to-centre distance, minus half a blocked cell and half a diagonal of ours
        radius = np.maximum(cells * r - r * (0.5 + np.sqrt(0.5)), 0.0)
        return cls(
            grid.free.ravel().copy(),
            radius.astype(np.float32).ravel(),
            grid.origin_m,
            r,
            nx,
            ny,
        )

    def cell_xy(self, x: FloatLike, y: FloatLike) -> tuple[npt.NDArray[np.int32], BoolArray]:
        """Flat cell index of points (clipped to the grid) and whether they lie on it."""
        # np.asarray: a single point's scalars become arrays the steps below can write into
        fx = np.asarray((x - np.float32(self.origin_m[0])) * np.float32(1.0 / self.resolution_m))
        fy = np.asarray((y - np.float32(self.origin_m[1])) * np.float32(1.0 / self.resolution_m))
        inside = fx >= 0
        inside &= fy >= 0
        inside &= fx < self.nx
        inside &= fy < self.ny
        # np.minimum/np.maximum in place: np.clip's Python wrapper costs more than the work
        np.maximum(fx, np.float32(0), out=fx)
        np.minimum(fx, np.float32(self.nx - 1), out=fx)
        np.maximum(fy, np.float32(0), out=fy)
        np.minimum(fy, np.float32(self.ny - 1), out=fy)
        iy = fy.astype(np.int32)
        iy *= np.int32(self.nx)
        iy += fx.astype(np.int32)
        return iy, inside

    def cell_index(self, points: F32) -> npt.NDArray[np.int32]:
        """Flat cell index of (..., 2) points (clipped to the grid), without the on-grid
        test of :meth:`cell` (the path-loss lookups do not need it)."""
        return self.cell_index_xy(points[..., 0], points[..., 1])

    def cell_index_xy(self, x: FloatLike, y: FloatLike) -> npt.NDArray[np.int32]:
        """:meth:`cell_index` of points given as x and y planes (the same arithmetic as
        :meth:`cell_xy`, in place)."""
        fx = (x - np.float32(self.origin_m[0])) * np.float32(1.0 / self.resolution_m)
        fy = (y - np.float32(self.origin_m[1])) * np.float32(1.0 / self.resolution_m)
        np.maximum(fx, np.float32(0), out=fx)
        np.minimum(fx, np.float32(self.nx - 1), out=fx)
        np.maximum(fy, np.float32(0), out=fy)
        np.minimum(fy, np.float32(self.ny - 1), out=fy)
        iy = fy.astype(np.int32)
        iy *= np.int32(self.nx)
        iy += fx.astype(np.int32)
        return iy

    def cell(self, points: F32) -> tuple[npt.NDArray[np.int32], BoolArray]:
        """Flat cell index of (..., 2) points (clipped) and whether they lie on the grid."""
        return self.cell_xy(points[..., 0], points[..., 1])

    def is_free_xy(self, x: FloatLike, y: FloatLike) -> BoolArray:
        cell, inside = self.cell_xy(x, y)
        return np.asarray(inside & np.take(self.free, cell))

    def is_free(self, points: F32) -> BoolArray:
        """Walkable test of (..., 2) points (outside the grid is blocked)."""
        return self.is_free_xy(points[..., 0], points[..., 1])


#: Standard normal quantiles at 65,536 equally likely levels: a lookup with 16-bit random
#: integers is 4x faster than ``standard_normal`` and fine for motion noise.
_NORMAL_TABLE = special.ndtri((np.arange(1 << 16) + 0.5) / (1 << 16)).astype(np.float32)


def normal_draws(rng: np.random.Generator, shape: tuple[int, ...]) -> F32:
    """Standard normal float32 draws, quantised to 65,536 levels."""
    levels = rng.integers(0, 1 << 16, shape, dtype=np.uint16)
    # np.take with intp indices (in range: "clip" changes none): 2-3x faster than indexing
    return np.take(_NORMAL_TABLE, levels.astype(np.intp), mode="clip")


def predict(
    pos: F32,
    vel: F32,
    still: BoolArray,
    heading: U8,
    dt_s: FloatArray,
    floor: FloorMap,
    rng: np.random.Generator,
    params: MotionParams,
    mode_age_s: FloatLike | None = None,
) -> tuple[F32, F32, BoolArray, U8]:
    """Move (M, N, 2) particles by ``dt_s`` (M,) seconds; moves into or through blocked cells
    are refused (the particle stays, with zero velocity).

    ``mode_age_s`` (M, 2): seconds each device has been walking (column 0) and standing
    (1) so far, 0 in the other mode; particles switch mode by :func:`switch_probability`
    for their mode's age (without it, as if every spell had just begun).

    The velocity follows an Ornstein-Uhlenbeck process, discretised exactly for any
    dt; standing particles only sway and keep their heading (a 45-degree sector),
    walking ones face where they go. Works on x and y planes separately: numpy is
    slow on a trailing axis of length 2.
    """
    m, n = still.shape
    dt = dt_s.astype(np.float32)[:, None]
    u = rng.random((m, n), dtype=np.float32)
    ages = np.zeros((m, 2), np.float32) if mode_age_s is None else mode_age_s
    p_switch = switch_probability(ages, dt, params)
    still = still ^ (u < np.where(still, p_switch[:, 1:2], p_switch[:, 0:1]))
    walking = (~still).astype(np.float32)
    a = np.exp(-dt / np.float32(params.velocity_time_constant_s))
    kick = np.sqrt(1.0 - a * a) * np.float32(params.walk_speed_sigma_m_s)
    noise = normal_draws(rng, (2, m, n))
    # below, in place where it can be: the same float32 operations in the same order as
    # vel * a + noise * kick, min(vmax / sqrt(max(|v|^2, 1e-12)), 1), x0 + where(...)
    vx = vel[..., 0] * a
    vx += noise[0] * kick
    vy = vel[..., 1] * a
    vy += noise[1] * kick
    if params.preferred_speed_m_s > 0:
        vx, vy = _drive(vel, vx, vy, noise, a, np.float32(params.preferred_speed_m_s))
    scale = vx * vx
    scale += vy * vy
    np.maximum(scale, np.float32(1e-12), out=scale)
    np.sqrt(scale, out=scale)
    np.divide(np.float32(params.max_speed_m_s), scale, out=scale)
    np.minimum(scale, np.float32(1.0), out=scale)
    scale *= walking
    vx *= scale
    vy *= scale
    jitter = np.float32(params.still_jitter_m_s) * np.sqrt(dt)
    x0, y0 = pos[..., 0], pos[..., 1]
    x1 = vx * dt
    np.copyto(x1, np.multiply(noise[0], jitter, out=noise[0]), where=still)
    x1 += x0
    y1 = vy * dt
    np.copyto(y1, np.multiply(noise[1], jitter, out=noise[1]), where=still)
    y1 += y0
    ok = moves_are_free(x0, y0, x1, y1, floor)
    okf = ok.astype(np.float32)
    refused = ~ok
    np.copyto(x1, x0, where=refused)
    np.copyto(y1, y0, where=refused)
    out_pos = np.empty_like(pos)
    out_pos[..., 0] = x1
    out_pos[..., 1] = y1
    out_vel = np.empty_like(vel)
    out_vel[..., 0] = vx * okf
    out_vel[..., 1] = vy * okf
    return out_pos, out_vel, still, _headings(heading, still, vx, vy, dt, rng, params)


def switch_probability(mode_age_s: F32, dt_s: F32, params: MotionParams) -> F32:
    """(M, 2) probability that a walking (column 0) or standing (1) particle of each device
    switches mode within ``dt_s`` (M, 1) seconds, the device's walk or stop having lasted
    ``mode_age_s`` (M, 2) seconds.

    A spell is short (rate r_s) or, with prior weight pi, long (rate r_l); its survival is
    S(a) = (1 - pi) exp(-r_s a) + pi exp(-r_l a). Given survival to age a, the spell is
    short with probability q = (1 - pi) exp(-r_s a) / S(a), and ends within dt with
    probability 1 - q exp(-r_s dt) - (1 - q) exp(-r_l dt): exact for any dt, and the
    hazard falls from (1 - pi) r_s + pi r_l to r_l as the spell lasts (a mixture of
    exponentials).
    """
    short = np.array([params.walk_to_still_per_s, params.still_to_walk_per_s], np.float32)
    long = np.array([params.long_walk_to_still_per_s, params.long_still_to_walk_per_s], np.float32)
    frac = np.array([params.long_walk_fraction, params.long_stop_fraction], np.float32)
    # odds long:short at age a = pi / (1 - pi) * exp((r_s - r_l) a), capped against overflow
    growth = np.exp(np.minimum((short - long) * mode_age_s.astype(np.float32), np.float32(60.0)))
    q = np.float32(1.0) / (np.float32(1.0) + frac / np.maximum(1.0 - frac, 1e-6) * growth)
    stay = q * np.exp(-short * dt_s) + (np.float32(1.0) - q) * np.exp(-long * dt_s)
    return np.asarray(np.float32(1.0) - stay, dtype=np.float32)


def _drive(vel: F32, vx: F32, vy: F32, noise: F32, a: F32, speed: np.float32) -> tuple[F32, F32]:
    """Add the driving term (1 - a) v0 e towards preferred speed v0 along heading e (see
    MotionParams); a particle just starting to walk takes its noise's direction."""
    ex, ey = vel[..., 0], vel[..., 1]
    # in place on few buffers, the same float32 operations in the same order
    norm = ex * ex
    norm += ey * ey
    slow = norm < np.float32(1e-4)
    ex = np.where(slow, noise[0], ex)
    ey = np.where(slow, noise[1], ey)
    np.multiply(ex, ex, out=norm)
    norm += ey * ey
    np.maximum(norm, np.float32(1e-12), out=norm)
    np.sqrt(norm, out=norm)
    push = np.divide((np.float32(1.0) - a) * speed, norm, out=norm)
    vx += np.multiply(push, ex, out=ex)
    vy += np.multiply(push, ey, out=ey)
    return vx, vy


def _headings(
    heading: U8,
    still: BoolArray,
    vx: F32,
    vy: F32,
    dt: F32,
    rng: np.random.Generator,
    params: MotionParams,
) -> U8:
    """Walkers face where they go; standing particles turn to a random sector now and then.
    Each sector is computed only for the particles that take it: arctan2 for the walkers,
    a new sector for the standing ones that turn (a tenth a second)."""
    v = rng.random(still.shape, dtype=np.float32)
    p_turn = np.float32(1.0) - np.exp(-np.float32(params.still_turn_per_s) * dt)
    out = heading.copy()
    flat = out.reshape(-1)  # a view: flat indices and np.take are ~7x faster than masks
    turn = np.flatnonzero(still & (v < p_turn))
    # a turning particle's new sector comes from the same draw, rescaled to [0, 1)
    rate = np.take(np.maximum(p_turn, np.float32(1e-6))[:, 0], turn // still.shape[1])
    spun = (np.take(v, turn) / rate * HEADING_SECTORS).astype(np.int32)
    flat[turn] = np.minimum(spun, HEADING_SECTORS - 1).astype(np.uint8)
    walk = np.flatnonzero(~still)
    sector = np.float32(HEADING_SECTORS / (2.0 * np.pi))
    facing = np.arctan2(np.take(vy, walk), np.take(vx, walk))
    flat[walk] = (np.rint(facing * sector).astype(np.int16) % HEADING_SECTORS).astype(np.uint8)
    return out


def jump_across_front(
    pos: F32,
    vel: F32,
    dt_s: FloatArray,
    front: tuple[int, float],
    rate_per_s: float,
    floor: FloorMap,
    rng: np.random.Generator,
) -> F32:
    """A few of the (M, N, 2) particles move to their mirror image across the shop front.

    ``front`` is (axis, coordinate) of the front line (axis -1: none). Just behind the
    glass and just in front of it look alike to the radio (the glass costs ~3 dB), and
    the wall lets a walker cross only at the entrance, so a cloud on the wrong side
    could never come back. This move, at ``rate_per_s`` per particle, keeps the other
    side's hypothesis alive; the likelihood and the street prior decide. Jumpers stop
    (``vel`` is zeroed in place).
    """
    axis, line = front
    if axis < 0 or rate_per_s <= 0:
        return pos
    p_jump = (1.0 - np.exp(-rate_per_s * dt_s)).astype(np.float32)
    jump = rng.random(pos.shape[:2], dtype=np.float32) < p_jump[:, None]
    if not jump.any():
        return pos
    # only the jumpers (about one particle in a hundred a second) are mirrored and tested,
    # found by index (boolean masks over all (M, N) particles cost ~7x more)
    rows, cols = np.divmod(np.flatnonzero(jump), pos.shape[1])
    mirrored = pos[rows, cols]
    mirrored[:, axis] = np.float32(2.0 * line) - mirrored[:, axis]
    free = floor.is_free(mirrored)
    rows, cols = rows[free], cols[free]
    vel[rows, cols] = 0.0
    out = pos.copy()
    out[rows, cols] = mirrored[free]
    return out


def moves_are_free(x0: F32, y0: F32, x1: F32, y1: F32, floor: FloorMap) -> BoolArray:
    """Whether straight moves (x0, y0) -> (x1, y1) stay on walkable cells.

    A move shorter than the free radius at its start is free without looking further;
    the others are sampled every 1.5 cells (thinner than any inflated obstacle).
    """
    dx, dy = x1 - x0, y1 - y0
    len2 = dx * dx + dy * dy
    ok = len2 < np.take(floor.radius_m, floor.cell_index_xy(x0, y0)) ** 2
    # flat indices and np.take: ~7x faster than boolean masks on (M, N) arrays
    hard = np.flatnonzero(~ok)
    if len(hard):
        ok.reshape(-1)[hard] = path_is_free(
            np.take(x0, hard), np.take(y0, hard), np.take(dx, hard), np.take(dy, hard), floor
        )
    return ok


def path_is_free(x: F32, y: F32, dx: F32, dy: F32, floor: FloorMap) -> BoolArray:
    """Whether moves from (x, y) by (dx, dy) (all (P,)) stay walkable, sampled every 1.5 cells.

    Each move gets as many samples as its own length needs; later rounds only look
    at the moves still being sampled.
    """
    length = np.sqrt(dx * dx + dy * dy)
    steps = np.maximum(np.ceil(length / np.float32(1.5 * floor.resolution_m)), 1.0)
    ok = floor.is_free_xy(x + dx, y + dy)
    live = np.flatnonzero(ok & (steps > 1))
    k = 1
    while len(live):
        f = np.float32(k) / steps[live]
        ok[live] = floor.is_free_xy(x[live] + f * dx[live], y[live] + f * dy[live])
        k += 1
        live = live[ok[live] & (steps[live] > k)]
    return ok


def systematic_resample(weights: F32, rng: np.random.Generator) -> IntArray:
    """Systematic resampling per device: (M, N) normalised weights -> (M, N) particle indices.

    With one offset r per device the draws are u_i = (r + i) / N, so particle j is
    drawn ceil(N c_j - r) - ceil(N c_(j-1) - r) times (c: cumulative weights): counts
    in O(M N), then one ``repeat``, instead of a search per draw.
    """
    m, n = weights.shape
    below = _draws_below(weights, rng)
    counts = np.diff(below, axis=1, prepend=0)  # each row sums to n: below[:, -1] == n
    return np.repeat(np.tile(np.arange(n), m), counts.ravel()).reshape(m, n)


def systematic_picks(weights: F32, rng: np.random.Generator, draws: IntArray) -> IntArray:
    """``systematic_resample(weights, rng)[:, draws]`` (the same random draw), found by a
    search per kept draw: the start grid keeps 128 of its ~2,200 draws per device."""
    m, n = weights.shape
    cum = np.cumsum(weights.astype(np.float64), axis=1)
    cum[:, -1] = 1.0
    edge = cum * n - rng.random((m, 1))  # the arithmetic of _draws_below, before its ceil
    # draw j (an integer in [0, n)) goes to the first particle whose clipped ceil(edge)
    # exceeds j, that is whose edge exceeds j: a search per row (a search over all rows
    # lifted apart would round the edges)
    return np.stack([np.searchsorted(row, draws, "right") for row in edge])


def _draws_below(weights: F32, rng: np.random.Generator) -> IntArray:
    """(M, N) how many of the N systematic draws fall below each cumulative weight."""
    m, n = weights.shape
    cum = np.cumsum(weights.astype(np.float64), axis=1)
    cum[:, -1] = 1.0
    return np.clip(np.ceil(cum * n - rng.random((m, 1))), 0, n).astype(np.int64)


def normalise_log_weights(logw: F32) -> tuple[F32, FloatArray]:
    """(M, N) log weights -> normalised weights and the log of each row's mean likelihood."""
    top = logw.max(axis=1, keepdims=True)
    w = np.exp(logw - top)
    total = w.sum(axis=1, keepdims=True)
    mean_log = (np.log(total[:, 0] / logw.shape[1]) + top[:, 0]).astype(np.float64)
    return (w / total).astype(np.float32), mean_log


def weighted_mean(pos: F32, weights: F32) -> FloatArray:
    """Posterior mean (M, 2) of weighted particles (the mean of :func:`weighted_mean_and_sigma`)."""
    return np.matmul(weights[:, None, :], pos)[:, 0, :].astype(np.float64)


def weighted_mean_and_sigma(pos: F32, weights: F32) -> tuple[FloatArray, FloatArray]:
    """Posterior mean (M, 2) and 1-sigma radius sqrt(var_x + var_y) (M,) of weighted particles
    (batched (1, N) @ (N, 2) products: several times faster than einsum here)."""
    rows = weights[:, None, :]
    mean = weighted_mean(pos, weights)
    second = np.matmul(rows, pos * pos)[:, 0, :].sum(axis=1, dtype=np.float64)
    var = second - np.einsum("mi,mi->m", mean, mean)
    return mean, np.sqrt(np.maximum(var, 0.0))
