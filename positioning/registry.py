"""Every locator by name, each with a typed configuration.

A configuration is a frozen dataclass per locator (:class:`NearestConfig`,
:class:`CentroidConfig`, :class:`WlsConfig`, :class:`TrackerConfig`);
:func:`build_locator` turns one into a :class:`~positioning.locator.Locator`.
:func:`locator_config` reads a name and loose keyword inputs (a CLI flag, a TOML
table) into the typed configuration and says which name was wrong;
:func:`make_locator` does both.

To add a locator: write its class (``observe``/``estimate``/``forget``), give it a
configuration dataclass with a ``name``, and add both to :data:`CONFIGS` and
:func:`build_locator`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from positioning.baselines import (
    CENTROID_TOP_K,
    CENTROID_WEIGHT_EXPONENT,
    CentroidLocator,
    NearestBeaconLocator,
    WlsLocator,
)
from positioning.errors import PositioningError
from positioning.layout import Layout
from positioning.locator import Locator
from positioning.pathloss import DEFAULT_SIGMA_DB
from positioning.signal import DEFAULT_WINDOW_S
from positioning.tracker.filter import ParticleTracker
from positioning.tracker.params import TrackerParams, tracker_params
from positioning.tracker.selfcal import RadioCalibration

__all__ = [
    "CONFIGS",
    "LOCATOR_NAMES",
    "CentroidConfig",
    "LocatorConfig",
    "NearestConfig",
    "TrackerConfig",
    "WlsConfig",
    "build_locator",
    "locator_config",
    "make_locator",
]


@dataclass(frozen=True, slots=True)
class NearestConfig:
    """:class:`~positioning.baselines.NearestBeaconLocator`."""

    name: ClassVar[str] = "nearest"
    window_s: float = DEFAULT_WINDOW_S  # sliding RSSI window, s (positioning.signal)


@dataclass(frozen=True, slots=True)
class CentroidConfig:
    """:class:`~positioning.baselines.CentroidLocator`."""

    name: ClassVar[str] = "centroid"
    window_s: float = DEFAULT_WINDOW_S  # sliding RSSI window, s (positioning.signal)
    top_k: int = CENTROID_TOP_K  # strongest beacons averaged (Blumenthal et al. 2007)
    weight_exponent: float = CENTROID_WEIGHT_EXPONENT  # g in w = d^-g (ibid.)


@dataclass(frozen=True, slots=True)
class WlsConfig:
    """:class:`~positioning.baselines.WlsLocator`."""

    name: ClassVar[str] = "wls"
    window_s: float = DEFAULT_WINDOW_S  # sliding RSSI window, s (positioning.signal)
    sigma_db: float = DEFAULT_SIGMA_DB  # RSSI spread for the fix's radius, dB (pathloss)


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """:class:`~positioning.tracker.filter.ParticleTracker`: its parameters and, optionally, an
    explicit radio calibration to start from."""

    name: ClassVar[str] = "tracker"
    params: TrackerParams = field(default_factory=TrackerParams)
    calibration: RadioCalibration | None = field(default=None, compare=False)


LocatorConfig = NearestConfig | CentroidConfig | WlsConfig | TrackerConfig

#: Configuration class of each locator name.
CONFIGS: dict[str, type[NearestConfig | CentroidConfig | WlsConfig]] = {
    "nearest": NearestConfig,
    "centroid": CentroidConfig,
    "wls": WlsConfig,
}
LOCATOR_NAMES = ("nearest", "centroid", "wls", "tracker")


def locator_config(name: str, **params: Any) -> LocatorConfig:
    """The typed configuration of locator ``name`` from keyword inputs (its fields; for
    the tracker, any :class:`TrackerParams` field, ``params`` and ``calibration``). Unknown names
    and parameters raise PositioningError."""
    if name == "tracker":
        calibration = params.pop("calibration", None)
        base = params.pop("params", None)
        try:
            return TrackerConfig(tracker_params(base, **params), calibration)
        except TypeError as e:
            raise PositioningError(f"locator 'tracker': bad parameter: {e}") from e
    if name not in CONFIGS:
        raise PositioningError(
            f"unknown locator {name!r}; choose one of {', '.join(LOCATOR_NAMES)}"
        )
    cls = CONFIGS[name]
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise PositioningError(
            f"locator {name!r}: bad parameter(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    return cls(**params)


def build_locator(config: LocatorConfig, layout: Layout, *, seed: int = 0) -> Locator:
    """The locator a configuration describes, for ``layout``, seeded."""
    if isinstance(config, NearestConfig):
        return NearestBeaconLocator(layout, seed=seed, window_s=config.window_s)
    if isinstance(config, CentroidConfig):
        return CentroidLocator(
            layout,
            seed=seed,
            window_s=config.window_s,
            top_k=config.top_k,
            weight_exponent=config.weight_exponent,
        )
    if isinstance(config, WlsConfig):
        return WlsLocator(layout, seed=seed, window_s=config.window_s, sigma_db=config.sigma_db)
    return ParticleTracker(layout, seed=seed, params=config.params, calibration=config.calibration)


def make_locator(name: str, layout: Layout, *, seed: int = 0, **params: Any) -> Locator:
    """A locator by name (one of LOCATOR_NAMES); ``params`` are its configuration's fields."""
    return build_locator(locator_config(name, **params), layout, seed=seed)
