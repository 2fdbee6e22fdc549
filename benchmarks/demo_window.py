"""The demo's scan window and engine reorder buffer: what 1 s -> 0.5 s changes.

A seeded simulated window of the planned fashion store, sent as the demo's replay sends
it (one message per device per window, :func:`presence.services.replay.scans`) into an
engine whose reorder buffer equals the window: rows late, whether the events (ids) equal
a batch run's, and how much sooner each store.enter is detected.

    python benchmarks/demo_window.py --seed 5
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.accuracy import START_S, locate  # noqa: E402
from positioning.engine import Engine, EngineOutput, EngineParams  # noqa: E402
from positioning.events import STORE_ENTER, PresenceEvent  # noqa: E402
from positioning.layout import load_layout  # noqa: E402
from presence.services.replay import scans  # noqa: E402
from sim.obslog import read_observation_log  # noqa: E402
from sim.params import SimConfig  # noqa: E402
from sim.run import simulate  # noqa: E402

STORE = REPO / "examples" / "stores" / "planned" / "fashion.toml"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--shoppers", type=int, default=15)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    layout = load_layout(STORE)
    events: dict[float, dict[str, PresenceEvent]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        day = Path(tmp) / "day"
        config = SimConfig(
            shoppers=args.shoppers, duration_s=args.minutes * 60, start_s=START_S, seed=args.seed
        )
        simulate(STORE, config, day)
        batch = read_observation_log(day, beacon_ids=layout.beacon_ids).batch
    for window_s in (1.0, 0.5):
        engine = Engine(layout, EngineParams(reorder_s=window_s), locator="tracker", seed=1)
        outs = [engine.push(scan.to_batch()) for scan in scans(batch, window_s)]
        live = EngineOutput.concat([*outs, engine.finish()])
        ref, _ = locate(STORE, batch, "tracker", 1, EngineParams(reorder_s=window_s))
        same = [e.id for e in live.events] == [e.id for e in ref.events]
        events[window_s] = {e.id: e for e in live.events}
        print(
            f"window and buffer {window_s} s: rows late {engine.stats['rows_late']}, "
            f"events {len(live.events)}, same ids as a batch run: {same}"
        )
    old, new = events[1.0], events[0.5]
    enters = [k for k, e in old.items() if e.type == STORE_ENTER and k in new]
    sooner = np.array([old[k].detected_at_s - new[k].detected_at_s for k in enters])
    print(f"same event ids with both windows: {set(old) == set(new)}")
    print(
        f"store.enter detected sooner by: median {np.median(sooner):.2f} s, "
        f"min {sooner.min():.2f} s, max {sooner.max():.2f} s ({len(sooner)} enters)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
