"""Where the enter latency goes, as hung and as planned: radio, tracker or presence rules.

For each store, the layout as hung and the planned one (examples/stores/planned/),
seeded simulated days run through the engine three ways: the tracker (what ships), the
true positions as fixes (what the presence rules alone cost: benchmarks/accuracy.py's
``TruthFixes``), and the tracker with ``store.enter_p`` lowered to 0.95 (how much of the
tracker's delay is the enter threshold), with ``street_transit_s`` at 30 s (how much
is the street hypothesis kept alive for a minute) and with the glass modelled
(``shopfront_walls`` = 1), with particles trying the other side of the glass ten times as
often (``front_jump_per_s`` 0.1) and with both of the last changes, and with the door
evidence (``door``, :mod:`positioning.tracker.door`) pooled at weights 0.5, 0.8 and 1, with
``street_transit_s`` 30 s, and with a tighter glass; with the glass modelled together
with the door evidence or the shorter transit; and the presence rules' own variants
(``store.enter_sure_p``, ``settle_s``, ``settle_posterior_s``: "settle posterior 10" is
the posterior's settle before session 28) on the tracker's recorded fixes and on the true
positions, and the came-in-through-the-door test (``store.enter_door_reach_m``: "door path
reach/depth", with its memory and hold; "door path off" is the shipped rule whatever the
defaults), and the hold starting at a lower probability (``store.enter_lead_p``: "lead p"; "near m": only that far along the front from
the entrance, ``store.enter_lead_reach_m``), and a street fix counting towards an exit only
with the posterior at most p (``store.exit_p``: "exit p p"). Only settings change, never code. ``--keep DIR`` keeps the days and the
shipped tracker's fixes, so later rule variants replay them. Figures are means over the seeds,
passers-by summed; the plan's own door figures (radio alone) come first.

    python benchmarks/plan_door.py                        # fashion, seeds 1-3
    python benchmarks/plan_door.py --stores fashion supermarket --seeds 6
    python benchmarks/plan_door.py --layouts planned --planned-dir /tmp/plans   # other planned layouts
"""

from __future__ import annotations

import argparse
import dataclasses
import pickle
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from beacons.observation import ObservationBatch  # noqa: E402
from benchmarks.accuracy import START_S, TruthFixes, locate  # noqa: E402
from planning.plan import make_plan  # noqa: E402
from positioning.engine import EngineOutput, EngineParams  # noqa: E402
from positioning.layout import Layout, load_layout  # noqa: E402
from positioning.locator import Locator, PositionFix  # noqa: E402
from positioning.metrics import Truth, evaluate  # noqa: E402
from positioning.registry import build_locator, locator_config  # noqa: E402
from positioning.tracker.door import DoorParams  # noqa: E402
from sim.obslog import read_observation_log  # noqa: E402
from sim.params import SimConfig  # noqa: E402
from sim.run import simulate  # noqa: E402
from sim.scoring import detected, load_truth, radio_model  # noqa: E402

STORES = REPO / "examples" / "stores"
ENGINES = (
    "tracker",
    "tracker p=0.95",
    "transit 30 s",
    "glass modelled",
    "front jump 0.1",
    "transit+jump",
    "door 0.5",
    "door 0.8",
    "door 0.8+transit",
    "door 1.0",
    "door 0.8 tight glass",
    "glass+door 0.5",
    "glass+door 0.8",
    "glass+transit 30 s",
    "true positions",
    "true sure 0.99",
    "true sure 0.999",
    "sure 0.99",
    "sure 0.999",
    "true sure+settle 5",
    "sure+settle 5",
    "sure+settle 3",
    "door path 6/3",
    "door path 4/3",
    "door path 8/3",
    "door path 6/2",
    "door path 6/3+settle 5",
    "door path 6/3 mem 10",
    "door path 6/3 mem 20",
    "door path 4/3 mem 10",
    "true door path 6/3",
    "door path 6/3 hold 5",
    "door path 6/3 hold 8",
    "door path 6/3 mem 10 hold 5",
    "door path off",
    "settle posterior 10",
    "true settle 5",
    "lead 0.5",
    "lead 0.7",
    "lead 0.8",
    "lead 0.9",
    "true lead 0.5",
    "lead 0.5 near 6",
    "lead 0.7 near 6",
    "lead 0.7 near 4",
    "lead 0.9 near 6",
    "lead 0.7 near 6+door path",
    "exit p 0.5",
    "exit p 0.1",
    "exit p 0.025",
    "lead 0.9 near 6+exit p 0.5",
    "lead 0.9 near 6+exit p 0.1",
    "lead 0.9 near 6+exit p 0.025",
    "lead 0.7 near 6+exit p 0.1",
    "lead 0.9 near 4+exit p 0.025",
    "exit p off",
)


def _tracker(base: EngineParams, **changes: Any) -> EngineParams:
    """The engine with the tracker's parameters changed (no code change: its own settings)."""
    return dataclasses.replace(base, locator=locator_config("tracker", **changes))


class Replayed:
    """A locator's fixes recorded once (``record``), then replayed to other presence rules:
    the rules never feed back into the locator, so its fixes are the same under any store
    settings, and the tracker need not run again for each."""

    def __init__(self, inner: Locator) -> None:
        self.name, self._inner, self._fixes = inner.name, inner, dict[float, PositionFix]()
        self._recording = True

    def observe(self, batch: ObservationBatch) -> None:
        if self._recording:
            self._inner.observe(batch)

    def estimate(self, t_s: float) -> PositionFix:
        if self._recording:
            self._fixes[t_s] = self._inner.estimate(t_s)
        return self._fixes[t_s]  # a KeyError: the engine asked at another epoch

    def forget(self, device_ids: Iterable[str]) -> None:
        if self._recording:
            self._inner.forget(device_ids)

    @property
    def recorded(self) -> bool:
        return not self._recording

    def replay(self) -> Replayed:
        self._recording = False
        return self

    def save(self, path: Path) -> None:
        path.write_bytes(pickle.dumps(self._fixes))

    def load(self, path: Path) -> bool:
        """The fixes recorded by an earlier run (``--keep``), if there are any."""
        if not path.exists():
            return False
        self._fixes, self._recording = pickle.loads(path.read_bytes()), False
        return True


def _store(base: EngineParams, **changes: Any) -> EngineParams:
    """The engine with the store presence rules' settings changed."""
    return dataclasses.replace(base, store=dataclasses.replace(base.store, **changes))


def _settle(seconds: float) -> dict[str, float]:
    """Both settle times (fixes with and without a posterior) at ``seconds``."""
    return {"settle_s": seconds, "settle_posterior_s": seconds}


def kept_day(work: Path, store: Path, seed: int, shoppers: int, minutes: float) -> Path:
    """The folder of one simulated day kept under ``work`` (``--keep``)."""
    return work / f"{store.parent.name}-{store.stem}-{seed}-{shoppers}-{minutes:g}"


def kept_day_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the scripts that study the days a ``--keep`` run kept."""
    parser.add_argument("--keep", type=Path, required=True)
    parser.add_argument("--stores", nargs="+", default=["fashion"])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--shoppers", type=int, default=30)
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--planned-dir", type=Path, default=STORES / "planned" / "street-plan")


#: The shipped tracker's fixes of a kept day (``Replayed.save``), beside its simulation.
FIXES_FILE = "tracker-fixes.pickle"


def kept_fixes(sim_dir: Path) -> dict[float, PositionFix]:
    """A kept day's recorded tracker fixes, by epoch."""
    fixes: dict[float, PositionFix] = pickle.loads((sim_dir / FIXES_FILE).read_bytes())
    return fixes


def replay_kept_day(
    store: Path, sim_dir: Path, seed: int, params: EngineParams | None = None
) -> tuple[Layout, Truth, dict[float, PositionFix], EngineOutput]:
    """A kept day's recorded tracker fixes through the engine under ``params``' presence rules:
    the layout, the truth, the fixes by epoch and the engine's output."""
    layout = load_layout(store)
    tracker = Replayed(build_locator(locator_config("tracker"), layout, seed=seed))
    tracker.load(sim_dir / FIXES_FILE)
    log = read_observation_log(sim_dir, beacon_ids=layout.beacon_ids)
    out, _ = locate(store, log.batch, tracker, seed, params or EngineParams())
    return layout, load_truth(sim_dir), kept_fixes(sim_dir), out


def day(
    store: Path, seed: int, work: Path, shoppers: int, minutes: float, engines: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    sim_dir = kept_day(work, store, seed, shoppers, minutes)
    config = SimConfig(shoppers=shoppers, duration_s=minutes * 60, start_s=START_S, seed=seed)
    if not (sim_dir / "meta.json").exists():  # kept from an earlier run (--keep)
        simulate(store, config, sim_dir)
    layout = load_layout(store)
    log = read_observation_log(sim_dir, beacon_ids=layout.beacon_ids)
    truth = load_truth(sim_dir)
    base = EngineParams()
    cautious_less = dataclasses.replace(base, store=dataclasses.replace(base.store, enter_p=0.95))
    runs: dict[str, tuple[str | Locator, EngineParams]] = {
        "tracker": ("tracker", base),
        "tracker p=0.95": ("tracker", cautious_less),
        "transit 30 s": ("tracker", _tracker(base, street_transit_s=30.0)),
        "glass modelled": ("tracker", _tracker(base, shopfront_walls=1.0)),
        "front jump 0.1": ("tracker", _tracker(base, front_jump_per_s=0.1)),
        "transit+jump": ("tracker", _tracker(base, street_transit_s=30.0, front_jump_per_s=0.1)),
        "door 0.5": ("tracker", _tracker(base, door=DoorParams(weight=0.5))),
        "door 0.8": ("tracker", _tracker(base, door=DoorParams(weight=0.8))),
        "door 0.8+transit": (
            "tracker",
            _tracker(base, door=DoorParams(weight=0.8), street_transit_s=30.0),
        ),
        "door 1.0": ("tracker", _tracker(base, door=DoorParams(weight=1.0))),
        "door 0.8 tight glass": (
            "tracker",
            _tracker(base, door=DoorParams(weight=0.8, glass_leak=0.001)),
        ),
        "glass+door 0.5": (
            "tracker",
            _tracker(base, shopfront_walls=1.0, door=DoorParams(weight=0.5)),
        ),
        "glass+door 0.8": (
            "tracker",
            _tracker(base, shopfront_walls=1.0, door=DoorParams(weight=0.8)),
        ),
        "glass+transit 30 s": (
            "tracker",
            _tracker(base, shopfront_walls=1.0, street_transit_s=30.0),
        ),
        "true positions": (TruthFixes(truth), base),
        # the presence rules' hold skipped for sure evidence (positioning.visits.store)
        "true sure 0.99": (TruthFixes(truth), _store(base, enter_sure_p=0.99)),
        "true sure 0.999": (TruthFixes(truth), _store(base, enter_sure_p=0.999)),
        "sure 0.99": ("tracker", _store(base, enter_sure_p=0.99)),
        "sure 0.999": ("tracker", _store(base, enter_sure_p=0.999)),
        # settle_s for every fix (with a posterior or not) as in session 27
        "true sure+settle 5": (TruthFixes(truth), _store(base, enter_sure_p=0.99, settle_s=5.0)),
        "sure+settle 5": ("tracker", _store(base, enter_sure_p=0.99, **_settle(5.0))),
        "sure+settle 3": ("tracker", _store(base, enter_sure_p=0.99, **_settle(3.0))),
        # the posterior's settle as before session 28 (10 s); fixes without a posterior
        # (true positions) settled 5 s like the posterior's
        "settle posterior 10": ("tracker", _store(base, settle_posterior_s=10.0)),
        "true settle 5": (TruthFixes(truth), _store(base, settle_s=5.0)),
        # a fix that came inside away from the door counts only deeper (reach m / depth m)
        "door path 6/3": ("tracker", _store(base, enter_door_reach_m=6.0)),
        "door path 4/3": ("tracker", _store(base, enter_door_reach_m=4.0)),
        "door path 8/3": ("tracker", _store(base, enter_door_reach_m=8.0)),
        "door path 6/2": ("tracker", _store(base, enter_door_reach_m=6.0, enter_far_depth_m=2.0)),
        "door path 6/3+settle 5": ("tracker", _store(base, enter_door_reach_m=6.0, **_settle(5.0))),
        "door path 6/3 mem 10": (
            "tracker",
            _store(base, enter_door_reach_m=6.0, enter_door_memory_s=10.0),
        ),
        "door path 6/3 mem 20": (
            "tracker",
            _store(base, enter_door_reach_m=6.0, enter_door_memory_s=20.0),
        ),
        "door path 4/3 mem 10": (
            "tracker",
            _store(base, enter_door_reach_m=4.0, enter_door_memory_s=10.0),
        ),
        "door path 6/3 hold 5": (
            "tracker",
            _store(base, enter_door_reach_m=6.0, enter_far_hold_s=5.0),
        ),
        "door path 6/3 hold 8": (
            "tracker",
            _store(base, enter_door_reach_m=6.0, enter_far_hold_s=8.0),
        ),
        "door path 6/3 mem 10 hold 5": (
            "tracker",
            _store(base, enter_door_reach_m=6.0, enter_door_memory_s=10.0, enter_far_hold_s=5.0),
        ),
        "door path off": ("tracker", _store(base, enter_door_reach_m=None)),
        "true door path 6/3": (TruthFixes(truth), _store(base, enter_door_reach_m=6.0)),
        # the hold may start at a lower probability (store.enter_lead_p)
        "lead 0.5": ("tracker", _store(base, enter_lead_p=0.5)),
        "lead 0.7": ("tracker", _store(base, enter_lead_p=0.7)),
        "lead 0.8": ("tracker", _store(base, enter_lead_p=0.8)),
        "lead 0.9": ("tracker", _store(base, enter_lead_p=0.9)),
        "true lead 0.5": (TruthFixes(truth), _store(base, enter_lead_p=0.5)),
        # ... only near the entrance (store.enter_lead_reach_m)
        "lead 0.5 near 6": ("tracker", _store(base, enter_lead_p=0.5, enter_lead_reach_m=6.0)),
        "lead 0.7 near 6": ("tracker", _store(base, enter_lead_p=0.7, enter_lead_reach_m=6.0)),
        "lead 0.7 near 4": ("tracker", _store(base, enter_lead_p=0.7, enter_lead_reach_m=4.0)),
        "lead 0.9 near 6": ("tracker", _store(base, enter_lead_p=0.9, enter_lead_reach_m=6.0)),
        "lead 0.7 near 6+door path": (
            "tracker",
            _store(
                base,
                enter_lead_p=0.7,
                enter_lead_reach_m=6.0,
                enter_door_reach_m=6.0,
                enter_door_memory_s=10.0,
                enter_far_hold_s=5.0,
            ),
        ),
        # a fix in the street counts towards an exit only with the posterior at most p
        # (store.exit_p), alone and with the lead
        **{f"exit p {p:g}": ("tracker", _store(base, exit_p=p)) for p in (0.5, 0.1, 0.025)},
        **{
            f"lead {lead:g} near 6+exit p {p:g}": (
                "tracker",
                _store(base, enter_lead_p=lead, enter_lead_reach_m=6.0, exit_p=p),
            )
            for lead, p in ((0.9, 0.5), (0.9, 0.1), (0.9, 0.025), (0.7, 0.1))
        },
        "exit p off": ("tracker", _store(base, exit_p=None)),  # the depth rule alone
        "lead 0.9 near 4+exit p 0.025": (
            "tracker",
            _store(base, enter_lead_p=0.9, enter_lead_reach_m=4.0, exit_p=0.025),
        ),
    }
    out = {}
    tracker = Replayed(build_locator(locator_config("tracker"), layout, seed=seed))
    fixes_file = sim_dir / FIXES_FILE
    tracker.load(fixes_file)
    runs["tracker"] = (tracker, base)
    for name, (locator, params) in runs.items():
        if name not in engines:
            continue
        # the shipped tracker's fixes, other rules
        if name.startswith(("sure", "door path", "settle", "lead", "exit")):
            if not tracker.recorded:
                locate(store, log.batch, tracker, seed, base)
                tracker.replay().save(fixes_file)
            locator = tracker
        recording = locator is tracker and not tracker.recorded
        result, _ = locate(store, log.batch, locator, seed, params)
        if recording:
            tracker.replay().save(fixes_file)
        p = result.positions
        found = detected(
            p.t_s, p.device_id, np.column_stack([p.x_m, p.y_m]), p.zone, list(result.events)
        )
        out[name] = evaluate(truth, found, layout, radio_model(sim_dir, layout))
    return out


def summary(reports: list[dict[str, Any]]) -> str:
    def mean(*path: str) -> float:
        values = []
        for r in reports:
            v: Any = r
            for k in path:
                v = v[k]
            if v is not None and np.isfinite(v):
                values.append(float(v))
        return float(np.mean(values)) if values else float("nan")

    passers = sum(r["visits"]["passersby_counted_as_visitors"] for r in reports)
    extra = sum(r["visits"]["extra_visits"] for r in reports)
    visits = sum(r["visits"]["detected_visits"] for r in reports)
    return (
        f"{mean('visits', 'enter_latency', 'median_s'):6.1f} {mean('visits', 'enter_latency', 'p90_s'):6.1f} "
        f"{passers:5d} {mean('zone_accuracy'):5.2f} {mean('position_error_in_store', 'median_m'):5.2f} {extra:5d} {mean('visits', 'enter_recall'):5.2f} "
        f"{mean('visits', 'exit_latency', 'median_s'):6.1f} {mean('visits', 'exit_latency', 'p90_s'):6.1f} "
        f"{mean('visits', 'exit_recall'):5.2f} {visits:5d}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", nargs="+", default=["fashion"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--first-seed", type=int, default=1, help="seeds first-seed .. first-seed + seeds - 1"
    )
    parser.add_argument("--shoppers", type=int, default=30)
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument(
        "--layouts", nargs="+", default=["as hung", "planned"], choices=["as hung", "planned"]
    )
    parser.add_argument(
        "--planned-dir",
        type=Path,
        default=STORES / "planned",
        help="folder of the planned layouts, <store>.toml (default: examples/stores/planned)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="folder that keeps the simulated days and the shipped tracker's fixes between runs "
        "(rule variants then replay them without running the tracker again)",
    )
    args = parser.parse_args()
    print(
        f"{'store':12} {'layout':8} {'engine':15} {'enter p50':>6} {'p90':>6} {'pass':>5} {'zone':>5} {'err m':>5} {'extra':>5} {'recall':>5} {'exit p50':>6} {'p90':>6} {'exrec':>5} {'vis':>5}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for name in args.stores:
            for label, store in (
                ("as hung", STORES / f"{name}.toml"),
                ("planned", args.planned_dir / f"{name}.toml"),
            ):
                if label not in args.layouts:
                    continue
                plan = make_plan(store, 0).before
                print(
                    f"{name:12} {label:8} radio alone: door decision {plan.door_decision_s:.1f} s, "
                    f"walk-in {plan.enter_latency_s:.1f} s"
                )
                days = [
                    day(store, s, work, args.shoppers, args.minutes, tuple(args.engines))
                    for s in range(args.first_seed, args.first_seed + args.seeds)
                ]
                for engine in days[0]:
                    print(
                        f"{name:12} {label:8} {engine:15} {summary([d[engine] for d in days])}",
                        flush=True,
                    )
    print(
        "\nenter p50/p90: mean over seeds of the store.enter latency after the true crossing (s); pass: "
        "passers-by counted as visitors (sum); zone: zone accuracy; err: in-store median error; "
        "extra: detected visits matching no true visit (flapping, ghosts; sum); recall: enter recall; "
        "exit p50/p90: mean over seeds of the store.exit detection after the true exit (s); exrec: "
        "exit recall; vis: detected visits (sum)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
