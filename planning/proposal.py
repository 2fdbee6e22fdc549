"""The proposed layout as TOML: the original file unchanged, the added radios appended.

Appending keeps the staff's comments and formatting; a TOML array of tables may
continue after other tables, so ``[[beacons]]`` blocks at the end extend the list.
"""

from __future__ import annotations

from pathlib import Path

from planning.mounting import Candidate
from planning.recommend import ADDED_ADV_INTERVAL_MS, Step
from positioning.layout import Layout

__all__ = ["added_ids", "proposal_toml"]


def added_ids(layout: Layout, count: int) -> list[str]:
    """Ids ``p01``, ``p02``... that the layout does not use yet."""
    taken = set(layout.beacon_ids)
    ids: list[str] = []
    n = 1
    while len(ids) < count:
        name = f"p{n:02d}"
        if name not in taken:
            ids.append(name)
        n += 1
    return ids


def proposal_toml(
    layout: Layout, source: Path, steps: list[Step], tx_power_dbm: float, rules: tuple[str, ...]
) -> str:
    text = source.read_text(encoding="utf-8").rstrip("\n")
    lines = [
        text,
        "",
        f"# ---- proposed by `instore plan` (mounting rules: {', '.join(rules)}) ----",
        "# Each added radio with what it buys: position bound median, door decision time.",
    ]
    for rid, step in zip(added_ids(layout, len(steps)), steps, strict=True):
        lines += _block(rid, step.candidate, step, tx_power_dbm)
    return "\n".join(lines) + "\n"


def _block(rid: str, c: Candidate, step: Step, tx_power_dbm: float) -> list[str]:
    a = step.after
    return [
        "",
        f"# {rid}: {c.rule}; then bound median {a.bound_median_m:.2f} m, door decision {a.door_decision_s:.1f} s, "
        f"enter latency {a.enter_latency_s:.1f} s",
        "[[beacons]]",
        f'id = "{rid}"',
        f"x = {c.x_m:.2f}",
        f"y = {c.y_m:.2f}",
        f"z = {c.z_m:.2f}",
        f"tx_power = {tx_power_dbm:g}",
        f"adv_interval_ms = {ADDED_ADV_INTERVAL_MS:g}",
    ]
