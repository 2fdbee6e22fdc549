"""Every parameter of the simulator, named, with its default and where the default comes from.

Three groups: :class:`RadioParams` (the channel, in dB), :class:`ScanParams` (who
transmits, who listens and how often) and :class:`CrowdParams` (people). A layout's
``[radio]`` table may override any :class:`RadioParams` field by name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from positioning.errors import LayoutError
from positioning.layout import Layout
from sim.errors import SimError

__all__ = [
    "CrowdParams",
    "PHONE_SCAN_DUTY",
    "RECEIVER_SCAN_DUTY",
    "RadioParams",
    "ScanParams",
    "SimConfig",
    "TOPOLOGIES",
    "apply_setting",
    "radio_from_layout",
]

TOPOLOGIES = ("phone", "receivers")
#: Scan duty cycles: Android SCAN_MODE_BALANCED listens 25 % of the time (AOSP ScanManager:
#: 1024 ms window per 4096 ms interval); ESP32/ESPresense receivers scan almost continuously.
PHONE_SCAN_DUTY = 0.25
RECEIVER_SCAN_DUTY = 0.95


@dataclass(frozen=True, slots=True)
class RadioParams:
    """The radio channel. Losses are positive dB subtracted from the received power."""

    #: Log-distance exponent. None: the layout's ``[radio] path_loss_exponent``.
    #: Retail/office BLE floors measure 1.8-3.0 (Faragher & Harle, "Location fingerprinting
    #: with Bluetooth Low Energy beacons", IEEE JSAC 33(11), 2015; Rappaport, Wireless
    #: Communications, 2nd ed., Table 4.2: 1.6-3.3 indoors).
    path_loss_exponent: float | None = None
    #: Spread of each beacon's true 1 m power around its declared ``tx_power``. Beacons of
    #: one model differ by a few dB (Kontakt.io / Estimote calibration notes: +-2-3 dB).
    beacon_power_sigma_db: float = 2.0
    #: Log-normal shadowing standard deviation. Indoor 2.4 GHz: 3-8 dB (Rappaport Table 4.2;
    #: Faragher & Harle 2015 report ~4-6 dB for BLE).
    shadowing_sigma_db: float = 4.0
    #: Distance at which the shadowing correlation falls to 1/e (exponential model of
    #: Gudmundson, Electronics Letters 27(23), 1991). Indoors a few metres.
    shadowing_corr_length_m: float = 3.0
    #: Grid step of the shadowing field (bilinear interpolation between nodes).
    shadowing_grid_m: float = 0.5
    #: Attenuation per obstacle crossed by the line of sight, by kind. ITU-R P.2040 and
    #: Rappaport Table 4.3 give 3-6 dB for drywall/light partitions at 2.4 GHz; stocked
    #: shelves and counters absorb more (water, fabric): 4-8 dB.
    shelf_loss_db: float = 5.0
    wall_loss_db: float = 4.0
    counter_loss_db: float = 4.0
    pillar_loss_db: float = 8.0
    #: The shop front between the street and the floor: float glass loses 2-4 dB at 2.4 GHz
    #: (ITU-R P.2040-1, Table 3 material constants; Rappaport Table 4.3).
    shopfront_loss_db: float = 3.0
    #: Extra loss when the carrier's body is between phone and beacon (beacon behind). Body
    #: shadowing at 2.4 GHz measures 5-15 dB (Faragher & Harle 2015; Dahlgren & Mahmood,
    #: "Evaluation of indoor positioning based on BLE", Chalmers 2014).
    body_loss_db: float = 7.0
    #: Rician K-factor of the per-packet fast fading. Indoor line of sight 0-6 dB (Rappaport
    #: 5.6.2); low K gives the occasional deep (-15 to -25 dB) fade seen in BLE traces.
    rician_k_db: float = 3.0
    #: Spread of the per-device RSSI offset: phone models read the same field up to ~10 dB
    #: apart (AltBeacon android-beacon-library model-distance-calculations table).
    device_offset_sigma_db: float = 3.0
    #: Height of a beacon without ``z`` (ceiling mount) and of the carried device.
    beacon_height_m: float = 2.7
    device_height_m: float = 1.2
    #: Minimum 3-D distance used in the log-distance law (near-field guard).
    min_distance_m: float = 0.5

    def obstacle_loss_db(self, kind: str) -> float:
        return float(getattr(self, f"{kind}_loss_db", self.shelf_loss_db))


@dataclass(frozen=True, slots=True)
class ScanParams:
    """Advertising and scanning. Defaults: a phone app scanning ceiling beacons."""

    #: How the store is instrumented: a phone hears fixed beacons ("phone") or fixed
    #: receivers hear the device ("receivers"; the log's beacon_id is the receiver id).
    topology: str = "phone"
    #: One report per heard radio per period: iOS ranging and typical Android apps deliver
    #: about 1 Hz per beacon.
    report_period_s: float = 1.0
    #: Advertising interval of the transmitter. None: the layout beacon's adv_interval_ms
    #: (phone topology) or ``device_adv_interval_ms`` (receivers topology).
    adv_interval_ms: float | None = None
    #: A phone app advertising in the foreground (receivers topology): 100-1000 ms.
    device_adv_interval_ms: float = 200.0
    #: Random advDelay added to every advertising event: 0-10 ms (Bluetooth Core 5.3,
    #: Vol 6 Part B 4.4.2.2.1).
    adv_jitter_max_ms: float = 10.0
    #: Fraction of time the receiver listens. None: by topology, PHONE_SCAN_DUTY or
    #: RECEIVER_SCAN_DUTY (see :meth:`resolved`).
    scan_duty_cycle: float | None = None
    #: Packets lost to collisions and Wi-Fi interference at 2.4 GHz: ~10 % in busy venues.
    packet_loss: float = 0.10
    #: Weakest packet the receiver decodes. Phones ~-95..-100 dBm, nRF52/ESP32 -96..-97 dBm.
    sensitivity_dbm: float = -96.0

    def resolved(self) -> ScanParams:
        """With the duty cycle filled in from the topology when not given."""
        if self.scan_duty_cycle is not None:
            return self
        duty = RECEIVER_SCAN_DUTY if self.topology == "receivers" else PHONE_SCAN_DUTY
        return dataclasses.replace(self, scan_duty_cycle=duty)

    @property
    def duty(self) -> float:
        return PHONE_SCAN_DUTY if self.scan_duty_cycle is None else self.scan_duty_cycle


@dataclass(frozen=True, slots=True)
class CrowdParams:
    """People: arrivals, personas, speeds, stops, checkout, passers-by and staff."""

    #: Share of shoppers and passers-by whose device is visible (app installed / tag carried).
    visible_share: float = 0.6
    #: Share of shoppers with the *functional* persona (short, 1-2 targets); the rest are
    #: *fun* shoppers browsing many zones (the two shopping motives of Babin, Darden &
    #: Griffin, J. Consumer Research 20(4), 1994: utilitarian vs hedonic).
    functional_share: float = 0.5
    #: Passers-by per shopper on the street. High-street conversion (entries / passers) is
    #: 10-30 % (footfall counters, e.g. Springboard); 3 passers per entering shopper ~ 25 %.
    passersby_per_shopper: float = 3.0
    #: Staff devices present all day, per 100 m2 of floor (fashion retail ~1 per 100-150 m2).
    staff_per_100m2: float = 1.0
    #: Walking speed, m/s: comfortable gait 1.2-1.4 m/s (Bohannon, Age Ageing 26, 1997);
    #: shoppers walk slower in aisles (~1.0 m/s, Larson, Bradlow & Fader, IJRM 22, 2005).
    walk_speed_mean_mps: float = 1.1
    walk_speed_sigma_mps: float = 0.2
    street_speed_mean_mps: float = 1.35
    #: Stops per visit: functional 1-2 targets; fun shoppers 4-8 zones with 1-3 stops each.
    functional_targets: tuple[int, int] = (1, 2)
    fun_zones: tuple[int, int] = (4, 8)
    fun_stops_per_zone: tuple[int, int] = (1, 3)
    #: Dwell at a product, lognormal median and log-sigma. Sorensen ("Inside the Mind of the
    #: Shopper", 2009) reports engagements of seconds to a minute per display; a functional
    #: shopper searches its target rack for size and colour, so stays longer at its one stop.
    functional_stop_median_s: float = 60.0
    fun_stop_median_s: float = 40.0
    stop_log_sigma: float = 0.7
    #: Fitting rooms: probability for a fun/functional shopper, session median ~5 min.
    fitting_prob_fun: float = 0.4
    fitting_prob_functional: float = 0.1
    fitting_median_s: float = 300.0
    fitting_log_sigma: float = 0.5
    #: Probability of buying (queue + pay at the checkout).
    buy_prob_functional: float = 0.7
    buy_prob_fun: float = 0.5
    #: Checkout: service time lognormal, number of tills serving a FIFO queue.
    checkout_median_s: float = 75.0
    checkout_log_sigma: float = 0.4
    checkout_servers: int = 2
    #: People waiting ahead at which a buyer gives up and leaves without paying: purchase
    #: probability falls with queue length (Lu, Musalem, Olivares & Schilkrut, "Measuring
    #: the effect of queues on customer purchases", Management Science 59(8), 2013).
    checkout_max_queue: int = 6
    #: Staff stops: long, at their zones (lognormal median 4 min).
    staff_stop_median_s: float = 240.0
    #: Arrival intensity by hour of day (UTC hours of ``--start``), relative: a high-street
    #: day with lunchtime and after-work peaks (footfall indices, e.g. Springboard UK).
    hourly_profile: tuple[float, ...] = (
        0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.4,  # 00-08
        0.6, 0.8, 1.0, 1.3, 1.3, 1.0, 0.9, 1.0, 1.2,  # 09-17
        1.3, 1.0, 0.7, 0.4, 0.2, 0.1,  # 18-23
    )  # fmt: skip
    #: Stop points drawn per zone (destinations shared by shoppers, so paths are cached).
    stops_per_zone: int = 8


@dataclass(frozen=True, slots=True)
class SimConfig:
    """One simulation run."""

    shoppers: int
    duration_s: float
    start_s: float
    seed: int
    radio: RadioParams = field(default_factory=RadioParams)
    scan: ScanParams = field(default_factory=ScanParams)
    crowd: CrowdParams = field(default_factory=CrowdParams)
    #: Ground-truth trajectory rate (>= 5 Hz asked by the accuracy harness).
    truth_rate_hz: float = 5.0
    #: Shortest-path grid: 0.25 m cells, 0.3 m body clearance, street 4 m deep.
    grid_resolution_m: float = 0.25
    clearance_m: float = 0.3
    street_depth_m: float = 4.0

    def validate(self) -> None:
        checks = [
            (self.shoppers >= 0, "shoppers", "must be >= 0"),
            (self.duration_s > 0, "duration", "must be positive"),
            (0.0 <= self.crowd.visible_share <= 1.0, "visible_share", "must be within 0..1"),
            (self.scan.topology in TOPOLOGIES, "topology", f"must be one of {TOPOLOGIES}"),
            (self.truth_rate_hz >= 5.0, "truth_rate_hz", "must be >= 5 Hz"),
            (0.0 < self.scan.duty <= 1.0, "scan_duty_cycle", "must be within (0, 1]"),
            (0.0 <= self.scan.packet_loss < 1.0, "packet_loss", "must be within [0, 1)"),
        ]
        for ok, name, message in checks:
            if not ok:
                raise SimError(f"simulation parameter {name}: {message}")


def radio_from_layout(layout: Layout, base: RadioParams | None = None) -> RadioParams:
    """``base`` with the layout's ``[radio]`` keys applied where ``base`` keeps the default.

    A bad value raises LayoutError naming the key.
    """
    params = base or RadioParams()
    names = {f.name for f in dataclasses.fields(RadioParams)}
    overrides: dict[str, Any] = {}
    radio: Mapping[str, Any] = layout.radio
    for key, value in radio.items():
        if key not in names:
            continue  # other engineers' radio keys (e.g. calibration) are not ours to judge
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise LayoutError(layout.source, f"radio.{key}", f"must be a number, got {value!r}")
        if key != "path_loss_exponent" and value < 0:
            raise LayoutError(layout.source, f"radio.{key}", f"must be >= 0, got {value!r}")
        if getattr(params, key) == getattr(RadioParams(), key):  # explicit arguments win
            overrides[key] = float(value)
    if params.path_loss_exponent is None:
        overrides["path_loss_exponent"] = layout.path_loss_exponent
    return dataclasses.replace(params, **overrides)


_GROUPS = ("radio", "scan", "crowd")


def apply_setting(config: SimConfig, setting: str) -> SimConfig:
    """``config`` with one "group.name=value" applied (group: radio, scan, crowd).

    Tuples take comma-separated values. Raises SimError naming the setting.
    """
    key, sep, text = setting.partition("=")
    group, _, name = key.strip().partition(".")
    if not sep or group not in _GROUPS:
        raise SimError(f"setting {setting!r}: use GROUP.NAME=VALUE with GROUP one of {_GROUPS}")
    params = getattr(config, group)
    names = {f.name for f in dataclasses.fields(params)}
    if name not in names:
        raise SimError(
            f"setting {key!r}: no such parameter; {group} has {', '.join(sorted(names))}"
        )
    current = getattr(params, name)
    try:
        value: Any
        if isinstance(current, tuple):
            kind = type(current[0]) if current else float
            value = tuple(kind(v) for v in text.split(","))
        elif isinstance(current, str):
            value = text.strip()
        elif isinstance(current, int):
            value = int(text)
        else:
            value = float(text)
    except ValueError as e:
        raise SimError(f"setting {key!r}: cannot read {text!r} as {type(current).__name__}") from e
    return dataclasses.replace(config, **{group: dataclasses.replace(params, **{name: value})})
