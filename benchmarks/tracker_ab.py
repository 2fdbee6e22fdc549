"""Two checkouts' trackers in one process, epochs alternated: a throughput ratio that holds
on a shared, loaded machine (both see the same load, second by second).

    git archive main | tar -x -C /tmp/base     # and the branch to compare, likewise
    python benchmarks/tracker_ab.py /tmp/base /tmp/branch --sim DIR [--span 60] [--reps 4]

DIR: ``instore simulate --store examples/stores/fashion.toml --shoppers 30 --duration 20m
--seed 3`` (as :mod:`bench_locate`). The first ``--span`` seconds of the day are replicated
to ``--devices`` concurrent devices, as the scale row of ``bench_locate.py``; each epoch is
run by A and B in turn (who goes first alternates), and the CPU time of each tracker's
``observe`` + ``estimate`` is summed. Prints A/B per repetition and overall (> 1: B is faster).
"""

# ruff: noqa: E402  (the thread limits below must be set before numpy is imported)
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PACKAGES = ("positioning", "beacons", "sim", "presence", "planning", "analytics")


def load_checkout(root: Path) -> tuple[Callable[..., Any], Callable[[Path], Any]]:
    """``make_locator`` and ``load_layout`` of the checkout at ``root``, its modules then
    taken out of ``sys.modules`` so that the next checkout imports its own."""
    sys.path.insert(0, str(root))
    from positioning.layout import load_layout
    from positioning.registry import make_locator

    for name in [m for m in sys.modules if m.split(".")[0] in PACKAGES]:
        del sys.modules[name]
    sys.path.remove(str(root))
    return make_locator, load_layout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a", type=Path, help="checkout A (e.g. main)")
    ap.add_argument("b", type=Path, help="checkout B (e.g. the branch)")
    ap.add_argument("--sim", type=Path, required=True, help="a simulation directory")
    ap.add_argument("--store", default="examples/stores/fashion.toml")
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--span", type=float, default=60.0, help="seconds of the day replayed")
    ap.add_argument("--reps", type=int, default=4)
    args = ap.parse_args()
    make_a, layout_a = load_checkout(args.a)
    make_b, layout_b = load_checkout(args.b)
    sys.path.insert(0, str(args.b))
    sys.path.insert(0, str(args.b / "benchmarks"))
    import bench_locate

    from sim.obslog import read_observation_log

    lay_a, lay_b = layout_a(args.a / args.store), layout_b(args.b / args.store)
    log = read_observation_log(args.sim, lay_b.beacon_ids)
    big = bench_locate.replicated(log.batch, args.devices, span_s=args.span)
    chunks = bench_locate.epochs(big)
    total = [0.0, 0.0]
    for rep in range(args.reps):
        trackers = (make_a("tracker", lay_a, seed=0), make_b("tracker", lay_b, seed=0))
        spent = [0.0, 0.0]
        for i, (t_s, rows) in enumerate(chunks):
            for which in (0, 1) if (i + rep) % 2 == 0 else (1, 0):
                start = time.process_time()
                trackers[which].observe(rows)
                trackers[which].estimate(t_s)
                spent[which] += time.process_time() - start
        total = [total[0] + spent[0], total[1] + spent[1]]
        print(f"rep {rep}: A {spent[0]:.3f} s, B {spent[1]:.3f} s, A/B {spent[0] / spent[1]:.3f}")
    obs = len(big) * args.reps
    print(
        f"all: A/B {total[0] / total[1]:.3f}; A {obs / total[0]:,.0f} obs/s, "
        f"B {obs / total[1]:,.0f} obs/s ({len(big):,} observations a run)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
